"""Per-endpoint circuit breaker for asyncio: closed → open → half-open with bounded trial calls.

Why not a package: aiobreaker 1.2, purgatory 3.0, pybreaker 1.4 and circuitbreaker 2.1 were
read for these semantics. None caps the number of concurrent trial calls in the half-open
state (they let every caller through, or exactly one), none takes an injectable clock
(they read `datetime.now`, `time.time` or `time.monotonic` directly), and all of them decide
what counts as a failure by wrapping the call and inspecting its exception, whereas the
gateway must choose: a 500, 503, 429 or timeout is a failure, an invalid JSON answer is not.
This module is the ~100 lines those semantics need.

Semantics: closed → open after `failure_threshold` consecutive failures; open for
`recovery_timeout_s`, during which no call is let through; then half-open, letting at most
`half_open_max_calls` trial calls through concurrently; a successful trial closes the
circuit, a failed one re-opens it. Each permit remembers the breaker's generation (bumped on
every transition), so an outcome from before a transition does not decide the new state.
The breaker is not thread-safe: use it from one event loop, which never switches tasks
inside its methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CircuitState(StrEnum):
    """State of a circuit; the gauge value is `GAUGE_VALUES[state]`."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


GAUGE_VALUES: dict[CircuitState, int] = {
    CircuitState.CLOSED: 0,
    CircuitState.HALF_OPEN: 1,
    CircuitState.OPEN: 2,
}
"""Values of the `conductor_circuit_state` gauge: 0 closed, 1 half-open, 2 open."""


@dataclass(frozen=True)
class Permit:
    """Leave to make one call; hand it back with `record_success`/`record_failure`/`release`."""

    generation: int
    trial: bool


class CircuitBreaker:
    """Circuit breaker of one endpoint (see the module docstring for the semantics)."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        recovery_timeout_s: float = 30.0,
        half_open_max_calls: int = 3,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, CircuitState], None] | None = None,
    ) -> None:
        """Create a closed breaker.

        Args:
            name: The endpoint's name (for `on_change`).
            failure_threshold: Consecutive failures that open the circuit.
            recovery_timeout_s: Seconds the circuit stays open before trials are allowed.
            half_open_max_calls: Trial calls allowed at once while half-open.
            clock: Monotonic clock in seconds.
            on_change: Called with (name, new state) on every transition.
        """
        if failure_threshold < 1 or half_open_max_calls < 1 or recovery_timeout_s <= 0:
            raise ValueError("breaker settings must be positive")
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_timeout_s = recovery_timeout_s
        self.half_open_max_calls = half_open_max_calls
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._generation = 0
        self._failures = 0
        self._opened_at = 0.0
        self._trials_in_flight = 0

    @property
    def state(self) -> CircuitState:
        """The current state (an open circuit whose timeout elapsed reads as half-open)."""
        if (
            self._state is CircuitState.OPEN
            and self._clock() - self._opened_at >= self.recovery_timeout_s
        ):
            self._transition(CircuitState.HALF_OPEN)
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted while closed."""
        return self._failures

    def open_for(self) -> float:
        """Seconds until an open circuit lets trials through; 0 when not open."""
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.recovery_timeout_s - self._clock())

    def can_call(self) -> bool:
        """True when `try_acquire` would hand out a permit now."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        return state is CircuitState.HALF_OPEN and self._trials_in_flight < self.half_open_max_calls

    def try_acquire(self) -> Permit | None:
        """Return a permit for one call, or None when the circuit lets nothing through now."""
        state = self.state
        if state is CircuitState.CLOSED:
            return Permit(self._generation, trial=False)
        if state is CircuitState.HALF_OPEN and self._trials_in_flight < self.half_open_max_calls:
            self._trials_in_flight += 1
            return Permit(self._generation, trial=True)
        return None

    def record_success(self, permit: Permit) -> None:
        """The call reached the endpoint and it answered: reset the count, close a half-open one."""
        if not self._current(permit):
            return
        if permit.trial:
            self._trials_in_flight -= 1
            self._transition(CircuitState.CLOSED)
        else:
            self._failures = 0

    def record_failure(self, permit: Permit) -> None:
        """The call failed (5xx, 429, timeout): count it; open at the threshold or on a trial."""
        if not self._current(permit):
            return
        if permit.trial:
            self._trials_in_flight -= 1
            self._transition(CircuitState.OPEN)
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._transition(CircuitState.OPEN)

    def release(self, permit: Permit) -> None:
        """Give a permit back without a verdict (the call was cancelled or never sent)."""
        if self._current(permit) and permit.trial:
            self._trials_in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        """State, consecutive failures, seconds until trials, trials in flight."""
        return {
            "state": self.state.value,
            "failures": self._failures,
            "open_for_s": round(self.open_for(), 3),
            "trials_in_flight": self._trials_in_flight,
        }

    def _current(self, permit: Permit) -> bool:
        return permit.generation == self._generation and self.state is not CircuitState.OPEN

    def _transition(self, state: CircuitState) -> None:
        self._state = state
        self._generation += 1
        self._trials_in_flight = 0
        self._failures = 0
        if state is CircuitState.OPEN:
            self._opened_at = self._clock()
        if self._on_change is not None:
            self._on_change(self.name, state)
