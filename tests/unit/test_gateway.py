"""The model gateway against the real simulator, in-process: routing, limits, faults, cache."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fakes import FakeClock
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda
from structlog.testing import CapturingLogger

import gateway.attempt as gateway_attempt
import gateway.cache as gateway_cache
import gateway.call as gateway_call
import gateway.clients as gateway_clients
import gateway.gateway as gateway_module
import gateway.result as gateway_result
import gateway.routing as gateway_routing
from gateway.errors import (
    GatewayError,
    InvalidModelOutput,
    ModelCallFailed,
    ProviderRejected,
    ProviderUnavailable,
)
from gateway.gateway import ModelGateway, ModelResult
from gateway.registry import BreakerSettings, GatewaySettings, TierConfig
from gateway.secrets import FileSecretStore, SecretProvider
from simulator.app import create_app
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from simulator.transport import simulator_transports
from state.schemas import IntentClassification, RefundDecision, TicketEntities
from telemetry.metrics import REGISTRY

TICKET = "<ticket>Order ORD-10002 arrived broken. Please refund $120.</ticket>"


def messages(text: str = TICKET) -> list[BaseMessage]:
    return [SystemMessage("Answer with the requested JSON."), HumanMessage(text)]


class RecordingApp:
    """ASGI wrapper around the simulator's app: records headers, can hold requests."""

    def __init__(self, sim: Simulator) -> None:
        self.inner = create_app(sim)
        self.authorizations: list[str] = []
        self.hosts: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/chat/completions"):
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.authorizations.append(headers.get("authorization", ""))
            self.hosts.append(headers.get("host", ""))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if self.gate is not None:
                    await self.gate.wait()
                await self.inner(scope, receive, send)
            finally:
                self.in_flight -= 1
            return
        await self.inner(scope, receive, send)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def settings_for(tmp_path: Path, **env: str) -> GatewaySettings:
    return GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(tmp_path / "cache.db"), **env})


Factory = Callable[..., ModelGateway]


@pytest.fixture
async def build(tmp_path: Path) -> AsyncIterator[Factory]:
    """Build gateways on the sim profile; closes them after the test."""
    made: list[ModelGateway] = []

    def factory(
        sim: Simulator,
        *,
        settings: GatewaySettings | None = None,
        clock: FakeClock | None = None,
        app: Any = None,
        secrets: SecretProvider | None = None,
    ) -> ModelGateway:
        settings = settings or settings_for(tmp_path)
        transports = (
            simulator_transports(settings, sim)
            if app is None
            else {
                e.name: httpx.ASGITransport(app=app)
                for e in settings.profile.endpoints
                if e.in_process
            }
        )
        gw = ModelGateway(
            settings,
            transports=transports,
            secrets=secrets,
            clock=clock or time.monotonic,
            sleep=clock.sleep if clock else asyncio.sleep,
            rng=random.Random(7),
        )
        made.append(gw)
        return gw

    yield factory
    for gw in made:
        await gw.aclose()


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> CapturingLogger:
    """Capture the gateway's log lines, rendered to JSON as in production."""
    capture = CapturingLogger()
    logger = structlog.wrap_logger(
        capture,
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.JSONRenderer(),
        ],
    )
    modules = (gateway_module, gateway_attempt, gateway_cache, gateway_call, gateway_clients)
    modules += (gateway_result, gateway_routing)
    for module in modules:
        monkeypatch.setattr(module, "log", logger)
    return capture


def events(capture: CapturingLogger, name: str | None = None) -> list[dict[str, Any]]:
    lines = [json.loads(call.args[0]) for call in capture.calls]
    return [line for line in lines if name is None or line["event"] == name]


def new_sim(spec: str = "", **kwargs: Any) -> Simulator:
    return Simulator(FaultSpec.parse(spec), ErrorModel.ideal(), **kwargs)


async def classify(gw: ModelGateway, text: str = TICKET, **kwargs: Any) -> ModelResult:
    return await gw.invoke_structured(
        agent="classify_intent", schema=IntentClassification, messages=messages(text), **kwargs
    )


