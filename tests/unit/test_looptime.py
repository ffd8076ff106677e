"""Lag-aware timeouts, the admission queue's progress budget and the node guard."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.admission import Admission
from gateway.looptime import LagAwareTimeout, NodeGuard, loop_lag, queued
from graphs.guard import NodeGuardTimeout, guarded

BLOCK_S = 0.5
"""How long a blocking callback holds the event loop in these tests."""


def block_the_loop_soon() -> None:
    """Hold the running loop with a blocking sleep, as a CPU-bound callback would."""
    asyncio.get_running_loop().call_later(0.01, time.sleep, BLOCK_S)


async def test_a_blocked_loop_does_not_expire_the_timeout() -> None:
    block_the_loop_soon()
    async with LagAwareTimeout(0.2) as timeout:
        await asyncio.sleep(0.1)  # done at 0.1 s, but the loop resumes it after 0.5 s
    assert not timeout.expired()
    assert timeout.lag_s >= BLOCK_S - 0.15


async def test_asyncio_timeout_expires_on_the_same_blocked_loop() -> None:
    """The contrast: a plain `asyncio.timeout` counts the loop's lag against the awaitable."""
    block_the_loop_soon()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await asyncio.sleep(0.1)


async def test_a_genuinely_slow_awaitable_expires() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with LagAwareTimeout(0.1) as timeout:
            await asyncio.sleep(5)
    assert timeout.expired()
    assert time.monotonic() - started < 3


async def test_excluded_time_moves_the_expiry_back() -> None:
    async with LagAwareTimeout(0.1, excluded=lambda: 0.3) as timeout:
        await asyncio.sleep(0.25)
    assert not timeout.expired()


async def test_the_lag_monitor_ticks_only_while_held() -> None:
    monitor = loop_lag()
    monitor.hold()
    block_the_loop_soon()
    before = monitor.lag()
    await asyncio.sleep(0.05)
    assert monitor.lag() - before >= BLOCK_S - 0.15
    monitor.release()
    idle = monitor.lag()
    block_the_loop_soon()
    await asyncio.sleep(0.05)
    assert monitor.lag() == idle  # nobody measuring: no ticks, no lag counted


async def hold(gate: Admission, seconds: float, order: list[int], index: int) -> None:
    assert await gate.acquire(stall_s=10)
    order.append(index)
    await asyncio.sleep(seconds)
    gate.release()


async def test_a_long_queue_that_progresses_keeps_its_callers_in_fifo_order() -> None:
    gate, order = Admission(1), []
    # Ten holders of 0.1 s each: the last caller waits ~1 s, five times its stall budget.
    holders = [asyncio.create_task(hold(gate, 0.1, order, i)) for i in range(10)]
    await asyncio.sleep(0)
    started = time.monotonic()
    assert await gate.acquire(stall_s=0.2)
    assert time.monotonic() - started > 0.6
    assert order == list(range(10))
    gate.release()
    await asyncio.gather(*holders)


async def test_a_stalled_queue_lets_its_callers_go() -> None:
    gate = Admission(1)
    assert await gate.acquire(stall_s=1)  # held, never released
    started = time.monotonic()
    assert not await gate.acquire(stall_s=0.2)
    assert 0.15 < time.monotonic() - started < 3
    assert gate.locked()


async def test_the_node_guard_leaves_queue_waits_out() -> None:
    async with NodeGuard(0.2) as guard:
        with queued():
            await asyncio.sleep(0.4)  # our own queue: not the node's time
        await asyncio.sleep(0.1)
    assert not guard.expired()


async def test_a_hung_node_still_fails_its_guard() -> None:
    async def hung(state: dict[str, str]) -> dict[str, str]:
        await asyncio.sleep(10)
        return state

    node = guarded(hung, 0.1)
    assert node.__name__ == "hung"  # LangGraph reads the wrapped signature and name
    started = time.monotonic()
    with pytest.raises(NodeGuardTimeout, match="ran longer than 0.1 s"):
        await node({})
    assert time.monotonic() - started < 3


async def test_a_node_own_timeout_error_is_not_the_guard() -> None:
    async def failing() -> None:
        raise TimeoutError("the node's own")

    with pytest.raises(TimeoutError, match="the node's own") as info:
        await guarded(failing, 5)()
    assert not isinstance(info.value, NodeGuardTimeout)
