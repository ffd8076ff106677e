"""Properties of intake and the server's input check: any input, no crash, a named error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from property_strategies import JSON, ticket_like
from pydantic import ValidationError

from graphs.support import SUPPORT, ticket_id_of
from nodes.intake import open_run
from server.inputs import RunInputError, check_run_input, normalize_resume
from state.schemas import Ticket


@settings(max_examples=150, deadline=None)
@given(raw=st.one_of(JSON, ticket_like()))
def test_intake_accepts_exactly_the_valid_tickets_and_names_every_bad_field(raw: Any) -> None:
    update = open_run(SUPPORT, {"ticket": raw}, ticket_id_of)
    try:
        expected = Ticket.model_validate(raw) if isinstance(raw, dict) else None
        problems: list[str] = []
    except ValidationError as exc:
        expected = None
        problems = [".".join(map(str, ("ticket", *e["loc"]))) for e in exc.errors()]
    if expected is not None:
        assert update["status"] == "running"
        assert update["ticket"] == expected.model_dump(mode="json")
        assert "errors" not in update
        return
    assert update["status"] == "rejected"
    assert "ticket" not in update, "a rejected ticket is not half-accepted"
    (error,) = update["errors"]
    assert error["kind"] == "invalid_ticket"
    if not isinstance(raw, dict):
        assert error["message"].startswith("ticket must be a JSON object")
        assert 'send {"ticket": {' in error["message"]
    for where in problems:
        assert where in error["message"], (where, error["message"])
    assert update["ticket_id"] == (raw.get("ticket_id") if isinstance(raw, dict) else None)


RESUMES = st.none() | st.just({}) | st.fixed_dictionaries({"resume": JSON})


@settings(max_examples=150, deadline=None)
@given(
    payload=st.one_of(JSON, ticket_like(), st.fixed_dictionaries({"ticket": JSON | ticket_like()})),
    command=RESUMES,
    assistant=st.sampled_from(["support", "a-uuid", None]),
)
def test_server_input_check_passes_wrapped_input_and_names_what_to_send(
    payload: Any, command: Any, assistant: Any
) -> None:
    kwargs: dict[str, Any] = {"input": payload, "command": command}
    resumed = isinstance(command, Mapping) and any(v is not None for v in command.values())
    try:
        check_run_input(kwargs, assistant)
    except RunInputError as exc:
        assert not resumed
        assert not (isinstance(payload, Mapping) and "ticket" in payload)
        assert 'send {"ticket": {' in str(exc)
    else:
        assert resumed or (isinstance(payload, Mapping) and "ticket" in payload)
    before = command.get("resume") if isinstance(command, dict) else None
    normalize_resume(kwargs)
    after = kwargs["command"].get("resume") if isinstance(kwargs["command"], dict) else None
    assert after == ({"retry": True} if before == {} else before)
