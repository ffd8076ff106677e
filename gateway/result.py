"""What one structured model call through the gateway produced."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel


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
