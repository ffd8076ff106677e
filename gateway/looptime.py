"""Timeouts that measure the awaited thing, not the wait for our own event loop or queue.

When one process runs a thousand graph runs (and, here, the simulated provider too), its
event loop falls behind: an answer that arrived in 50 ms waits seconds before the loop
resumes the task that awaits it. `asyncio.timeout` counts that wait, so a saturated
orchestrator would judge a healthy provider too slow. No library offers a timeout that
leaves the loop's own lag out (asyncio, anyio, `async-timeout` and LangGraph's
`TimeoutPolicy` all count wall-clock time), so this module measures the lag and pushes
expiries back by it.

- `LoopLag`: how late the running loop serves its timers, summed (a chain of
  `loop.call_at` ticks whose lateness is the lag), ticking only while someone measures.
- `LagAwareTimeout`: `asyncio.timeout` whose expiry, when it comes, is moved back by the
  lag accrued since it was armed, and by any time the caller says to leave out
  (`excluded`: the admission queue's waits, the last progress of a queue).
- `LagCredit`: the same lag handed to a deadline kept by hand (a call's whole budget).
- `NodeGuard` / `queued`: a node's outer timeout that leaves out the time its model calls
  spent waiting in the gateway's admission queue (a context variable carries the tally).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import TracebackType

LAG_TICK_S = 0.02
"""Period of the lag monitor's tick. A saturated loop serves about one tick per pass, so
lag-aware time advances by about this much per pass of the loop while it is saturated."""


class LoopLag:
    """Cumulative lag of one event loop: how late its timer callbacks ran, summed.

    A tick is scheduled `LAG_TICK_S` ahead with `loop.call_at`; when it runs, its lateness
    is lag. The chain runs only while at least one timeout holds the monitor, so an idle
    loop has no wake-ups. `lag()` also counts the current tick's overdue time, so a reader
    whose own callback ran late (the loop was blocked) sees that lag before the tick runs.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Measure `loop` (ticks start with the first `hold`)."""
        # A weak reference: the monitors are values of a WeakKeyDictionary keyed by loop.
        self._loop_ref = weakref.ref(loop)
        self._lag = 0.0
        self._due: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._users = 0

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        assert loop is not None, "the loop of this monitor is gone"
        return loop

    def lag(self) -> float:
        """Seconds of lag accrued while the monitor ran (monotonic, never decreases)."""
        if self._due is None:
            return self._lag
        return self._lag + max(0.0, self._loop.time() - self._due)

    def hold(self) -> None:
        """Start ticking (if not yet) for one more user."""
        self._users += 1
        if self._handle is None:
            self._schedule(self._loop.time())

    def release(self) -> None:
        """One user fewer; the last one stops the ticks (the lag so far is kept)."""
        self._users -= 1
        if self._users <= 0 and self._handle is not None:
            self._lag = self.lag()
            self._handle.cancel()
            self._handle = self._due = None
            self._users = 0

    def _schedule(self, now: float) -> None:
        self._due = now + LAG_TICK_S
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        assert self._due is not None
        self._lag += max(0.0, now - self._due)
        self._schedule(now)


_MONITORS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopLag] = (
    weakref.WeakKeyDictionary()
)


def loop_lag(loop: asyncio.AbstractEventLoop | None = None) -> LoopLag:
    """The lag monitor of `loop` (default: the running loop), created on first use."""
    loop = loop or asyncio.get_running_loop()
    monitor = _MONITORS.get(loop)
    if monitor is None:
        monitor = _MONITORS[loop] = LoopLag(loop)
    return monitor


class LagAwareTimeout:
    """`asyncio.timeout(delay)` that leaves the loop's lag (and `excluded` time) out.

    The context is an `asyncio.timeout(None)`; a `loop.call_at` check armed for
    `armed + delay` recomputes the deadline when it runs: `armed + delay + lag accrued
    since armed + excluded()`. A later deadline re-arms the check; otherwise
    `Timeout.reschedule(now)` expires it the asyncio way (the body is cancelled and
    `TimeoutError` raised on exit). A genuinely slow awaitable on a responsive loop expires
    on time.
    """

    def __init__(self, delay: float | None, *, excluded: Callable[[], float] | None = None):
        """Expire after `delay` seconds of loop-lag-free time beyond `excluded()` (None: never)."""
        self._delay = delay
        self._excluded = excluded
        self._timeout = asyncio.timeout(None)
        self._handle: asyncio.TimerHandle | None = None
        self._armed = 0.0
        self._lag0 = 0.0
        self._lag_at_exit: float | None = None
        self._monitor: LoopLag | None = None

    @property
    def lag_s(self) -> float:
        """Loop lag accrued since the timeout was armed (until it was left)."""
        if self._monitor is None:
            return 0.0
        lag = self._lag_at_exit if self._lag_at_exit is not None else self._monitor.lag()
        return lag - self._lag0

    def deadline(self) -> float | None:
        """The current deadline in loop time (None: no delay)."""
        if self._delay is None:
            return None
        extra = self._excluded() if self._excluded is not None else 0.0
        return self._armed + self._delay + self.lag_s + max(0.0, extra)

    def expired(self) -> bool:
        """Whether the timeout expired (the body was cancelled by it)."""
        return self._timeout.expired()

    async def __aenter__(self) -> LagAwareTimeout:
        """Arm the timeout."""
        loop = asyncio.get_running_loop()
        await self._timeout.__aenter__()
        self._monitor = loop_lag(loop)
        self._monitor.hold()
        self._armed, self._lag0 = loop.time(), self._monitor.lag()
        if self._delay is not None:
            self._handle = loop.call_at(self._armed + self._delay, self._check)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Disarm; turn our own cancellation into `TimeoutError` (as `asyncio.timeout` does)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._monitor is not None:
            self._lag_at_exit = self._monitor.lag()
            self._monitor.release()
        await self._timeout.__aexit__(exc_type, exc, tb)
        return None

    def _check(self) -> None:
        self._handle = None
        loop = asyncio.get_running_loop()
        when, now = self.deadline(), loop.time()
        if when is not None and when > now:
            self._handle = loop.call_at(when, self._check)
        elif self._timeout.when() is None:
            self._timeout.reschedule(now)  # expires now: cancels the body via call_soon


class LagCredit:
    """Hands a deadline the loop lag accrued since the last credit (a whole call's budget).

    `with LagCredit(on_lag):` holds the lag monitor; each `credit()` passes the lag since
    the previous one to `on_lag(seconds)`; `skip()` drops the lag since then (time already
    accounted for otherwise, such as a queue wait that moved the deadline by its wall time).
    """

    def __init__(self, on_lag: Callable[[float], None]) -> None:
        """Credit `on_lag` with lag."""
        self._on_lag = on_lag
        self._monitor: LoopLag | None = None
        self._mark = 0.0

    def __enter__(self) -> LagCredit:
        """Start measuring."""
        self._monitor = loop_lag()
        self._monitor.hold()
        self._mark = self._monitor.lag()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop measuring."""
        if self._monitor is not None:
            self._monitor.release()

    def credit(self) -> None:
        """Pass the lag accrued since the last credit or skip to `on_lag`."""
        assert self._monitor is not None
        now = self._monitor.lag()
        if now > self._mark:
            self._on_lag(now - self._mark)
        self._mark = now

    def skip(self) -> None:
        """Drop the lag accrued since the last credit or skip."""
        assert self._monitor is not None
        self._mark = self._monitor.lag()


class QueuedTime:
    """How long at least one of a node's model calls waited in an admission queue.

    The union of the waits (parallel waits count once), in loop time, including the wait
    going on now.
    """

    def __init__(self) -> None:
        """No wait yet."""
        self._total = 0.0
        self._open = 0
        self._since = 0.0

    def total(self) -> float:
        """Seconds spent with at least one call queued."""
        if self._open:
            return self._total + asyncio.get_running_loop().time() - self._since
        return self._total

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Count the time of the body as a queue wait."""
        now = asyncio.get_running_loop().time
        if self._open == 0:
            self._since = now()
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1
            if self._open == 0:
                self._total += now() - self._since


_QUEUED: ContextVar[QueuedTime | None] = ContextVar("conductor_queued_time", default=None)


@contextmanager
def queued() -> Iterator[None]:
    """Mark the body as a wait in our own queue: the enclosing `node_guard` leaves it out."""
    tally = _QUEUED.get()
    if tally is None:
        yield
        return
    with tally.waiting():
        yield


class NodeGuard(LagAwareTimeout):
    """A node's outer timeout: `seconds` of time that is neither loop lag nor a queue wait.

    The model calls made inside it report their admission-queue waits through `queued()`.
    """

    def __init__(self, seconds: float) -> None:
        """Expire after `seconds` of such time."""
        self._tally = QueuedTime()
        self._token: Token[QueuedTime | None] | None = None
        super().__init__(seconds, excluded=self._tally.total)

    async def __aenter__(self) -> NodeGuard:
        """Arm the guard and open the tally of queue waits."""
        self._token = _QUEUED.set(self._tally)
        await super().__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Disarm the guard and close the tally."""
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            if self._token is not None:
                _QUEUED.reset(self._token)
