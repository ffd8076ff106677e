"""The model gateway: every model call of Conductor goes through `invoke_structured`."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import random
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import openai
import structlog
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr, ValidationError

from gateway.breaker import CircuitBreaker, CircuitState, Permit
from gateway.cache import CachedResponse, ResponseCache, cache_key, schema_json
from gateway.errors import (
    GatewayError,
    InvalidModelOutput,
    ModelCallFailed,
    ProviderUnavailable,
    SecretError,
    SecretNotFound,
)
from gateway.ratelimit import EndpointLimiter, parse_retry_after
from gateway.registry import (
    NEVER_CACHED_AGENTS,
    TIER_RANK,
    AgentConfig,
    EndpointConfig,
    GatewaySettings,
)
from gateway.secrets import (
    ChainedSecretProvider,
    EnvSecretProvider,
    FileSecretStore,
    SecretProvider,
    SimSecretProvider,
)
from telemetry.logging import get_logger, register_secret
from telemetry.metrics import CACHE_HITS, COST_USD, MODEL_CALLS, TOKENS, set_circuit_state
from telemetry.tracing import model_call_config

if TYPE_CHECKING:
    from simulator.engine import Simulator

log = get_logger("conductor.gateway")

NO_KEY_PLACEHOLDER = "EMPTY"
"""Key sent to endpoints with `api_key_required = false` when no credential is configured."""

_MAX_ROUNDS = 10_000
"""Guard on the choose/wait loop of one call (each round waits or makes an attempt)."""

_TRIAL_POLL_S = 0.05
"""How soon to look again at a half-open endpoint whose trial slots are all taken."""

_ANSWER_USAGE: ContextVar[list[dict[str, int]] | None] = ContextVar(
    "conductor_answer_usage", default=None
)
"""Usage of the HTTP answers seen during the current attempt (see `_note_usage`)."""

MAX_PENDING_CACHE_ENTRIES = 10_000
"""Answers kept in memory awaiting their gate's verdict; beyond this the oldest is dropped."""


@dataclass(frozen=True)
class ModelResult:
    """What one structured model call produced.

    Attributes:
        output: The validated pydantic instance.
        usage: `input_tokens` and `output_tokens` of the call that served (0 when cached).
        cost_usd: Spend of every HTTP call made for it, at the registry's prices.
        endpoint: The endpoint that served (or whose cached answer was used).
        model: That endpoint's model.
        tier: The tier that served.
        fallback_tier: True when a stronger tier than the one asked for served.
        cached: True when the answer came from the response cache.
        calls: HTTP calls made (0 when cached).
        duration_ms: Wall time of the whole call, waits and retries included.
        cache_key: Token of the answer held pending for the response cache: pass it to
            `ModelGateway.confirm_cached` once the answer passed its deterministic gate,
            or to `discard_cached` when it failed. None when the call was not cacheable
            (decide_refund, cache off, simulator faults active) or was served from cache.
    """

    output: BaseModel
    usage: dict[str, int]
    cost_usd: float
    endpoint: str
    model: str
    tier: str
    fallback_tier: bool
    cached: bool
    calls: int
    duration_ms: float
    cache_key: str | None = None


@dataclass(frozen=True)
class _Pending:
    """A fresh answer waiting for its gate before it may enter the response cache."""

    key: str
    agent: str
    endpoint: str
    model: str
    output_json: str
    usage: dict[str, int]


@dataclass
class _Endpoint:
    config: EndpointConfig
    breaker: CircuitBreaker
    limiter: EndpointLimiter

    @property
    def name(self) -> str:
        return self.config.name


@dataclass
class _Call:
    """The state of one `invoke_structured` call."""

    agent: str
    agent_config: AgentConfig
    credential_ref: str | None
    requested_tier: str
    schema: type[BaseModel]
    messages: list[BaseMessage]
    started: float
    deadline: float
    estimated_tokens: int
    attempts: int = 0
    cost_usd: float = 0.0
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
    failed: dict[str, int] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    counted_open: set[str] = field(default_factory=set)
    last_failure: tuple[str, str] | None = None
    backed_off_at: int = -1

    @property
    def min_attempt_s(self) -> float:
        """Least time an attempt needs; less than this left of the budget is no time."""
        return min(0.25, self.agent_config.timeout_s / 2)


