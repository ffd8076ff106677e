"""Admission control of one endpoint: a bound on requests in flight, with a FIFO queue."""

from __future__ import annotations

import asyncio

from gateway.looptime import LagAwareTimeout


class Admission:
    """At most `limit` requests in flight to one endpoint; the others wait in FIFO order.

    The permits are an `asyncio.Semaphore` (FIFO, no barging while others wait). What
    asyncio does not offer is the queue's budget: a wait fails only when the endpoint makes
    no progress (no permit released) for `stall_s` of lag-free time, not after a fixed
    total, so a long queue that drains keeps its callers, and a stalled one lets them go.
    """

    def __init__(self, limit: int) -> None:
        """Allow `limit` requests in flight."""
        self._gate = asyncio.Semaphore(limit)
        self.progress_at: float | None = None
        """Loop time of the last permit released (None: none yet)."""

    def locked(self) -> bool:
        """Whether a new caller would have to wait."""
        return self._gate.locked()

    async def acquire(self, stall_s: float) -> bool:
        """Take a permit; wait while the queue progresses, give up after `stall_s` without.

        Returns:
            False when no permit was released for `stall_s` (lag-free) while this waited.
        """
        if not self._gate.locked():
            await self._gate.acquire()  # free: returns at once
            return True
        armed = asyncio.get_running_loop().time()

        def since_progress() -> float:
            return 0.0 if self.progress_at is None else self.progress_at - armed

        try:
            async with LagAwareTimeout(stall_s, excluded=since_progress):
                await self._gate.acquire()
        except TimeoutError:
            return False
        return True

    def release(self) -> None:
        """Give a permit back: progress for the queue."""
        self.progress_at = asyncio.get_running_loop().time()
        self._gate.release()
