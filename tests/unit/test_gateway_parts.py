"""The gateway's small parts: token buckets, Retry-After, secrets and the response cache."""

from __future__ import annotations

import os
import stat
from email.utils import formatdate
from pathlib import Path

import pytest
from fakes import FakeClock
from langchain_core.messages import HumanMessage, SystemMessage

from gateway.cache import ResponseCache, cache_key
from gateway.errors import InsecureSecretFile, SecretError, SecretNotFound
from gateway.ratelimit import EndpointLimiter, TokenBucket, parse_retry_after
from gateway.secrets import (
    ChainedSecretProvider,
    EnvSecretProvider,
    FileSecretStore,
    SecretProvider,
    SimSecretProvider,
)
from state.schemas import IntentClassification, RefundDecision

# --- token buckets ---------------------------------------------------------------------------


def test_bucket_starts_full_and_computes_the_exact_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=2.0, capacity=2.0, clock=clock)
    assert bucket.delay(1) == 0.0
    bucket.take(1)
    bucket.take(1)
    assert bucket.delay(1) == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.delay(1) == pytest.approx(0.25)
    clock.now += 10
    assert bucket.tokens == pytest.approx(2.0)


def test_bucket_clamps_a_request_larger_than_its_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=1.0, capacity=10.0, clock=clock)
    assert bucket.delay(1000) == 0.0
    bucket.take(1000)
    assert bucket.delay(5) == pytest.approx(5.0)


def test_limiter_counts_requests_and_tokens() -> None:
    clock = FakeClock()
    limiter = EndpointLimiter(rps=1, tpm=600, clock=clock)  # 10 tokens a second, 600 burst
    assert limiter.wait_time(600) == 0.0
    limiter.acquire(600)
    assert limiter.wait_time(1) == pytest.approx(1.0)  # the request bucket binds
    assert limiter.wait_time(100) == pytest.approx(10.0)  # the token bucket binds
    clock.now += 1
    limiter.settle(estimated=600, actual=500)  # used fewer than estimated: credited back
    assert limiter.wait_time(100) == pytest.approx(0.0)
    unlimited = EndpointLimiter(rps=None, tpm=None, clock=clock)
    unlimited.acquire(10**9)
    assert unlimited.wait_time(10**9) == 0.0


def test_retry_after_holds_every_request_until_it_passes() -> None:
    clock = FakeClock()
    limiter = EndpointLimiter(rps=None, tpm=None, clock=clock)
    limiter.hold_until(2.0)
    assert limiter.wait_time(1) == pytest.approx(2.0)
    assert limiter.rate_limited == 1
    limiter.hold_until(0.5)  # a shorter hold never shortens the current one
    assert limiter.held_for() == pytest.approx(2.0)
    clock.now += 2.0
    assert limiter.wait_time(1) == 0.0


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-4"}) == 0.0
    date = formatdate(1_000_030.0, usegmt=True)
    assert parse_retry_after({"retry-after": date}, wall_clock=lambda: 1_000_000.0) == 30.0


# --- secrets ---------------------------------------------------------------------------------


def test_file_store_writes_0600_and_reads_back(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path / "secrets")
    path = store.put("classify_intent", "sk-test-123\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.get("classify_intent") == "sk-test-123"
    assert isinstance(store, SecretProvider)


def test_file_store_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path)
    path = store.put("decide_refund", "sk-live-abc")
    os.chmod(path, 0o644)
    with pytest.raises(InsecureSecretFile) as info:
        store.get("decide_refund")
    message = str(info.value)
    assert "0644" in message and "must be 0600" in message and "decide_refund" in message
    assert "sk-live-abc" not in message


def test_file_store_missing_and_bad_references(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path)
    with pytest.raises(SecretNotFound):
        store.get("absent")
    for bad in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(SecretError, match="bad credential reference"):
            store.get(bad)


def test_file_store_does_not_follow_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("sk")
    os.chmod(target, 0o600)
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "linked").symlink_to(target)
    with pytest.raises(SecretError):
        FileSecretStore(tmp_path / "store").get("linked")


def test_env_provider_prefers_the_reference_then_openai_key() -> None:
    env = {"CONDUCTOR_SECRET_CLASSIFY_INTENT": "sk-ci", "OPENAI_API_KEY": "sk-shared"}
    provider = EnvSecretProvider(env)
    assert provider.get("classify_intent") == "sk-ci"
    assert provider.get("decide_refund") == "sk-shared"
    assert EnvSecretProvider.variable_for("my-agent.v2") == "CONDUCTOR_SECRET_MY_AGENT_V2"
    with pytest.raises(SecretNotFound, match="CONDUCTOR_SECRET_DRAFT_REPLY"):
        EnvSecretProvider({}).get("draft_reply")


def test_chain_asks_the_file_store_first(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path)
    store.put("classify_intent", "sk-from-file")
    chain = ChainedSecretProvider(store, EnvSecretProvider({"OPENAI_API_KEY": "sk-env"}))
    assert chain.get("classify_intent") == "sk-from-file"
    assert chain.get("extract_entities") == "sk-env"
    os.chmod(tmp_path / "classify_intent", 0o640)
    with pytest.raises(InsecureSecretFile):  # an insecure file is an error, not a miss
        chain.get("classify_intent")
    with pytest.raises(SecretNotFound):
        ChainedSecretProvider(store, EnvSecretProvider({})).get("nobody")


def test_sim_provider_gives_a_dummy_key_per_reference() -> None:
    provider = SimSecretProvider()
    assert provider.get("classify_intent") != provider.get("decide_refund")


# --- cache -----------------------------------------------------------------------------------


def test_cache_key_depends_on_every_part() -> None:
    messages = [SystemMessage("Classify."), HumanMessage("<ticket>hi</ticket>")]
    base = cache_key("sim-small-a", "sim-small", messages, IntentClassification)
    assert base == cache_key("sim-small-a", "sim-small", list(messages), IntentClassification)
    assert len(base) == 64
    assert base != cache_key("sim-small-b", "sim-small", messages, IntentClassification)
    assert base != cache_key("sim-small-a", "sim-large", messages, IntentClassification)
    assert base != cache_key("sim-small-a", "sim-small", messages[:1], IntentClassification)
    assert base != cache_key("sim-small-a", "sim-small", messages, RefundDecision)


async def test_cache_round_trip(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "sub" / "cache.db")
    assert await cache.get(["a", "b"]) is None
    await cache.put(
        "b",
        endpoint="sim-large-a",
        model="sim-large",
        agent="classify_intent",
        output_json='{"x": 1}',
        usage={"input_tokens": 10, "output_tokens": 2},
    )
    hit = await cache.get(["a", "b"])
    assert hit is not None
    assert (hit.endpoint, hit.output_json, hit.input_tokens) == ("sim-large-a", '{"x": 1}', 10)
    await cache.aclose()
    reopened = ResponseCache(tmp_path / "sub" / "cache.db")
    assert await reopened.get(["b"]) is not None
    await reopened.aclose()


def test_completion_usage_of_a_length_limited_answer() -> None:
    from types import SimpleNamespace

    from gateway.attempt import completion_usage as _completion_usage

    completion = SimpleNamespace(usage=SimpleNamespace(prompt_tokens=12, completion_tokens=34))
    assert _completion_usage(completion) == {"input_tokens": 12, "output_tokens": 34}
    assert _completion_usage(SimpleNamespace(usage=None)) is None
    assert _completion_usage(None) is None