@dataclass(frozen=True)
class _Failure:
    """A failed attempt that may be retried elsewhere."""

    endpoint: str
    cause: str


class ModelGateway:
    """Routes structured model calls to endpoints, guarded by breakers, limits and timeouts.

    One instance serves a process (see `get_gateway`). It is meant for one event loop: the
    breakers and buckets are plain state that no await interrupts.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        simulator: Simulator | None = None,
        secrets: SecretProvider | None = None,
        app: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """Build the gateway (no connection is opened until the first call).

        Args:
            settings: The settings (profile, agents, cache, secrets).
            simulator: Simulator serving the in-process endpoints; the process-wide one when
                None.
            secrets: Credential provider; from the profile's `secrets` setting when None.
            app: ASGI app serving the in-process endpoints; `create_app(simulator)` when None
                (tests wrap the simulator's app to look at requests).
            clock: Monotonic clock for breakers, buckets and budgets.
            sleep: Coroutine function used for every wait.
            rng: Source of backoff jitter.
        """
        self.settings = settings
        self.profile = settings.profile
        self._simulator = simulator
        self._app = app
        self._secrets = secrets or _default_secrets(settings)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._cache = ResponseCache(settings.cache_path) if settings.cache_enabled else None
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._pending_seq = itertools.count(1)
        limiters: dict[str, EndpointLimiter] = {}
        self._endpoints: dict[str, _Endpoint] = {}
        for config in self.profile.endpoints:
            limiter = limiters.get(config.limit_group)
            if limiter is None:
                limiter = EndpointLimiter(rps=config.rps, tpm=config.tpm, clock=clock)
                limiters[config.limit_group] = limiter
            breaker = CircuitBreaker(
                config.name,
                failure_threshold=config.breaker.failure_threshold,
                recovery_timeout_s=config.breaker.recovery_timeout_s,
                half_open_max_calls=config.breaker.half_open_max_calls,
                clock=clock,
                on_change=_on_circuit_change,
            )
            set_circuit_state(config.name, CircuitState.CLOSED.value)
            self._endpoints[config.name] = _Endpoint(config, breaker, limiter)
        self._http: dict[str, httpx.AsyncClient] = {}
        self._models: dict[tuple[str, str], ChatOpenAI] = {}
        self._runnables: dict[tuple[str, str, type[BaseModel]], Runnable[Any, Any]] = {}
        self._warned_agents: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        settings: GatewaySettings,
        *,
        simulator: Simulator | None = None,
        secrets: SecretProvider | None = None,
    ) -> ModelGateway:
        """Build a gateway from settings.

        Args:
            settings: Usually `GatewaySettings.from_env()`.
            simulator: The simulator for in-process endpoints (tests and the chaos suite pass
                their own); the process-wide `get_default_simulator()` when None.
            secrets: Credential provider overriding the profile's.
        """
        return cls(settings, simulator=simulator, secrets=secrets)

    # --- the call ----------------------------------------------------------------------------

    async def invoke_structured(
        self,
        *,
        agent: str,
        schema: type[BaseModel],
        messages: list[BaseMessage],
        tier: str | None = None,
        cacheable: bool | None = None,
    ) -> ModelResult:
        """Ask a model of `tier` for an instance of `schema`.

        Args:
            agent: The calling agent (its registry entry gives tier, timeout, cacheability
                and credential); it names the LangSmith run.
            schema: The pydantic model of the answer.
            messages: The prompt.
            tier: "small" or "large"; the agent's registry tier when None.
            cacheable: Overrides the registry's cacheability (never for decide_refund).

        Returns:
            The answer with its usage, cost and where it came from. A fresh answer of a
            cacheable call is not written to the response cache yet: it is held pending
            under `result.cache_key` until `confirm_cached` (its gate passed) or
            `discard_cached` (it failed), so an answer its gate refuses is never replayed.
            While the in-process simulator has faults active, a call routed to it neither
            reads nor writes the cache (the simpler choice over keying on the fault spec):
            fault-injection runs always reach the simulator, and never leave answers behind.

        Raises:
            ProviderUnavailable: No endpoint of the tier or its fallback tier can serve now.
            ModelCallFailed: The bounded retries on server errors and timeouts are exhausted,
                or the endpoint refused the request (4xx other than 429).
            InvalidModelOutput: The answer is not valid JSON for the schema.
            GatewayError: The agent is unknown and no tier was given, or the tier is unknown.
            Each error carries in `usage` and `cost_usd` what the failed call spent, as far
            as known (see `GatewayError`).
        """
        started = self._clock()
        if tier is not None and tier not in TIER_RANK:
            raise GatewayError(f"unknown tier {tier!r} (expected 'small' or 'large')")
        agent_config, credential_ref = self._agent_config(agent, tier)
        requested = tier or agent_config.tier
        route = [self._endpoints[c.name] for c in self.profile.route(requested)]
        if not route:
            raise ProviderUnavailable(requested, {"*": "the profile defines no such tier"})
        use_cache = (
            self._cache is not None
            and (agent_config.cacheable if cacheable is None else cacheable)
            and agent not in NEVER_CACHED_AGENTS
            and not self._faults_active(route)
        )
        keys = (
            [cache_key(e.name, e.config.model, messages, schema) for e in route]
            if use_cache
            else []
        )
        if keys:
            hit = await self._from_cache(agent, schema, requested, keys, started)
            if hit is not None:
                return hit
        call = _Call(
            agent=agent,
            agent_config=agent_config,
            credential_ref=credential_ref,
            requested_tier=requested,
            schema=schema,
            messages=list(messages),
            started=started,
            deadline=started + agent_config.total_budget_s,
            estimated_tokens=_estimate_tokens(messages, schema),
        )
        try:
            result = await self._serve(call, route)
        except GatewayError as exc:
            exc.usage = dict(call.usage)
            exc.cost_usd = call.cost_usd
            raise
        if keys:
            key = keys[[e.name for e in route].index(result.endpoint)]
            result = dataclasses.replace(result, cache_key=self._hold(key, agent, result))
        return result

    async def confirm_cached(self, key: str) -> None:
        """Write the pending answer of `key` (a `ModelResult.cache_key`) to the cache.

        Call it once the answer passed its deterministic gate. The entry is forgotten
        afterwards; an unknown (already confirmed, discarded or evicted) key is a no-op.
        A cache that cannot be written is logged, never raised.
        """
        entry = self._pending.pop(key, None)
        if entry is None or self._cache is None:
            return
        try:
            await self._cache.put(
                entry.key,
                endpoint=entry.endpoint,
                model=entry.model,
                agent=entry.agent,
                output_json=entry.output_json,
                usage=entry.usage,
            )
        except (sqlite3.Error, OSError) as exc:
            log.warning("cache_unavailable", path=str(self._cache.path), error=str(exc))

    def discard_cached(self, key: str) -> None:
        """Forget the pending answer of `key` (its gate failed); unknown keys are a no-op."""
        self._pending.pop(key, None)

    def _hold(self, key: str, agent: str, result: ModelResult) -> str:
        """Keep `result` pending for the cache; return its token (unique per answer)."""
        token = f"{key}:{next(self._pending_seq)}"
        self._pending[token] = _Pending(
            key=key,
            agent=agent,
            endpoint=result.endpoint,
            model=result.model,
            output_json=result.output.model_dump_json(),
            usage=dict(result.usage),
        )
        while len(self._pending) > MAX_PENDING_CACHE_ENTRIES:
            self._pending.popitem(last=False)
        return token

    def _faults_active(self, route: list[_Endpoint]) -> bool:
        """True when the route reaches the in-process simulator and it injects faults."""
        if not any(endpoint.config.in_process for endpoint in route):
            return False
        simulator = self._simulator
        if simulator is None:
            from simulator.engine import get_default_simulator

            simulator = get_default_simulator()
        return simulator.faults.active

    async def _serve(self, call: _Call, route: list[_Endpoint]) -> ModelResult:
        max_attempts = self.profile.retry.max_attempts
        for _ in range(_MAX_ROUNDS):
            choice = self._choose(call, route)
            if isinstance(choice, dict):
                raise self._give_up(call, choice)
            endpoint, wait = choice
            if wait > 0:
                await self._sleep(wait)
                continue
            await self._backoff(call, endpoint)
            runnable = await self._runnable(call, endpoint)
            if runnable is None or call.deadline - self._clock() < call.min_attempt_s:
                continue  # no credential, or the waits used the budget up: choose again
            permit = endpoint.breaker.try_acquire()
            if permit is None:
                continue
            if endpoint.limiter.wait_time(call.estimated_tokens) > 0:
                endpoint.breaker.release(permit)
                continue
            endpoint.limiter.acquire(call.estimated_tokens)
            call.attempts += 1
            outcome = await self._attempt(call, endpoint, runnable, permit)
            if isinstance(outcome, ModelResult):
                return outcome
            call.last_failure = (outcome.endpoint, outcome.cause)
            if call.attempts >= max_attempts:
                raise ModelCallFailed(
                    call.agent, outcome.endpoint, f"{outcome.cause} (after {call.attempts} calls)"
                )
        raise ModelCallFailed(call.agent, route[0].name, "no progress after many waits")

    def _choose(
        self, call: _Call, route: list[_Endpoint]
    ) -> tuple[_Endpoint, float] | dict[str, str]:
        """Pick the next endpoint and how long to wait for it, or say why none can serve.

        The asked tier comes first: an endpoint not yet failed in this call, with the
        shortest wait. When every usable endpoint of the tier failed in this call, the
        fallback tier is tried; when every one of those failed too, the best of the asked
        tier is retried. Waits count only if they fit in what is left of the budget.
        """
        now = self._clock()
        left = call.deadline - now
        reasons: dict[str, str] = dict(call.blocked)
        best_by_tier: list[tuple[tuple[bool, float], _Endpoint, float]] = []
        for tier in _tiers_in_order(route):
            best: tuple[tuple[bool, float], _Endpoint, float] | None = None
            for endpoint in route:
                if endpoint.config.tier != tier or endpoint.name in call.blocked:
                    continue
                state = endpoint.breaker.state
                if state is CircuitState.OPEN:
                    reasons[endpoint.name] = (
                        f"circuit open (trial calls in {endpoint.breaker.open_for():.1f} s)"
                    )
                    if endpoint.name not in call.counted_open:
                        call.counted_open.add(endpoint.name)
                        MODEL_CALLS.labels(endpoint=endpoint.name, outcome="circuit_open").inc()
                    continue
                wait = endpoint.limiter.wait_time(call.estimated_tokens)
                why = f"rate-limited for {wait:.2f} s"
                if not endpoint.breaker.can_call():
                    # Half-open with every trial slot taken: look again shortly.
                    wait, why = max(wait, _TRIAL_POLL_S), "circuit half-open, trial calls busy"
                if wait > left - call.min_attempt_s:
                    reasons[endpoint.name] = (
                        f"{why}, beyond the {max(left, 0):.2f} s left"
                        if wait > 0
                        else f"no time left of the {call.agent_config.total_budget_s:g} s budget"
                    )
                    continue
                rank = (endpoint.name in call.failed, wait)
                if best is None or rank < best[0]:
                    best = (rank, endpoint, wait)
            if best is not None:
                if not best[0][0]:
                    return best[1], best[2]
                best_by_tier.append(best)
        if best_by_tier:
            return best_by_tier[0][1], best_by_tier[0][2]
        return reasons

    def _give_up(self, call: _Call, reasons: dict[str, str]) -> GatewayError:
        left = call.deadline - self._clock()
        if call.last_failure is not None and left < call.min_attempt_s:
            endpoint, cause = call.last_failure
            return ModelCallFailed(call.agent, endpoint, f"{cause}; the time budget is spent")
        log.warning(
            "model_unavailable",
            agent=call.agent,
            tier=call.requested_tier,
            reasons=reasons,
            calls=call.attempts,
        )
        return ProviderUnavailable(call.requested_tier, reasons)

    async def _backoff(self, call: _Call, endpoint: _Endpoint) -> None:
        """Wait a short jittered while before retrying an endpoint that failed in this call."""
        failures = call.failed.get(endpoint.name, 0)
        if failures == 0 or call.backed_off_at == call.attempts:
            return
        call.backed_off_at = call.attempts
        retry = self.profile.retry
        delay = min(retry.backoff_max_s, retry.backoff_base_s * 2 ** (failures - 1))
        delay *= self._rng.uniform(0.5, 1.5)
        if delay > 0 and self._clock() + delay < call.deadline - call.min_attempt_s:
            await self._sleep(delay)

    async def _attempt(
        self, call: _Call, endpoint: _Endpoint, runnable: Runnable[Any, Any], permit: Permit
    ) -> ModelResult | _Failure:
        """Make one HTTP call; turn every outcome into a result, a failure or an error."""
        config = endpoint.config
        started = self._clock()
        timeout = min(call.agent_config.timeout_s, config.timeout_s, call.deadline - started)
        subtask_attempt = structlog.contextvars.get_contextvars().get("attempt")
        traced = model_call_config(
            agent=call.agent,
            tier=config.tier,
            attempt=subtask_attempt if isinstance(subtask_attempt, int) else None,
            endpoint=config.name,
            model=config.model,
            profile=self.settings.profile_name,
        )
        run_config: RunnableConfig = {
            "run_name": traced["run_name"],
            "tags": [*traced["tags"], "model_gateway"],
            "metadata": {
                **traced["metadata"],
                "requested_tier": call.requested_tier,
                "http_call": call.attempts,
                "simulated": config.in_process,
            },
        }
        seen = _ANSWER_USAGE.set([])
        try:
            async with asyncio.timeout(timeout):
                reply = await runnable.ainvoke(call.messages, config=run_config)
        except TimeoutError:
            cause = f"no answer in {timeout:.2f} s"
            return self._failed(call, endpoint, permit, started, "timeout", cause)
        except openai.RateLimitError as exc:
            retry_after = parse_retry_after(exc.response.headers)
            wait = self.profile.retry.default_retry_after_s if retry_after is None else retry_after
            endpoint.limiter.hold_until(wait)
            cause = f"HTTP 429, retry after {wait:g} s"
            return self._failed(call, endpoint, permit, started, "rate_limited", cause)
        except openai.APITimeoutError:
            return self._failed(call, endpoint, permit, started, "timeout", "HTTP client timeout")
        except openai.APIConnectionError as exc:
            cause = f"connection failed: {_short(exc)}"
            return self._failed(call, endpoint, permit, started, "error", cause)
        except openai.APIStatusError as exc:
            cause = f"HTTP {exc.status_code}"
            if exc.status_code >= 500:
                return self._failed(call, endpoint, permit, started, "error", cause)
            endpoint.breaker.release(permit)
            self._log_call(call, endpoint, started, "error", error=cause)
            raise ModelCallFailed(
                call.agent, config.name, f"{cause}: the endpoint refused the request"
            ) from None
        except (
            ValidationError,
            json.JSONDecodeError,
            openai.LengthFinishReasonError,
            openai.ContentFilterFinishReasonError,
        ) as exc:
            endpoint.breaker.record_success(permit)
            detail = _describe_invalid(exc)
            # A length-limited answer hands its completion over; otherwise the usage is
            # the one the HTTP hook read from the body the client then failed to parse.
            usage = _completion_usage(getattr(exc, "completion", None)) or _last_seen_usage()
            cost = self._charge(call, endpoint, usage) if usage is not None else 0.0
            self._log_call(call, endpoint, started, "invalid", usage=usage, cost=cost, error=detail)
            raise InvalidModelOutput(call.agent, config.name, detail) from None
        except BaseException:
            # Cancelled (or an unexpected error): no verdict on the endpoint, but a
            # half-open trial slot must not leak.
            endpoint.breaker.release(permit)
            raise
        finally:
            _ANSWER_USAGE.reset(seen)
        endpoint.breaker.record_success(permit)
        raw = reply.get("raw")
        usage_meta = getattr(raw, "usage_metadata", None) or {}
        usage = {
            "input_tokens": int(usage_meta.get("input_tokens", 0)),
            "output_tokens": int(usage_meta.get("output_tokens", 0)),
        }
        cost = self._charge(call, endpoint, usage)
        parsed = reply.get("parsed")
        error = reply.get("parsing_error")
        if error is not None or not isinstance(parsed, call.schema):
            detail = (
                _describe_invalid(error)
                if error is not None
                else "no structured output in the answer"
            )
            self._log_call(call, endpoint, started, "invalid", usage=usage, cost=cost, error=detail)
            raise InvalidModelOutput(call.agent, config.name, detail)
        self._log_call(call, endpoint, started, "ok", usage=usage, cost=cost)
        return ModelResult(
            output=parsed,
            usage=usage,
            cost_usd=call.cost_usd,
            endpoint=config.name,
            model=config.model,
            tier=config.tier,
            fallback_tier=TIER_RANK[config.tier] > TIER_RANK[call.requested_tier],
            cached=False,
            calls=call.attempts,
            duration_ms=round((self._clock() - call.started) * 1000, 2),
        )

    def _charge(self, call: _Call, endpoint: _Endpoint, usage: dict[str, int]) -> float:
        """Count an answer's tokens and cost on the call, the bucket and the metrics."""
        config = endpoint.config
        cost = config.cost_usd(usage["input_tokens"], usage["output_tokens"])
        call.cost_usd += cost
        for direction in ("input", "output"):
            call.usage[f"{direction}_tokens"] += usage[f"{direction}_tokens"]
        endpoint.limiter.settle(call.estimated_tokens, sum(usage.values()))
        TOKENS.labels(endpoint=config.name, direction="input").inc(usage["input_tokens"])
        TOKENS.labels(endpoint=config.name, direction="output").inc(usage["output_tokens"])
        COST_USD.labels(agent=call.agent, model=config.model).inc(cost)
        return cost

    def _failed(
        self,
        call: _Call,
        endpoint: _Endpoint,
        permit: Permit,
        started: float,
        outcome: str,
        cause: str,
    ) -> _Failure:
        endpoint.breaker.record_failure(permit)
        if outcome != "rate_limited":
            call.failed[endpoint.name] = call.failed.get(endpoint.name, 0) + 1
        self._log_call(call, endpoint, started, outcome, error=cause)
        return _Failure(endpoint.name, cause)

    # --- cache -------------------------------------------------------------------------------

    async def _from_cache(
        self,
        agent: str,
        schema: type[BaseModel],
        requested: str,
        keys: Sequence[str],
        started: float,
    ) -> ModelResult | None:
        assert self._cache is not None
        try:
            hit: CachedResponse | None = await self._cache.get(keys)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cache_unavailable", path=str(self._cache.path), error=str(exc))
            return None
        if hit is None or hit.endpoint not in self._endpoints:
            return None
        try:
            output = schema.model_validate_json(hit.output_json)
        except ValidationError:
            log.warning("cache_entry_stale", agent=agent, endpoint=hit.endpoint)
            return None
        tier = self._endpoints[hit.endpoint].config.tier
        CACHE_HITS.labels(agent=agent).inc()
        MODEL_CALLS.labels(endpoint=hit.endpoint, outcome="cached").inc()
        duration_ms = round((self._clock() - started) * 1000, 2)
        log.info(
            "model_call",
            agent=agent,
            endpoint=hit.endpoint,
            model=hit.model,
            tier=tier,
            requested_tier=requested,
            duration_ms=duration_ms,
            token_usage={"input_tokens": 0, "output_tokens": 0},
            cost_usd=0.0,
            result_status="cached",
            simulated=self._endpoints[hit.endpoint].config.in_process,
        )
        return ModelResult(
            output=output,
            usage={"input_tokens": 0, "output_tokens": 0},
            cost_usd=0.0,
            endpoint=hit.endpoint,
            model=hit.model,
            tier=tier,
            fallback_tier=TIER_RANK[tier] > TIER_RANK[requested],
            cached=True,
            calls=0,
            duration_ms=duration_ms,
        )

    # --- clients -----------------------------------------------------------------------------

    def _agent_config(self, agent: str, tier: str | None) -> tuple[AgentConfig, str | None]:
        """The agent's registry entry and credential reference (None: the endpoint's)."""
        config = self.settings.agent(agent)
        if config is not None:
            return config, config.credential or agent
        if tier is None:
            raise GatewayError(
                f"agent {agent!r} is not in the model registry and no tier was given"
            )
        if agent not in self._warned_agents:
            self._warned_agents.add(agent)
            log.warning("agent_not_in_registry", agent=agent, tier=tier)
        return AgentConfig(tier=tier), None  # type: ignore[arg-type]

    async def _runnable(self, call: _Call, endpoint: _Endpoint) -> Runnable[Any, Any] | None:
        """The structured-output runnable of (agent, endpoint, schema); None if no credential."""
        key = (call.agent, endpoint.name, call.schema)
        runnable = self._runnables.get(key)
        if runnable is not None:
            return runnable
        model = self._models.get((call.agent, endpoint.name))
        if model is None:
            ref = call.credential_ref or endpoint.config.credential
            try:
                api_key = await asyncio.to_thread(self._secrets.get, ref)
            except SecretNotFound as exc:
                if endpoint.config.api_key_required:
                    self._block(call, endpoint, ref, exc)
                    return None
                api_key = NO_KEY_PLACEHOLDER
            except SecretError as exc:
                self._block(call, endpoint, ref, exc)
                return None
            register_secret(api_key)  # redacted from every log line from now on
            # Concurrent first calls may all have waited for the key: build one client.
            model = self._models.get((call.agent, endpoint.name)) or ChatOpenAI(
                model=endpoint.config.model,
                base_url=endpoint.config.base_url,
                api_key=SecretStr(api_key),
                max_retries=0,
                timeout=endpoint.config.timeout_s,
                http_async_client=self._http_client(endpoint.config),
            )
            self._models[(call.agent, endpoint.name)] = model
        runnable = self._runnables.get(key)
        if runnable is None:
            runnable = model.with_structured_output(
                call.schema, method=endpoint.config.structured_output, include_raw=True
            )
            self._runnables[key] = runnable
        return runnable

    def _block(self, call: _Call, endpoint: _Endpoint, ref: str, exc: SecretError) -> None:
        call.blocked[endpoint.name] = f"credential {ref!r} unavailable"
        log.error(
            "credential_unavailable",
            agent=call.agent,
            endpoint=endpoint.name,
            credential=ref,
            error=str(exc),
        )

    def _http_client(self, config: EndpointConfig) -> httpx.AsyncClient:
        key = "<in-process>" if config.in_process else config.name
        client = self._http.get(key)
        if client is None:
            if config.in_process:
                if self._app is None:
                    from simulator.app import create_app

                    self._app = create_app(self._simulator)
                client = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=self._app),
                    timeout=config.timeout_s,
                    event_hooks={"response": [_note_usage]},
                )
            else:
                client = httpx.AsyncClient(
                    timeout=config.timeout_s, event_hooks={"response": [_note_usage]}
                )
            self._http[key] = client
        return client

    # --- telemetry ---------------------------------------------------------------------------

    def _log_call(
        self,
        call: _Call,
        endpoint: _Endpoint,
        started: float,
        status: str,
        *,
        usage: dict[str, int] | None = None,
        cost: float = 0.0,
        error: str | None = None,
    ) -> None:
        MODEL_CALLS.labels(endpoint=endpoint.name, outcome=status).inc()
        fields: dict[str, Any] = {
            "agent": call.agent,
            "endpoint": endpoint.name,
            "model": endpoint.config.model,
            "tier": endpoint.config.tier,
            "requested_tier": call.requested_tier,
            "call_attempt": call.attempts,
            "duration_ms": round((self._clock() - started) * 1000, 2),
            "token_usage": usage or {"input_tokens": 0, "output_tokens": 0},
            "cost_usd": round(cost, 8),
            "result_status": status,
            "credential": call.credential_ref or endpoint.config.credential,
            "simulated": endpoint.config.in_process,
        }
        if error is not None:
            fields["error"] = error
        if status == "ok":
            log.info("model_call", **fields)
        else:
            log.warning("model_call", **fields)

    # --- state -------------------------------------------------------------------------------

    def health(self) -> dict[str, dict[str, Any]]:
        """Per endpoint: tier, model, circuit state, failures, Retry-After hold.

        Returns:
            Endpoint name → `tier`, `model`, `state` ("closed", "half_open", "open"),
            `failures` (consecutive), `open_for_s` (until trials), `not_before` (Unix time
            before which nothing is sent, or None), `held_for_s`, `rate_limited` (429s seen
            on its quota) and `simulated`.
        """
        report: dict[str, dict[str, Any]] = {}
        for name, endpoint in self._endpoints.items():
            held = endpoint.limiter.held_for()
            report[name] = {
                "tier": endpoint.config.tier,
                "model": endpoint.config.model,
                **endpoint.breaker.snapshot(),
                "not_before": round(time.time() + held, 3) if held > 0 else None,
                "held_for_s": round(held, 3),
                "rate_limited": endpoint.limiter.rate_limited,
                "simulated": endpoint.config.in_process,
            }
        return report

    def breaker(self, endpoint: str) -> CircuitBreaker:
        """The circuit breaker of `endpoint` (for tests and the health report)."""
        return self._endpoints[endpoint].breaker

    async def aclose(self) -> None:
        """Close the HTTP clients and the cache; the gateway can be used again afterwards."""
        clients, self._http = list(self._http.values()), {}
        self._models.clear()
        self._runnables.clear()
        for client in clients:
            await client.aclose()
        if self._cache is not None:
            await self._cache.aclose()