async def decide(gw: ModelGateway, text: str = TICKET, **kwargs: Any) -> ModelResult:
    return await gw.invoke_structured(
        agent="decide_refund", schema=RefundDecision, messages=messages(text), **kwargs
    )


# --- serving ---------------------------------------------------------------------------------


async def test_serves_from_the_first_endpoint_of_the_agents_tier(
    build: Factory, captured: CapturingLogger
) -> None:
    sim = new_sim()
    gw = build(sim)
    ok_before = sample("conductor_model_calls_total", endpoint="sim-small-a", outcome="ok")
    cost_before = sample("conductor_cost_usd_total", agent="classify_intent", model="sim-small")
    result = await classify(gw)
    assert isinstance(result.output, IntentClassification)
    assert (result.endpoint, result.model, result.tier) == ("sim-small-a", "sim-small", "small")
    assert not result.fallback_tier and not result.cached
    assert result.calls == 1
    assert result.usage["input_tokens"] > 0 and result.usage["output_tokens"] > 0
    expected = (result.usage["input_tokens"] * 0.15 + result.usage["output_tokens"] * 0.60) / 1e6
    assert result.cost_usd == pytest.approx(expected)
    assert result.duration_ms > 0
    assert (
        sample("conductor_model_calls_total", endpoint="sim-small-a", outcome="ok") == ok_before + 1
    )
    assert sample(
        "conductor_cost_usd_total", agent="classify_intent", model="sim-small"
    ) == pytest.approx(cost_before + expected)
    (line,) = events(captured, "model_call")
    assert line["result_status"] == "ok"
    assert line["token_usage"] == result.usage
    assert line["credential"] == "classify_intent"
    assert line["simulated"] is True
    for key in ("endpoint", "model", "tier", "duration_ms", "cost_usd", "agent"):
        assert key in line


async def test_tier_argument_overrides_the_registry(build: Factory) -> None:
    gw = build(new_sim())
    result = await classify(gw, tier="large")
    assert (result.endpoint, result.tier, result.fallback_tier) == ("sim-large-a", "large", False)
    assert (await decide(gw)).endpoint == "sim-large-a"


async def test_unknown_agent_needs_a_tier(build: Factory) -> None:
    gw = build(new_sim())
    with pytest.raises(GatewayError, match="not in the model registry"):
        await gw.invoke_structured(agent="mystery", schema=TicketEntities, messages=messages())
    result = await gw.invoke_structured(
        agent="mystery", schema=TicketEntities, messages=messages(), tier="small"
    )
    assert isinstance(result.output, TicketEntities)
    with pytest.raises(GatewayError, match="unknown tier"):
        await classify(gw, tier="medium")


# --- fallbacks -------------------------------------------------------------------------------


async def test_fallback_order_then_the_large_tier_flagged(
    build: Factory, captured: CapturingLogger
) -> None:
    sim = new_sim("down=small")
    gw = build(sim)
    result = await classify(gw)
    assert [e["endpoint"] for e in events(captured, "model_call")] == [
        "sim-small-a",
        "sim-small-b",
        "sim-large-a",
    ]
    assert (result.endpoint, result.tier, result.fallback_tier) == ("sim-large-a", "large", True)
    assert result.calls == 3
    expected = (result.usage["input_tokens"] * 2.5 + result.usage["output_tokens"] * 10.0) / 1e6
    assert result.cost_usd == pytest.approx(expected)
    assert sim.stats()["requests"] == {"sim-small": {"down": 2}, "sim-large": {"ok": 1}}


async def test_fallback_order_is_configuration(
    build: Factory, tmp_path: Path, captured: CapturingLogger
) -> None:
    settings = settings_for(tmp_path)
    tiers = dict(settings.profile.tiers)
    tiers["small"] = TierConfig(
        fallback_order=("sim-small-b", "sim-small-a"), fallback_tier="large"
    )
    settings = settings.with_overrides(profile=settings.profile.model_copy(update={"tiers": tiers}))
    gw = build(new_sim("down=small"), settings=settings)
    await classify(gw)
    assert [e["endpoint"] for e in events(captured, "model_call")] == [
        "sim-small-b",
        "sim-small-a",
        "sim-large-a",
    ]


