"""The action node factory: a workflow's side effect, performed through an idempotent ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command

from nodes.common import versioned
from nodes.resources import Resources
from nodes.spec import ActionSpec, WorkflowSpec
from nodes.supervise import route_after

Node = Callable[..., Awaitable[Any]]


def make_action_node(spec: WorkflowSpec, action: ActionSpec, resources: Resources) -> Node:
    """Build the node performing `action`; running it again (retry, resume, crash) is safe.

    The action's `perform` derives its idempotency key from the run's input, so a replay
    finds the ledger's record instead of writing a second one. It returns the state write:
    `action_results[action.name]`, and `actions`/`errors` records as it sees fit. The node
    then takes the supervisor's step itself (an action always runs alone).
    """

    async def act(state: dict[str, Any], runtime: Runtime[Any]) -> Command[Any]:
        payload = action.due(state)
        if payload is None:
            raise RuntimeError(f"{action.name} reached with nothing due; the supervisor is wrong")
        update = await action.perform(resources, state, payload)
        if action.name not in (update.get("action_results") or {}):
            raise RuntimeError(f"{action.name} wrote no action_results[{action.name!r}]")
        return await route_after(state, update, spec, resources, runtime.context)

    act.__name__ = act.__qualname__ = action.name
    act.__doc__ = f"Action `{action.name}`: performed once, through an idempotent ledger."
    return versioned(act)
