"""Run requests the server refuses before a graph sees them: input that is not `{"ticket": ...}`.

LangGraph answers a non-object input (`null`, a list, a string) with an error inside the
run (`EmptyInputError`, `InvalidUpdateError`) and a traceback in the server log, and drops
the keys of a bare ticket sent without its `{"ticket": ...}` wrapper, so the graph sees
no ticket at all. The auth hook (`server/auth.py`) calls `check_run_input` on every
`threads.create_run` and answers HTTP 422 with the message; field-level problems inside a
wrapped input are still reported by the graph's intake (status `rejected`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RETRY_RESUME: dict[str, Any] = {"retry": True}
"""The resume payload of a parked run (any payload resumes it; this one is documented)."""


@dataclass(frozen=True)
class ServedInput:
    """What one served graph takes as input.

    Attributes:
        graph: The graph id in `langgraph.json`.
        key: The input's key (`ticket`).
        example: The shape to send, for error messages.
    """

    graph: str
    key: str
    example: str


SERVED_INPUTS: tuple[ServedInput, ...] = (
    ServedInput(
        graph="support",
        key="ticket",
        example='{"ticket": {"ticket_id", "customer_id", "subject", "body", "channel"}}',
    ),
    ServedInput(
        graph="documents",
        key="document",
        example='{"document": {"document_id", "text", "title"?, "source"?}}',
    ),
)
"""The graphs `langgraph.json` serves and their input shapes."""


class RunInputError(ValueError):
    """A run request whose input no served graph can take; the message says what to send."""


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, list | tuple):
        return "a JSON array"
    return f"a {type(value).__name__}"


def _expected(assistant_id: Any) -> tuple[ServedInput, ...]:
    """The input shapes the request may mean: its graph's, or every served one's."""
    named = tuple(s for s in SERVED_INPUTS if s.graph == assistant_id)
    return named or SERVED_INPUTS


def check_run_input(kwargs: Mapping[str, Any], assistant_id: Any = None) -> None:
    """Refuse a run whose input is not an object holding a served graph's input key.

    A run that carries a command (`Command(resume=...)`) needs no input and is not checked.

    Args:
        kwargs: The run's `kwargs` (`input`, `command`, ...), as the auth hook sees them.
        assistant_id: The graph id or assistant id the run targets.

    Raises:
        RunInputError: Naming what was sent and what to send instead.
    """
    command = kwargs.get("command")
    if isinstance(command, Mapping) and any(v is not None for v in command.values()):
        return
    shapes = _expected(assistant_id)
    send = " or ".join(s.example for s in shapes)
    raw = kwargs.get("input")
    if raw is None:
        raise RunInputError(
            f"input is required, got null; send {send} (or resume a waiting run with "
            'command={"resume": ...})'
        )
    if not isinstance(raw, Mapping):
        raise RunInputError(f"input must be a JSON object, got {_json_type(raw)}; send {send}")
    if any(s.key in raw for s in shapes):
        return
    keys = ", ".join(sorted(map(str, raw))[:8]) or "none"
    wrap = " or ".join(f'"{s.key}"' for s in shapes)
    raise RunInputError(f"input has no {wrap} key (keys found: {keys}); wrap it: send {send}")


def normalize_resume(kwargs: dict[str, Any]) -> None:
    """Make an empty resume payload resume the run: `{}` becomes `{"retry": true}`.

    LangGraph reads a dict resume value whose keys are all interrupt ids as a map of
    answers by interrupt id; `{}` passes that test vacuously and resumes nothing (the run
    stays where it was, silently). Rewritten, it reaches the waiting node: a parked run
    retries, a review answers with the error that a decision is needed.
    """
    command = kwargs.get("command")
    if isinstance(command, dict) and isinstance(command.get("resume"), Mapping):
        if not command["resume"]:
            command["resume"] = dict(RETRY_RESUME)