async def test_without_fallback_tier_small_stays_small(build: Factory, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    tiers = dict(settings.profile.tiers)
    tiers["small"] = TierConfig(fallback_order=("sim-small-a", "sim-small-b"))
    settings = settings.with_overrides(profile=settings.profile.model_copy(update={"tiers": tiers}))
    sim = new_sim("down=small")
    gw = build(sim, settings=settings)
    with pytest.raises(ModelCallFailed, match="HTTP 503"):
        await classify(gw)
    assert "sim-large" not in sim.stats()["requests"]


async def test_never_falls_back_from_large_to_small(build: Factory, tmp_path: Path) -> None:
    sim = new_sim("down=large")
    gw = build(sim, settings=settings_for(tmp_path).with_retry(backoff_base_s=0))
    with pytest.raises(ModelCallFailed):
        await decide(gw)
    assert set(sim.stats()["requests"]) == {"sim-large"}


# --- circuit breaker -------------------------------------------------------------------------


async def test_circuit_opens_after_five_failures_and_lets_nothing_through(
    build: Factory,
) -> None:
    clock = FakeClock()
    sim = new_sim("down=large", clock=clock)
    gw = build(sim, clock=clock)
    with pytest.raises(ModelCallFailed):
        await decide(gw)  # 3 failures
    with pytest.raises(ProviderUnavailable) as info:
        await decide(gw)  # 2 more: the circuit opens, nothing else can serve
    assert "circuit open" in info.value.reasons["sim-large-a"]
    assert sim.stats()["requests_total"] == 5
    assert gw.health()["sim-large-a"]["state"] == "open"
    assert sample("conductor_circuit_state", endpoint="sim-large-a") == 2
    blocked_before = sample(
        "conductor_model_calls_total", endpoint="sim-large-a", outcome="circuit_open"
    )
    clock.now += 29.5
    with pytest.raises(ProviderUnavailable):
        await decide(gw)
    assert sim.stats()["requests_total"] == 5  # no request while open
    assert (
        sample("conductor_model_calls_total", endpoint="sim-large-a", outcome="circuit_open")
        == blocked_before + 1
    )
    clock.now += 0.5
    assert gw.health()["sim-large-a"]["state"] == "half_open"
    sim.set_faults(FaultSpec())
    result = await decide(gw)
    assert result.endpoint == "sim-large-a"
    assert gw.health()["sim-large-a"]["state"] == "closed"
    assert sample("conductor_circuit_state", endpoint="sim-large-a") == 0


async def test_half_open_lets_at_most_three_trials_through(build: Factory, tmp_path: Path) -> None:
    sim = new_sim("down=large")
    app = RecordingApp(sim)
    settings = settings_for(tmp_path).with_endpoint(
        "sim-large-a", breaker=BreakerSettings(recovery_timeout_s=0.1)
    )
    gw = build(sim, settings=settings.with_retry(backoff_base_s=0), app=app)
    for _ in range(2):
        with pytest.raises(GatewayError):
            await decide(gw)
    assert gw.health()["sim-large-a"]["state"] == "open"
    await asyncio.sleep(0.15)
    sim.set_faults(FaultSpec())
    app.gate, app.max_in_flight = asyncio.Event(), 0
    calls = [asyncio.create_task(decide(gw, f"{TICKET} #{i}")) for i in range(5)]
    await asyncio.sleep(0.2)
    assert app.in_flight == 3
    assert gw.health()["sim-large-a"]["trials_in_flight"] == 3
    app.gate.set()
    results = await asyncio.gather(*calls)
    assert app.max_in_flight == 3
    assert all(r.endpoint == "sim-large-a" for r in results)
    assert gw.health()["sim-large-a"]["state"] == "closed"


async def test_invalid_json_is_not_a_breaker_failure(build: Factory) -> None:
    sim = new_sim("garbage_rate=1.0")
    gw = build(sim)
    before = sample("conductor_model_calls_total", endpoint="sim-small-a", outcome="invalid")
    for _ in range(6):
        with pytest.raises(InvalidModelOutput) as info:
            await classify(gw)
        assert info.value.endpoint == "sim-small-a"
        assert info.value.agent == "classify_intent"
    assert sim.stats()["requests_total"] == 6  # one call each: no retry on a bad answer
    assert gw.health()["sim-small-a"]["state"] == "closed"
    assert gw.health()["sim-small-a"]["failures"] == 0
    assert (
        sample("conductor_model_calls_total", endpoint="sim-small-a", outcome="invalid")
        == before + 6
    )


# --- rate limits -----------------------------------------------------------------------------


async def test_retry_after_is_honoured(build: Factory, captured: CapturingLogger) -> None:
    clock = FakeClock()
    sim = new_sim("rate_limit_rate=0.3,retry_after=2,seed=3", clock=clock)
    gw = build(sim, clock=clock)
    started = clock.now

    async def one(i: int) -> ModelResult | GatewayError:
        try:
            return await classify(gw, f"{TICKET} (ticket {i})")
        except GatewayError as exc:
            return exc

    outcomes = await asyncio.gather(*(one(i) for i in range(30)))
    stats = sim.stats()
    assert stats["outcomes"]["rate_limited"] > 0
    assert stats["early_retries"] == 0
    assert clock.now - started >= 2.0  # it waited out the Retry-After
    served = [o for o in outcomes if isinstance(o, ModelResult)]
    assert len(served) >= 25
    assert all(r.calls <= 3 for r in served)
    # Whatever was not served failed within its bounds (attempts or budget), said so.
    assert all(
        isinstance(o, ModelCallFailed | ProviderUnavailable) for o in outcomes if o not in served
    )
    limited = [e for e in events(captured, "model_call") if e["result_status"] == "rate_limited"]
    assert len(limited) == stats["outcomes"]["rate_limited"]
    assert gw.health()["sim-small-a"]["rate_limited"] == len(
        [e for e in limited if e["tier"] == "small"]
    )


async def test_retry_after_beyond_the_budget_is_not_waited_for(build: Factory) -> None:
    clock = FakeClock()
    sim = new_sim("rate_limit_rate=1.0,retry_after=120", clock=clock)
    gw = build(sim, clock=clock)
    started = clock.now
    with pytest.raises(ProviderUnavailable) as info:
        await decide(gw)
    assert "rate-limited" in info.value.reasons["sim-large-a"]
    assert sim.stats()["requests_total"] == 1
    assert clock.now - started < 1.0
    health = gw.health()["sim-large-a"]
    assert health["held_for_s"] == pytest.approx(120, abs=1)
    assert health["not_before"] is not None
    with pytest.raises(ProviderUnavailable):
        await decide(gw, "another ticket")
    assert sim.stats()["requests_total"] == 1
    assert sim.stats()["early_retries"] == 0


async def test_the_request_bucket_spaces_calls(build: Factory, tmp_path: Path) -> None:
    clock = FakeClock()
    settings = settings_for(tmp_path, CONDUCTOR_CACHE="off").with_endpoint("sim-large-a", rps=1.0)
    gw = build(new_sim(clock=clock), settings=settings, clock=clock)
    started = clock.now
    for i in range(4):
        await decide(gw, f"ticket {i}")
    assert clock.now - started == pytest.approx(3.0, abs=0.01)


# --- timeouts --------------------------------------------------------------------------------


async def test_a_hang_is_cut_at_the_agent_timeout(build: Factory, tmp_path: Path) -> None:
    sim = new_sim("timeout_rate=1.0,hang_seconds=5")
    settings = settings_for(tmp_path).with_agent("classify_intent", timeout_s=0.2)
    gw = build(sim, settings=settings)
    timeouts_before = sample(
        "conductor_model_calls_total", endpoint="sim-small-a", outcome="timeout"
    )
    started = time.monotonic()
    with pytest.raises(ModelCallFailed, match="no answer in"):
        await classify(gw)
    assert time.monotonic() - started < 1.5
    assert sim.stats()["outcomes"] == {"hang": 3}
    health = gw.health()
    assert [health[n]["failures"] for n in ("sim-small-a", "sim-small-b", "sim-large-a")] == [
        1,
        1,
        1,
    ]
    assert (
        sample("conductor_model_calls_total", endpoint="sim-small-a", outcome="timeout")
        == timeouts_before + 1
    )


async def test_after_a_hang_the_next_endpoint_serves(build: Factory, tmp_path: Path) -> None:
    sim = new_sim("timeout_rate=0.5,hang_seconds=5,seed=6")
    settings = settings_for(tmp_path, CONDUCTOR_CACHE="off").with_agent(
        "classify_intent", timeout_s=0.2
    )
    gw = build(sim, settings=settings)
    result = await gw.invoke_structured(
        agent="classify_intent",
        schema=IntentClassification,
        messages=[
            SystemMessage("Classify the ticket."),
            HumanMessage("<ticket>My parcel ORD-10002 never arrived.</ticket>"),
        ],
    )
    assert sim.stats()["outcomes"] == {"hang": 1, "ok": 1}
    assert (result.endpoint, result.calls, result.fallback_tier) == ("sim-small-b", 2, False)


# --- cache -----------------------------------------------------------------------------------


async def test_a_cacheable_answer_is_held_pending_until_its_gate_confirms_it(
    build: Factory,
) -> None:
    sim = new_sim()
    gw = build(sim)
    hits_before = sample("conductor_cache_hits_total", agent="classify_intent")
    first = await classify(gw)
    assert not first.cached and first.cache_key is not None
    second = await classify(gw)  # nothing confirmed yet: not a hit
    assert not second.cached and second.cache_key is not None
    assert second.cache_key != first.cache_key  # a token per answer
    assert sim.stats()["requests_total"] == 2
    await gw.confirm_cached(second.cache_key)
    third = await classify(gw)
    assert third.cached and third.cache_key is None
    assert third.output == second.output
    assert (third.calls, third.cost_usd, third.endpoint) == (0, 0.0, "sim-small-a")
    assert sim.stats()["requests_total"] == 2
    assert sample("conductor_cache_hits_total", agent="classify_intent") == hits_before + 1
    await gw.confirm_cached(second.cache_key)  # already written and forgotten: no-op
    await gw.confirm_cached("no-such-key")
    different = await classify(gw, "<ticket>Where is my order ORD-10003?</ticket>")
    assert not different.cached and different.cache_key is not None


async def test_a_discarded_answer_never_reaches_the_cache(build: Factory) -> None:
    sim = new_sim()
    gw = build(sim)
    first = await classify(gw)
    assert first.cache_key is not None
    gw.discard_cached(first.cache_key)
    gw.discard_cached(first.cache_key)  # unknown now: no-op
    await gw.confirm_cached(first.cache_key)  # forgotten: writes nothing
    again = await classify(gw)
    assert not again.cached
    assert sim.stats()["requests_total"] == 2


async def test_confirm_writes_the_answer_that_passed_not_a_later_one(build: Factory) -> None:
    sim = new_sim()
    gw = build(sim)
    good = await classify(gw)
    later = await classify(gw)
    assert good.cache_key is not None and later.cache_key is not None
    await gw.confirm_cached(good.cache_key)
    gw.discard_cached(later.cache_key)
    hit = await classify(gw)
    assert hit.cached and hit.output == good.output


async def test_pending_answers_are_bounded_oldest_dropped(
    build: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_cache, "MAX_PENDING_CACHE_ENTRIES", 2)
    sim = new_sim()
    gw = build(sim)
    texts = [f"<ticket>Where is my order ORD-1000{i}?</ticket>" for i in range(3)]
    results = [await classify(gw, text) for text in texts]
    for result in results:
        assert result.cache_key is not None
        await gw.confirm_cached(result.cache_key)
    again = [await classify(gw, text) for text in texts]
    assert [r.cached for r in again] == [False, True, True]  # the oldest was evicted


async def test_a_cached_large_answer_serves_a_small_request_flagged(build: Factory) -> None:
    sim = new_sim()
    gw = build(sim)
    large = await classify(gw, tier="large")
    assert large.endpoint == "sim-large-a" and large.cache_key is not None
    await gw.confirm_cached(large.cache_key)
    again = await classify(gw)
    assert again.cached and again.fallback_tier and again.endpoint == "sim-large-a"


async def test_a_fault_run_turns_the_cache_off_through_its_settings(
    build: Factory, tmp_path: Path
) -> None:
    sim = new_sim()
    gw = build(sim)
    clean = await classify(gw)
    assert clean.cache_key is not None
    await gw.confirm_cached(clean.cache_key)
    sim.set_faults(FaultSpec.parse("implausible_rate=0.01"))
    # The gateway knows nothing of the simulator's faults: the registry and the settings
    # alone decide, so a fault-injection caller turns the cache off.
    assert (await classify(gw)).cached
    faulty = build(sim, settings=settings_for(tmp_path).with_overrides(cache_enabled=False))
    first = await classify(faulty)  # the clean entry is not read: the faults are exercised
    assert not first.cached and first.cache_key is None
    assert sim.stats()["requests_total"] == 2
    fresh = await classify(faulty, "<ticket>Where is my order ORD-10003?</ticket>")
    assert fresh.cache_key is None  # and nothing new is held for the cache
    again = gw.with_settings(gw.settings.with_overrides(cache_enabled=False))
    assert (await classify(again)).cache_key is None
    await again.aclose()


async def test_decide_refund_is_never_cached(build: Factory) -> None:
    sim = new_sim()
    gw = build(sim)
    assert gw.settings.agents["decide_refund"].cacheable is False
    first = await decide(gw)
    second = await decide(gw)
    assert not first.cached and not second.cached
    assert first.cache_key is None and second.cache_key is None
    assert sim.stats()["requests_total"] == 2


async def test_cacheability_comes_from_the_registry_alone(build: Factory, tmp_path: Path) -> None:
    sim = new_sim()
    gw = build(sim, settings=settings_for(tmp_path).with_agent("decide_refund", cacheable=True))
    first = await decide(gw)
    assert first.cache_key is not None
    await gw.confirm_cached(first.cache_key)
    assert (await decide(gw)).cached
    assert sim.stats()["requests_total"] == 1


async def test_cache_can_be_turned_off(build: Factory, tmp_path: Path) -> None:
    sim = new_sim()
    gw = build(sim, settings=settings_for(tmp_path, CONDUCTOR_CACHE="off"))
    first = await classify(gw)
    assert first.cache_key is None
    assert not (await classify(gw)).cached
    assert sim.stats()["requests_total"] == 2
    assert not (tmp_path / "cache.db").exists()


# --- spend of failed calls -------------------------------------------------------------------


async def test_an_invalid_answer_carries_what_it_cost(build: Factory) -> None:
    sim = new_sim("garbage_rate=1.0")
    gw = build(sim)
    endpoint = next(e for e in gw.profile.endpoints if e.name == "sim-small-a")
    cost_before = sample("conductor_cost_usd_total", agent="classify_intent", model="sim-small")
    with pytest.raises(InvalidModelOutput) as info:
        await classify(gw)
    usage = info.value.usage
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert info.value.cost_usd == pytest.approx(
        endpoint.cost_usd(usage["input_tokens"], usage["output_tokens"])
    )
    assert info.value.cost_usd > 0
    cost_after = sample("conductor_cost_usd_total", agent="classify_intent", model="sim-small")
    assert cost_after - cost_before == pytest.approx(info.value.cost_usd)


async def test_errors_without_an_answer_carry_zero_spend(build: Factory, tmp_path: Path) -> None:
    sim = new_sim("down=large")
    gw = build(sim, settings=settings_for(tmp_path).with_retry(backoff_base_s=0))
    with pytest.raises(ModelCallFailed) as info:
        await decide(gw)
    assert info.value.usage == {"input_tokens": 0, "output_tokens": 0}
    assert info.value.cost_usd == 0.0
    plain = GatewayError("anything")
    assert (plain.usage, plain.cost_usd) == ({"input_tokens": 0, "output_tokens": 0}, 0.0)


# --- credentials -----------------------------------------------------------------------------


async def test_each_agent_sends_its_own_key_and_no_key_is_logged(
    build: Factory, tmp_path: Path, captured: CapturingLogger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = FileSecretStore(tmp_path / "secrets")
    keys = {
        agent: f"sk-{agent}-{random.Random(agent).getrandbits(64):016x}"
        for agent in ("classify_intent", "extract_entities", "decide_refund")
    }
    for agent, key in keys.items():
        store.put(agent, key)
    sim = new_sim()
    app = RecordingApp(sim)
    gw = build(sim, app=app, secrets=store)
    await classify(gw)
    await gw.invoke_structured(agent="extract_entities", schema=TicketEntities, messages=messages())
    await decide(gw)
    await classify(gw, tier="large")
    assert app.authorizations == [
        f"Bearer {keys['classify_intent']}",
        f"Bearer {keys['extract_entities']}",
        f"Bearer {keys['decide_refund']}",
        f"Bearer {keys['classify_intent']}",
    ]
    logged = "\n".join(call.args[0] for call in captured.calls) + caplog.text
    assert [e["credential"] for e in events(captured, "model_call")] == [
        "classify_intent",
        "extract_entities",
        "decide_refund",
        "classify_intent",
    ]
    for key in keys.values():
        assert key not in logged
        assert key not in repr(gw.health())


async def test_a_missing_credential_is_a_rejected_call_not_an_outage(
    build: Factory, tmp_path: Path, captured: CapturingLogger
) -> None:
    store = FileSecretStore(tmp_path / "empty")
    sim = new_sim()
    gw = build(sim, secrets=store)
    with pytest.raises(ProviderRejected) as info:
        await decide(gw)
    assert not isinstance(info.value, ProviderUnavailable | ModelCallFailed)
    assert (info.value.endpoint, info.value.status) == ("sim-large-a", None)
    assert "credential 'decide_refund' unavailable" in str(info.value)
    assert "http://sim-large-a.simulator.invalid/v1" in str(info.value)
    assert sim.stats()["requests_total"] == 0
    assert gw.health()["sim-large-a"]["failures"] == 0
    (line,) = events(captured, "credential_unavailable")
    assert line["credential"] == "decide_refund"


async def test_the_default_sim_profile_uses_a_dummy_key_per_agent(build: Factory) -> None:
    sim = new_sim()
    app = RecordingApp(sim)
    gw = build(sim, app=app)
    await classify(gw)
    await decide(gw)
    assert app.authorizations == ["Bearer sim-key-classify_intent", "Bearer sim-key-decide_refund"]


# --- tracing, health, process-wide access ---------------------------------------------------


class RunRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.runs: list[tuple[str | None, dict[str, Any]]] = []

        self.payloads: list[str] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.runs.append((kwargs.get("name"), kwargs.get("metadata") or {}))
        self.payloads.append(json.dumps([serialized, kwargs], default=str))

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.payloads.append(json.dumps([serialized, kwargs], default=str))


async def test_the_model_run_is_named_after_the_agent_under_the_callers_trace(
    build: Factory,
) -> None:
    gw = build(new_sim())
    recorder = RunRecorder()

    async def node(_: Any) -> ModelResult:
        return await classify(gw)

    await RunnableLambda(node).ainvoke({}, config={"callbacks": [recorder]})
    named = [meta for name, meta in recorder.runs if name == "classify_intent"]
    assert named, recorder.runs
    meta = named[0]
    assert (meta["agent"], meta["tier"], meta["endpoint"], meta["model"]) == (
        "classify_intent",
        "small",
        "sim-small-a",
        "sim-small",
    )
    # What a tracer receives never carries the key, only its reference.
    assert any("ChatOpenAI" in payload for payload in recorder.payloads)
    assert not any("sim-key-classify_intent" in payload for payload in recorder.payloads)


async def test_health_reports_every_endpoint(build: Factory) -> None:
    gw = build(new_sim())
    health = gw.health()
    assert set(health) == {"sim-small-a", "sim-small-b", "sim-large-a"}
    assert health["sim-small-a"]["tier"] == "small"
    assert health["sim-large-a"] | {"open_for_s": 0.0} == {
        "tier": "large",
        "model": "sim-large",
        "state": "closed",
        "failures": 0,
        "open_for_s": 0.0,
        "trials_in_flight": 0,
        "not_before": None,
        "held_for_s": 0.0,
        "rate_limited": 0,
        "simulated": True,
    }


async def test_a_closed_gateway_can_serve_again(build: Factory) -> None:
    gw = build(new_sim())
    await classify(gw)
    await gw.aclose()
    assert (await decide(gw)).endpoint == "sim-large-a"
