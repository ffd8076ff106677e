"""Endpoint choice for one call: fallback order, breaker and bucket checks, retries, backoff."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from gateway.attempt import AttemptRunner
from gateway.breaker import CircuitState, Permit
from gateway.cache import schema_json
from gateway.call import CallState, EndpointState, Failure
from gateway.clients import EndpointClients, StructuredModel
from gateway.errors import GatewayError, ModelCallFailed, ProviderUnavailable
from gateway.looptime import LagCredit, queued
from gateway.registry import RetrySettings
from gateway.result import ModelResult
from telemetry.logging import get_logger
from telemetry.metrics import MODEL_CALLS

log = get_logger("conductor.gateway")

TRIAL_POLL_S = 0.05
"""How soon to look again at a half-open endpoint whose trial slots are all taken."""

MAX_ROUNDS = 10_000
"""Guard on the choose/wait loop of one call (each round waits or makes an attempt)."""


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

    async def serve(
        self,
        call: CallState,
        route: list[EndpointState],
        clients: EndpointClients,
        attempts: AttemptRunner,
    ) -> ModelResult:
        """Make attempts along `route` until one serves, the retries run out or none can serve.

        Raises:
            ProviderUnavailable: No endpoint of the route can serve within the budget.
            ModelCallFailed: `max_attempts` failed attempts (5xx, 429, timeouts).
            GatewayError: What an attempt raises (rejected, invalid output).
        """
        with LagCredit(call.credit_lag) as lag:  # the loop's lag is not the budget's time
            for _ in range(MAX_ROUNDS):
                lag.credit()
                choice = self.choose(call, route)
                if isinstance(choice, dict):
                    raise self.give_up(call, choice)
                endpoint, wait = choice
                if wait > 0:
                    await self._sleep(wait)
                    continue
                await self.backoff(call, endpoint)
                model = await clients.structured(call, endpoint.config)
                lag.credit()
                if not await self.enter(call, endpoint):
                    raise self.queue_full(call, endpoint)
                lag.skip()  # the queue wait moved the deadline back, lag included
                outcome = await self._attempt(call, endpoint, model, attempts)
                if outcome is None:
                    continue
                if isinstance(outcome, ModelResult):
                    return outcome
                call.last_failure = (outcome.endpoint, outcome.cause)
                if call.attempts >= self._retry.max_attempts:
                    raise ModelCallFailed(
                        call.agent,
                        outcome.endpoint,
                        f"{outcome.cause} (after {call.attempts} calls)",
                    )
        raise ModelCallFailed(call.agent, route[0].name, "no progress after many waits")

    async def _attempt(
        self,
        call: CallState,
        endpoint: EndpointState,
        model: StructuredModel,
        attempts: AttemptRunner,
    ) -> ModelResult | Failure | None:
        """One attempt on `endpoint`, its admission permit held; None: choose again."""
        try:
            permit = self.admit(call, endpoint)
            if permit is None:
                return None  # the waits used the budget up, or the slot went: choose again
            call.attempts += 1
            return await attempts.run(call, endpoint, model, permit)
        finally:
            endpoint.admission.release()

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
        best_by_tier: list[tuple[tuple[bool, float, bool], EndpointState, float]] = []
        for tier in tiers_in_order(route):
            best: tuple[tuple[bool, float, bool], EndpointState, float] | None = None
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
                rank = (endpoint.name in call.failed, wait, endpoint.admission.locked())
                if best is None or rank < best[0]:
                    best = (rank, endpoint, wait)
            if best is not None:
                if not best[0][0]:
                    return best[1], best[2]
                best_by_tier.append(best)
        if best_by_tier:
            return best_by_tier[0][1], best_by_tier[0][2]
        return reasons

    async def enter(self, call: CallState, endpoint: EndpointState) -> bool:
        """Take one of the endpoint's in-flight permits, waiting while its queue progresses.

        A wait here is our own queue, never the provider's time: it fails only when the
        endpoint releases no permit for the agent's whole-call budget (lag-free time), it
        moves the call's deadline back by as long as it lasted, the attempt's timeout starts
        only once the permit is held, and the enclosing node guard leaves it out (`queued`).
        It never counts as a failure, for the breaker or the retries.

        Returns:
            False when the endpoint's queue made no progress for the budget.
        """
        if not endpoint.admission.locked():
            return await endpoint.admission.acquire(call.agent_config.total_budget_s)
        queued_at = self._clock()
        try:
            with queued():
                return await endpoint.admission.acquire(call.agent_config.total_budget_s)
        finally:
            waited = self._clock() - queued_at
            call.queued_s += waited
            call.deadline += waited

    def queue_full(self, call: CallState, endpoint: EndpointState) -> GatewayError:
        """The error of a call whose endpoint queue made no progress for its whole budget."""
        MODEL_CALLS.labels(endpoint=endpoint.name, outcome="queue_full").inc()
        reason = (
            f"{endpoint.config.max_in_flight} requests in flight and none finished within the "
            f"{call.agent_config.total_budget_s:g} s budget (waited {call.queued_s:.2f} s)"
        )
        log.warning("model_queue_full", agent=call.agent, endpoint=endpoint.name, reason=reason)
        return ProviderUnavailable(call.requested_tier, {endpoint.name: reason})

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
