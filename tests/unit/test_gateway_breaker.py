"""The circuit breaker's state machine, on a fake clock."""

from __future__ import annotations

import pytest
from fakes import FakeClock

from gateway.breaker import CircuitBreaker, CircuitState, Permit


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[tuple[str, CircuitState]]:
    return []


@pytest.fixture
def breaker(clock: FakeClock, changes: list[tuple[str, CircuitState]]) -> CircuitBreaker:
    return CircuitBreaker(
        "ep",
        failure_threshold=5,
        recovery_timeout_s=30,
        half_open_max_calls=3,
        clock=clock,
        on_change=lambda name, state: changes.append((name, state)),
    )


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        permit = breaker.try_acquire()
        assert permit is not None
        breaker.record_failure(permit)


def test_opens_after_five_consecutive_failures(breaker: CircuitBreaker) -> None:
    _fail(breaker, 4)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failures == 4
    _fail(breaker, 1)
    assert breaker.state is CircuitState.OPEN


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    _fail(breaker, 4)
    permit = breaker.try_acquire()
    assert permit is not None
    breaker.record_success(permit)
    _fail(breaker, 4)
    assert breaker.state is CircuitState.CLOSED


def test_nothing_goes_through_while_open(breaker: CircuitBreaker, clock: FakeClock) -> None:
    _fail(breaker, 5)
    opened = clock.now
    for elapsed in (0.0, 10.0, 29.9):
        clock.now = opened + elapsed
        assert breaker.try_acquire() is None
        assert not breaker.can_call()
    assert breaker.state is CircuitState.OPEN
    assert breaker.open_for() == pytest.approx(0.1, abs=1e-6)


def test_half_open_lets_three_concurrent_trials_through(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    _fail(breaker, 5)
    clock.now += 30
    assert breaker.state is CircuitState.HALF_OPEN
    trials = [breaker.try_acquire() for _ in range(5)]
    granted = [t for t in trials if t is not None]
    assert len(granted) == 3
    assert all(t.trial for t in granted)
    assert trials[3:] == [None, None]
    # A trial that ends without a verdict frees its slot.
    breaker.release(granted[0])
    assert breaker.try_acquire() is not None
    assert breaker.try_acquire() is None


def test_a_successful_trial_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    _fail(breaker, 5)
    clock.now += 30
    first, second = breaker.try_acquire(), breaker.try_acquire()
    assert first is not None and second is not None
    breaker.record_success(first)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failures == 0
    # The other trial's late failure belongs to the previous state and changes nothing.
    breaker.record_failure(second)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failures == 0


def test_a_failed_trial_reopens_for_a_full_timeout(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    _fail(breaker, 5)
    clock.now += 30
    permit = breaker.try_acquire()
    assert permit is not None
    breaker.record_failure(permit)
    assert breaker.state is CircuitState.OPEN
    clock.now += 29
    assert breaker.try_acquire() is None
    clock.now += 1
    assert breaker.state is CircuitState.HALF_OPEN


def test_transitions_are_reported(
    breaker: CircuitBreaker, clock: FakeClock, changes: list[tuple[str, CircuitState]]
) -> None:
    _fail(breaker, 5)
    clock.now += 30
    permit = breaker.try_acquire()
    assert permit is not None
    breaker.record_success(permit)
    assert changes == [
        ("ep", CircuitState.OPEN),
        ("ep", CircuitState.HALF_OPEN),
        ("ep", CircuitState.CLOSED),
    ]


def test_outcomes_of_calls_started_before_opening_are_ignored(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    early = breaker.try_acquire()
    assert early is not None
    _fail(breaker, 5)
    clock.now += 30
    breaker.record_success(early)
    assert breaker.state is CircuitState.HALF_OPEN


def test_snapshot(breaker: CircuitBreaker, clock: FakeClock) -> None:
    _fail(breaker, 2)
    assert breaker.snapshot() == {
        "state": "closed",
        "failures": 2,
        "open_for_s": 0.0,
        "trials_in_flight": 0,
    }
    _fail(breaker, 3)
    clock.now += 10
    snap = breaker.snapshot()
    assert (snap["state"], snap["open_for_s"]) == ("open", 20.0)


def test_settings_must_be_positive(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="positive"):
        CircuitBreaker("x", failure_threshold=0, clock=clock)


def test_permit_is_a_value() -> None:
    assert Permit(1, trial=True) == Permit(1, trial=True)