def _default_secrets(settings: GatewaySettings) -> SecretProvider:
    if settings.profile.secrets == "sim":
        return SimSecretProvider()
    return ChainedSecretProvider(
        FileSecretStore(settings.secrets_dir), EnvSecretProvider(settings.secret_env)
    )


def _on_circuit_change(endpoint: str, state: CircuitState) -> None:
    set_circuit_state(endpoint, state.value)
    level = log.warning if state is CircuitState.OPEN else log.info
    level("circuit_state_changed", endpoint=endpoint, state=state.value)


def _tiers_in_order(route: list[_Endpoint]) -> list[str]:
    tiers: list[str] = []
    for endpoint in route:
        if endpoint.config.tier not in tiers:
            tiers.append(endpoint.config.tier)
    return tiers


def _estimate_tokens(messages: Sequence[BaseMessage], schema: type[BaseModel]) -> int:
    """A rough input-token count (4 characters a token) for the token bucket."""
    chars = sum(len(m.content if isinstance(m.content, str) else str(m.content)) for m in messages)
    chars += len(schema_json(schema))
    return chars // 4 + 1


def _completion_usage(completion: Any) -> dict[str, int] | None:
    """The usage of an openai `ChatCompletion`, or None when it has none."""
    usage = getattr(completion, "usage", None)
    if usage is None:
        return None
    return {
        "input_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
        "output_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
    }


