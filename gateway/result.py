"""What one structured model call through the gateway produced."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from gateway.registry import TIER_RANK, EndpointConfig
from telemetry.logging import get_logger
from telemetry.metrics import CACHE_HITS, MODEL_CALLS

log = get_logger("conductor.gateway")


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
            (the agent's registry entry says so, or the cache is off) or was served from
            the cache.
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


def cached_result(
    output: BaseModel, endpoint: EndpointConfig, *, agent: str, requested: str, ms: float
) -> ModelResult:
    """The result of a call served from the cache (an answer of `endpoint`), counted and logged."""
    CACHE_HITS.labels(agent=agent).inc()
    MODEL_CALLS.labels(endpoint=endpoint.name, outcome="cached").inc()
    none = {"input_tokens": 0, "output_tokens": 0}
    log.info(
        "model_call",
        agent=agent,
        endpoint=endpoint.name,
        model=endpoint.model,
        tier=endpoint.tier,
        requested_tier=requested,
        duration_ms=ms,
        token_usage=none,
        cost_usd=0.0,
        result_status="cached",
        simulated=endpoint.in_process,
    )
    return ModelResult(
        output=output,
        usage=dict(none),
        cost_usd=0.0,
        endpoint=endpoint.name,
        model=endpoint.model,
        tier=endpoint.tier,
        fallback_tier=TIER_RANK[endpoint.tier] > TIER_RANK[requested],
        cached=True,
        calls=0,
        duration_ms=ms,
    )
