"""What every node shares: the version bump on each write and the log context of the run."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

import structlog
from langgraph.config import get_config
from langgraph.runtime import get_runtime
from langgraph.types import Command

P = ParamSpec("P")
R = TypeVar("R")


def bump_version(update: Any) -> Any:
    """Add one to `version` in a node's write, whatever form the write takes.

    Args:
        update: What the node returned: a dict, a `Command`, or None.

    Returns:
        The same write with `"version": 1` added (the `bump` reducer sums increments).
    """
    if update is None:
        return {"version": 1}
    if isinstance(update, Command):
        if update.update is not None and not isinstance(update.update, dict):
            raise TypeError("a node's Command must carry its update as a dict")
        return replace(update, update={**(update.update or {}), "version": 1})
    if isinstance(update, dict):
        return {**update, "version": 1}
    raise TypeError(f"node returned {type(update).__name__}; expected dict, Command or None")


def run_log_context(node: str, **extra: Any) -> dict[str, Any]:
    """The correlation fields of a log line written inside a node of a run."""
    fields: dict[str, Any] = {"node": node, **extra}
    try:
        config = get_config()
    except RuntimeError:
        return fields
    configurable = config.get("configurable") or {}
    fields["workflow_id"] = configurable.get("thread_id")
    try:
        info = get_runtime().execution_info
    except (RuntimeError, AttributeError):
        info = None
    if info is not None:
        fields["node_attempt"] = info.node_attempt
    return fields


def versioned(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorate an async node: bump `version` on its write and bind the run's log context.

    LangGraph reads the wrapped function's signature (`functools.wraps` keeps it), so
    `runtime` injection and input schemas work as on the undecorated node.
    """

    @functools.wraps(fn)
    async def node(*args: P.args, **kwargs: P.kwargs) -> R:
        with structlog.contextvars.bound_contextvars(**run_log_context(fn.__name__)):
            update = await fn(*args, **kwargs)
        return bump_version(update)  # type: ignore[no-any-return]

    return node


def migrate_state(
    state: Mapping[str, Any], current: int, migrations: Mapping[int, Callable[..., dict[str, Any]]]
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """Upgrade a state written by an older schema version, one version at a time.

    Args:
        state: The run's state as the checkpoint holds it.
        current: The workflow's schema version.
        migrations: From-version to a function returning the writes that upgrade it.

    Returns:
        The upgraded view of the state, and the writes that make the checkpoint match it
        (empty when the state is current or has no version yet).

    Raises:
        ValueError: When no migration leads from the state's version to `current`.
    """
    version = state.get("schema_version")
    if version is None or version == current:
        return state, {}
    if version > current:
        raise ValueError(f"state has schema_version {version}, newer than this code's {current}")
    view: dict[str, Any] = dict(state)
    writes: dict[str, Any] = {}
    while version < current:
        if version not in migrations:
            raise ValueError(f"no migration from schema_version {version} (current {current})")
        step = migrations[version](view)
        view.update(step)
        writes.update(step)
        version += 1
    view["schema_version"] = writes["schema_version"] = current
    return view, writes
