"""The server's input check and the `{}` resume rewrite, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from server.inputs import RunInputError, check_run_input, normalize_resume


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (None, "input is required, got null"),
        ([1], "got a JSON array"),
        (3, "got a JSON number"),
        (True, "got a JSON boolean"),
        ("x", "got a JSON string"),
        ({"ticket_id": "T"}, 'no "ticket" key (keys found: ticket_id)'),
    ],
)
def test_bad_input_names_what_to_send(raw: Any, says: str) -> None:
    with pytest.raises(RunInputError, match="send") as caught:
        check_run_input({"input": raw}, "support")
    assert says in str(caught.value)
    assert '{"ticket": {' in str(caught.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input": {"ticket": None}},  # intake names the problem (status rejected)
        {"input": {"ticket": {"ticket_id": "T"}}},
        {"input": None, "command": {"resume": {}}},
        {"command": {"resume": {"decision": "approve"}}},
    ],
)
def test_wrapped_input_and_commands_pass(kwargs: dict[str, Any]) -> None:
    check_run_input(kwargs, "an-assistant-uuid")


def test_empty_resume_becomes_retry() -> None:
    kwargs: dict[str, Any] = {"command": {"resume": {}}}
    normalize_resume(kwargs)
    assert kwargs["command"]["resume"] == {"retry": True}
    other: dict[str, Any] = {"command": {"resume": {"decision": "reject"}}}
    normalize_resume(other)
    assert other["command"]["resume"] == {"decision": "reject"}


def test_every_served_graph_has_its_input_shape() -> None:
    import json
    from pathlib import Path

    from graphs.documents import DOCUMENTS
    from graphs.support import SUPPORT
    from server.inputs import SERVED_INPUTS

    served = json.loads((Path(__file__).resolve().parents[2] / "langgraph.json").read_text())
    assert {s.graph for s in SERVED_INPUTS} == set(served["graphs"])
    keys = {spec.name: spec.input_key for spec in (SUPPORT, DOCUMENTS)}
    assert {s.graph: s.key for s in SERVED_INPUTS} == keys
    check_run_input({"input": {"document": {"document_id": "D"}}}, "documents")
    with pytest.raises(RunInputError, match='send {"document": {'):
        check_run_input({"input": {"ticket": {}}}, "documents")
