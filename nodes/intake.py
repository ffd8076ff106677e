"""Intake: validate the ticket once, so that a malformed one is rejected whole, never half-done."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nodes.common import versioned
from state.schemas import Ticket
from state.support import SCHEMA_VERSION, SupportState


def describe_validation_error(exc: ValidationError, prefix: str = "ticket") -> str:
    """Render a pydantic error as `ticket.field: message; ...`, naming every bad field."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in (prefix, *error["loc"]))
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def parse_ticket(raw: Any) -> Ticket:
    """Validate a raw ticket.

    Raises:
        ValidationError: Naming the fields that are missing or wrong.
        TypeError: When the ticket is not a JSON object.
    """
    if not isinstance(raw, dict):
        raise TypeError(f"ticket must be a JSON object, got {type(raw).__name__}")
    return Ticket.model_validate(raw)


class ThreadInUseError(RuntimeError):
    """A second ticket was sent on a thread that already handled one."""


@versioned
async def intake_ticket(state: SupportState) -> dict[str, Any]:
    """Validate the incoming ticket and open the run's state, or reject the ticket whole.

    Raises:
        ThreadInUseError: When the thread already handled a ticket: one thread per ticket,
            so that no answer, refund or review of one ticket leaks into another.
    """
    if state.get("status") is not None:
        raise ThreadInUseError(
            f"thread already handled ticket {state.get('ticket_id')!r} "
            f"(status {state.get('status')!r}); send each ticket on a new thread"
        )
    raw = state.get("ticket")
    ticket_id = raw.get("ticket_id") if isinstance(raw, dict) else None
    opened: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "ticket_id": ticket_id}
    try:
        ticket = parse_ticket(raw)
    except ValidationError as exc:
        message = describe_validation_error(exc)
    except TypeError as exc:
        message = str(exc)
    else:
        return {**opened, "ticket": ticket.model_dump(mode="json"), "status": "running"}
    return {
        **opened,
        "status": "rejected",
        "errors": [{"node": "intake_ticket", "kind": "invalid_ticket", "message": message}],
    }
