"""The state of one model call and of the endpoints it may use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from gateway.admission import Admission
from gateway.breaker import CircuitBreaker, CircuitState
from gateway.ratelimit import EndpointLimiter
from gateway.registry import AgentConfig, EndpointConfig, ProfileConfig
from telemetry.logging import get_logger
from telemetry.metrics import set_circuit_state

log = get_logger("conductor.gateway")


@dataclass
class EndpointState:
    """One endpoint with its circuit breaker, (possibly shared) rate limiter and admission.

    `admission` bounds the requests in flight to the endpoint (`max_in_flight`): a call
    waits for a permit before its attempt starts, so that its timeout measures the
    provider, not a queue of our own.
    """

    config: EndpointConfig
    breaker: CircuitBreaker
    limiter: EndpointLimiter
    admission: Admission = field(init=False)

    def __post_init__(self) -> None:
        self.admission = Admission(self.config.max_in_flight)

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
    queued_s: float = 0.0
    """Time spent waiting for admission permits (not the provider's time)."""
    lag_s: float = 0.0
    """Event-loop lag during the call's attempts (not the provider's time either)."""

    def credit_lag(self, seconds: float) -> None:
        """Leave `seconds` of event-loop lag out of the budget: move the deadline back."""
        self.lag_s += seconds
        self.deadline += seconds

    @property
    def min_attempt_s(self) -> float:
        """Least time an attempt needs; less than this left of the budget is no time."""
        return min(0.25, self.agent_config.timeout_s / 2)


@dataclass(frozen=True)
class Failure:
    """A failed attempt that may be retried elsewhere."""

    endpoint: str
    cause: str


def build_endpoints(profile: ProfileConfig, clock: Callable[[], float]) -> dict[str, EndpointState]:
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


def endpoint_health(endpoints: Iterable[EndpointState]) -> dict[str, dict[str, Any]]:
    """Per endpoint: tier, model, circuit state, failures, Retry-After hold.

    Returns:
        Endpoint name → `tier`, `model`, `state` ("closed", "half_open", "open"),
        `failures` (consecutive), `open_for_s` (until trials), `not_before` (Unix time
        before which nothing is sent, or None), `held_for_s`, `rate_limited` (429s seen
        on its quota) and `simulated`.
    """
    report: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        held = endpoint.limiter.held_for()
        report[endpoint.name] = {
            "tier": endpoint.config.tier,
            "model": endpoint.config.model,
            **endpoint.breaker.snapshot(),
            "not_before": round(time.time() + held, 3) if held > 0 else None,
            "held_for_s": round(held, 3),
            "rate_limited": endpoint.limiter.rate_limited,
            "simulated": endpoint.config.in_process,
        }
    return report


def _on_circuit_change(endpoint: str, state: CircuitState) -> None:
    set_circuit_state(endpoint, state.value)
    level = log.warning if state is CircuitState.OPEN else log.info
    level("circuit_state_changed", endpoint=endpoint, state=state.value)
