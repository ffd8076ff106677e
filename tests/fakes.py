"""Test doubles shared by the suites: a monotonic clock whose sleeps pass at once."""

from __future__ import annotations

import asyncio


class FakeClock:
    """A monotonic clock for breakers, buckets and budgets; tests move `now` forward.

    `sleep` lets the event loop run once and then moves the clock to the sleeper's wake-up
    time: concurrent sleepers share one time line (the latest wake-up wins), they do not add
    up their waits.
    """

    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = self.now + max(seconds, 0.0)
        await asyncio.sleep(0)
        self.now = max(self.now, wake)
