"""Intake: validate the input once, so that a malformed one is rejected whole, never half-done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from nodes.common import versioned
from nodes.resources import Resources
from nodes.spec import WorkflowSpec
from nodes.supervise import route_after

Node = Callable[..., Awaitable[Any]]


def describe_validation_error(exc: ValidationError, prefix: str = "ticket") -> str:
    """Render a pydantic error as `ticket.field: message; ...`, naming every bad field."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in (prefix, *error["loc"]))
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def parse_input(model: type[BaseModel], raw: Any, key: str, expected: str = "") -> BaseModel:
    """Validate a raw input object against the workflow's input model.

    Raises:
        ValidationError: Naming the fields that are missing or wrong.
        TypeError: When the input is not a JSON object; the message says what to send.
    """
    if not isinstance(raw, dict):
        hint = f"; send {expected}" if expected else ""
        got = "nothing" if raw is None else f"a JSON {type(raw).__name__}"
        raise TypeError(f"{key} must be a JSON object, got {got}{hint}")
    return model.model_validate(raw)


class ThreadInUseError(RuntimeError):
    """Input was sent on a thread whose run already started: one thread per input."""


def open_run(
    spec: WorkflowSpec, state: dict[str, Any], opened: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """The writes that open a run: the validated input, or its rejection naming every field.

    Args:
        spec: The workflow.
        state: The thread's state with the caller's input under `spec.input_key`.
        opened: Output fields known at intake from the raw input (e.g. its id), for callers
            to read while the run is under way; given the raw input, whatever its type.

    Raises:
        ThreadInUseError: When the thread's run already started or finished.
    """
    key = spec.input_key
    status = state.get("status")
    if status is not None:
        finished = status in ("resolved", "rejected", "denied", "failed")
        what = "is finished" if finished else "is under way"
        raise ThreadInUseError(
            f"the run on this thread {what} (status {status!r}); it takes no new input. "
            "Send each input on a new thread, or resume this one with a Command if it waits."
        )
    raw = state.get(key)
    fields: dict[str, Any] = {"schema_version": spec.schema_version, **opened(raw)}
    try:
        parsed = parse_input(spec.input_model, raw, key, spec.describe_input)
    except ValidationError as exc:
        message = describe_validation_error(exc, prefix=key)
    except TypeError as exc:
        message = str(exc)
    else:
        return {**fields, key: parsed.model_dump(mode="json"), "status": "running"}
    return {
        **fields,
        "status": "rejected",
        "errors": [{"node": "accept_input", "kind": f"invalid_{key}", "message": message}],
    }


def make_intake_node(
    spec: WorkflowSpec, resources: Resources, opened: Callable[[Any], dict[str, Any]]
) -> Node:
    """Build `accept_input`: open the run (`open_run`), then take the supervisor's step.

    Args:
        spec: The workflow.
        resources: What the supervisor's step at the end of intake uses (the gateway's cache).
        opened: See `open_run`.
    """

    async def accept_input(state: dict[str, Any], runtime: Runtime[Any]) -> Command[Any]:
        """Validate the incoming input, open the run's state and route it (or reject it).

        Raises:
            ThreadInUseError: When the thread's run already started or finished.
        """
        writes = open_run(spec, state, opened)
        return await route_after(state, writes, spec, resources, runtime.context)

    return versioned(accept_input)