async def _note_usage(response: httpx.Response) -> None:
    """HTTP response hook: note the `usage` of a chat-completion answer for the attempt.

    The openai client parses strict JSON-schema answers itself and raises on garbage
    without handing the body over; this keeps what that answer spent. Best effort: an
    unreadable body notes nothing.
    """
    seen = _ANSWER_USAGE.get()
    if (
        seen is None
        or response.status_code != 200
        or not response.url.path.endswith("/chat/completions")
        or "event-stream" in response.headers.get("content-type", "")
    ):
        return
    try:
        await response.aread()
        usage = json.loads(response.content).get("usage") or {}
        seen.append(
            {
                "input_tokens": int(usage.get("prompt_tokens") or 0),
                "output_tokens": int(usage.get("completion_tokens") or 0),
            }
        )
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return


def _last_seen_usage() -> dict[str, int] | None:
    seen = _ANSWER_USAGE.get()
    return seen[-1] if seen else None


def _describe_invalid(exc: BaseException) -> str:
    """What was wrong with an answer, in one short line (pydantic's links left out)."""
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors(include_url=False)[:3]:
            where = ".".join(str(p) for p in error["loc"])
            parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
        more = len(exc.errors()) - len(parts)
        return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return _short(exc)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- process-wide access ---------------------------------------------------------------------

_gateway: ModelGateway | None = None
_gateway_lock = threading.Lock()


def get_gateway() -> ModelGateway:
    """Return the process's gateway, built on first use from `GatewaySettings.from_env()`.

    Raises:
        RegistryError: When the registry or the chosen profile is invalid.
    """
    global _gateway
    with _gateway_lock:
        if _gateway is None:
            settings = GatewaySettings.from_env()
            _gateway = ModelGateway.from_settings(settings)
            log.info(
                "model_gateway_ready",
                profile=settings.profile_name,
                simulated=settings.profile.simulated,
                models_file=str(settings.models_file),
                endpoints=[
                    f"{e.name} ({e.tier}, {e.model}"
                    + (", simulated in-process)" if e.in_process else f", {e.base_url})")
                    for e in settings.profile.endpoints
                ],
                cache=str(settings.cache_path) if settings.cache_enabled else "off",
            )
        return _gateway


@contextmanager
def use_gateway(gateway: ModelGateway) -> Iterator[ModelGateway]:
    """Make `gateway` the process's gateway inside the block (tests, the CLI)."""
    global _gateway
    with _gateway_lock:
        previous, _gateway = _gateway, gateway
    try:
        yield gateway
    finally:
        with _gateway_lock:
            _gateway = previous
