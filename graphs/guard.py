"""The outer guard of a worker node: a hung node fails, our own queueing and lag never do."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from gateway.looptime import NodeGuard

P = ParamSpec("P")
R = TypeVar("R")


class NodeGuardTimeout(TimeoutError):
    """A worker node ran longer than its guard, loop lag and admission-queue waits left out."""


def guarded(node: Callable[P, Awaitable[R]], seconds: float) -> Callable[P, Awaitable[R]]:
    """Wrap an async node in `gateway.looptime.NodeGuard(seconds)`.

    Why not LangGraph's `TimeoutPolicy`: its `run_timeout` is wall-clock, so a thousand runs
    on one loop, or a long admission queue, trip it on a healthy provider; its `idle_timeout`
    is refreshed by callback events, which a call waiting for a permit does not emit, and is
    wall-clock as well. This guard counts neither the loop's lag nor the time the node's
    model calls waited in the gateway's queue, and still fails a node hung on anything else.
    `functools.wraps` keeps the signature LangGraph reads (`runtime` injection, schemas).

    Raises:
        NodeGuardTimeout: The node ran `seconds` of such time (it is cancelled).
    """

    @functools.wraps(node)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        guard = NodeGuard(seconds)
        try:
            async with guard:
                return await node(*args, **kwargs)
        except TimeoutError:
            if guard.expired():
                raise NodeGuardTimeout(
                    f"node {getattr(node, '__name__', '?')} ran longer than {seconds:g} s "
                    "(loop lag and admission-queue waits left out)"
                ) from None
            raise

    return run
