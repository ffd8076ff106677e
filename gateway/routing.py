"""Endpoint choice for one call: fallback order, breaker and bucket checks, backoff."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from gateway.breaker import CircuitBreaker, CircuitState, Permit
from gateway.cache import schema_json
from gateway.errors import GatewayError, ModelCallFailed, ProviderUnavailable
from gateway.ratelimit import EndpointLimiter
from gateway.registry import AgentConfig, EndpointConfig, ProfileConfig, RetrySettings
from telemetry.logging import get_logger
from telemetry.metrics import MODEL_CALLS, set_circuit_state

log = get_logger("conductor.gateway")

TRIAL_POLL_S = 0.05
"""How soon to look again at a half-open endpoint whose trial slots are all taken."""


@dataclass
class EndpointState:
    """One endpoint with its circuit breaker and (possibly shared) rate limiter."""

    config: EndpointConfig
    breaker: CircuitBreaker
    limiter: EndpointLimiter

    @property
    def name(self) -> str:
        """The endpoint's name."""
        return self.config.name


@dataclass
class CallState:
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
    counted_open: set[str] = field(default_factory=set)
    last_failure: tuple[str, str] | None = None
    backed_off_at: int = -1

    @property
    def min_attempt_s(self) -> float:
        """Least time an attempt needs; less than this left of the budget is no time."""
        return min(0.25, self.agent_config.timeout_s / 2)


@dataclass(frozen=True)
class Failure:
    """A failed attempt that may be retried elsewhere."""

    endpoint: str
    cause: str


def build_endpoints(
    profile: ProfileConfig, clock: Callable[[], float]
) -> dict[str, EndpointState]:
    """One `EndpointState` per endpoint; endpoints of one rate-limit group share a limiter."""
    limiters: dict[str, EndpointLimiter] = {}
    endpoints: dict[str, EndpointState] = {}
    for config in profile.endpoints:
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
        endpoints[config.name] = EndpointState(config, breaker, limiter)
    return endpoints


class Router:
    """Chooses the endpoint of each attempt and the waits between attempts."""

    def __init__(
        self,
        retry: RetrySettings,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]],
        rng: random.Random,
    ) -> None:
        """Route with the profile's retry settings, on the gateway's clock, sleep and rng."""
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    def choose(
        self, call: CallState, route: list[EndpointState]
    ) -> tuple[EndpointState, float] | dict[str, str]:
        """Pick the next endpoint and how long to wait for it, or say why none can serve.

        The asked tier comes first: an endpoint not yet failed in this call, with the
        shortest wait. When every usable endpoint of the tier failed in this call, the
        fallback tier is tried; when every one of those failed too, the best of the asked
        tier is retried. Waits count only if they fit in what is left of the budget.
        """
        left = call.deadline - self._clock()
        reasons: dict[str, str] = {}
        best_by_tier: list[tuple[tuple[bool, float], EndpointState, float]] = []
        for tier in tiers_in_order(route):
            best: tuple[tuple[bool, float], EndpointState, float] | None = None
            for endpoint in route:
                if endpoint.config.tier != tier:
                    continue
                if endpoint.breaker.state is CircuitState.OPEN:
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
                    wait, why = max(wait, TRIAL_POLL_S), "circuit half-open, trial calls busy"
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

    def admit(self, call: CallState, endpoint: EndpointState) -> Permit | None:
        """Take a breaker permit and the bucket's tokens for one attempt, or None (choose again).

        None when the waits used the budget up, the half-open trial slots are taken, or the
        bucket has no room left after all.
        """
        if call.deadline - self._clock() < call.min_attempt_s:
            return None
        permit = endpoint.breaker.try_acquire()
        if permit is None:
            return None
        if endpoint.limiter.wait_time(call.estimated_tokens) > 0:
            endpoint.breaker.release(permit)
            return None
        endpoint.limiter.acquire(call.estimated_tokens)
        return permit

    def give_up(self, call: CallState, reasons: dict[str, str]) -> GatewayError:
        """The error of a call no endpoint can serve any more."""
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

    async def backoff(self, call: CallState, endpoint: EndpointState) -> None:
        """Wait a short jittered while before retrying an endpoint that failed in this call."""
        failures = call.failed.get(endpoint.name, 0)
        if failures == 0 or call.backed_off_at == call.attempts:
            return
        call.backed_off_at = call.attempts
        retry = self._retry
        delay = min(retry.backoff_max_s, retry.backoff_base_s * 2 ** (failures - 1))
        delay *= self._rng.uniform(0.5, 1.5)
        if delay > 0 and self._clock() + delay < call.deadline - call.min_attempt_s:
            await self._sleep(delay)


def tiers_in_order(route: list[EndpointState]) -> list[str]:
    """The tiers of `route`, each once, in route order."""
    tiers: list[str] = []
    for endpoint in route:
        if endpoint.config.tier not in tiers:
            tiers.append(endpoint.config.tier)
    return tiers


def estimate_tokens(messages: Sequence[BaseMessage], schema: type[BaseModel]) -> int:
    """A rough input-token count (4 characters a token) for the token bucket."""
    chars = sum(len(m.content if isinstance(m.content, str) else str(m.content)) for m in messages)
    chars += len(schema_json(schema))
    return chars // 4 + 1


def _on_circuit_change(endpoint: str, state: CircuitState) -> None:
    set_circuit_state(endpoint, state.value)
    level = log.warning if state is CircuitState.OPEN else log.info
    level("circuit_state_changed", endpoint=endpoint, state=state.value)
