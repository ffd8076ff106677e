"""Structured logs: JSON lines, correlation ids inside a run, secrets redacted."""

from __future__ import annotations

import logging as std_logging
import operator
from typing import Annotated, Any, TypedDict

import pytest
import structlog
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from pydantic import SecretStr

from nodes.common import versioned
from telemetry.logging import (
    MODEL_CALL_FIELDS,
    REDACTED,
    RUN_FIELDS,
    SECRETS,
    build_processors,
    capture_log_lines,
    configure_logging,
    get_logger,
    redact,
    register_secret,
    register_sensitive_field,
)

log = get_logger("tests.telemetry")


@pytest.fixture(autouse=True)
def forget_registered_secrets() -> Any:
    yield
    SECRETS.clear_values()


def test_sensitive_fields_are_redacted_at_any_depth() -> None:
    with capture_log_lines() as lines:
        log.info(
            "calling",
            api_key="sk-live-abcdefghijklmnopqrstuvwxyz",
            headers={"Authorization": "Bearer abc.def.ghi", "X-Api-Key": "k-123456789"},
            password="hunter22",
            token="t0k3n-value",
            config={"openai_api_key": "whatever-it-is", "client_secret": "shh-secret"},
            token_usage={"input_tokens": 12, "output_tokens": 5},
            max_tokens=256,
        )
    (record,) = lines.events("calling")
    assert record["api_key"] == REDACTED
    assert record["headers"] == {"Authorization": REDACTED, "X-Api-Key": REDACTED}
    assert record["password"] == REDACTED and record["token"] == REDACTED
    assert record["config"] == {"openai_api_key": REDACTED, "client_secret": REDACTED}
    # Token counts are not tokens.
    assert record["token_usage"] == {"input_tokens": 12, "output_tokens": 5}
    assert record["max_tokens"] == 256


def test_registered_secret_values_are_removed_from_any_text() -> None:
    register_secret("per-agent-key-7f3a9c")
    register_secret(SecretStr("pydantic-secret-value"))
    register_secret("abc")  # too short to register: it would shred ordinary text
    with capture_log_lines() as lines:
        log.warning(
            "provider_error",
            error="401 from https://api.example/v1 with key per-agent-key-7f3a9c",
            detail=["pydantic-secret-value", ("nested", "per-agent-key-7f3a9c")],
            note="abc is fine",
        )
        try:
            raise RuntimeError("upstream echoed per-agent-key-7f3a9c back")
        except RuntimeError:
            log.exception("crashed")
    raw = lines.buffer.getvalue()
    assert "per-agent-key-7f3a9c" not in raw and "pydantic-secret-value" not in raw
    (record,) = lines.events("provider_error")
    assert record["error"].endswith(f"with key {REDACTED}")
    assert record["detail"] == [REDACTED, ["nested", REDACTED]]
    assert record["note"] == "abc is fine"
    (crash,) = lines.events("crashed")
    assert REDACTED in crash["exception"] and "RuntimeError" in crash["exception"]


def test_secret_shapes_are_redacted_without_registration() -> None:
    text = redact("curl -H 'Authorization: Bearer eyJhbGciOi.J9x' with sk-ABCDEFGHIJKLMNOPQRSTUV")
    assert "eyJhbGciOi" not in text and "sk-ABCDEFGHIJ" not in text
    assert text.count(REDACTED) == 2


def test_configured_sensitive_field_names(monkeypatch: pytest.MonkeyPatch) -> None:
    register_sensitive_field("customer_ssn")
    configure_logging(
        sensitive_fields=["card_number"], environ={"CONDUCTOR_LOG_REDACT_FIELDS": "iban, pin"}
    )
    with capture_log_lines() as lines:
        log.info("pii", customer_ssn="123-45-6789", card_number="4111", iban="DE00", pin="0000")
    (record,) = lines.events("pii")
    for key in ("customer_ssn", "card_number", "iban", "pin"):
        assert record[key] == REDACTED


def test_lines_are_json_and_respect_the_level() -> None:
    with capture_log_lines(level="WARNING") as lines:
        log.info("hidden")
        log.warning("shown", count=2)
    (record,) = lines.records
    assert record["event"] == "shown" and record["level"] == "warning"
    assert record["logger"] == "tests.telemetry" and "timestamp" in record


def test_console_renderer_when_asked() -> None:
    final = build_processors("console")[-1]
    assert isinstance(final, structlog.dev.ConsoleRenderer)
    assert isinstance(build_processors("json")[-1], structlog.processors.JSONRenderer)
    with pytest.raises(ValueError, match="log format"):
        configure_logging(renderer="xml")


class TinyState(TypedDict, total=False):
    seen: Annotated[list[str], operator.add]
    version: Annotated[int, operator.add]


@versioned
async def route_ticket(state: TinyState) -> dict[str, Any]:
    log.info("routing")
    return {"seen": ["route_ticket"]}


@versioned
async def classify_intent(state: TinyState) -> dict[str, Any]:
    with structlog.contextvars.bound_contextvars(agent="classify_intent", attempt=2, tier="large"):
        log.info("agent_call")
    return {"seen": ["classify_intent"]}


async def test_every_line_inside_a_run_carries_the_correlation_fields() -> None:
    builder = StateGraph(TinyState)
    builder.add_node(route_ticket)
    builder.add_node(classify_intent)
    builder.add_edge(START, "route_ticket")
    builder.add_edge("route_ticket", "classify_intent")
    builder.add_edge("classify_intent", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    with capture_log_lines() as lines:
        await graph.ainvoke({"seen": []}, {"configurable": {"thread_id": "wf-123"}})
        log.info("outside_any_run")
    (routing,) = lines.events("routing")
    (call,) = lines.events("agent_call")
    for record in (routing, call):
        assert set(RUN_FIELDS) <= set(record), record
        assert record["workflow_id"] == "wf-123"
    assert routing["node"] == "route_ticket" and routing["agent"] is None
    assert routing["attempt"] == 1  # LangGraph's node attempt where no subtask attempt is bound
    assert call["node"] == "classify_intent" and call["agent"] == "classify_intent"
    assert call["attempt"] == 2 and call["tier"] == "large"
    (outside,) = lines.events("outside_any_run")
    assert "workflow_id" not in outside and "agent" not in outside


async def test_model_call_lines_carry_the_issue_fields(graph: Any, gateway: Any) -> None:
    ticket = {
        "ticket_id": "T-LOG",
        "customer_id": "C008",
        "subject": "Where is it?",
        "body": "Where is my order ORD-10008? Tracking has not moved.",
        "channel": "chat",
    }
    with capture_log_lines() as lines:
        await graph.ainvoke({"ticket": ticket}, {"configurable": {"thread_id": "wf-log-1"}})
    calls = [r for r in lines.records if "result_status" in r and "endpoint" in r]
    assert calls, [r.get("event") for r in lines.records]
    for record in calls:
        missing = (set(RUN_FIELDS) | set(MODEL_CALL_FIELDS)) - set(record)
        assert not missing, (missing, record)
        assert record["workflow_id"] == "wf-log-1"
        assert record["agent"] and record["tier"] in ("small", "large")
    assert {r["agent"] for r in calls} >= {"classify_intent", "extract_entities"}
    run_lines = [r for r in lines.records if r.get("workflow_id") == "wf-log-1"]
    assert all(set(RUN_FIELDS) <= set(r) for r in run_lines)


def test_stdlib_records_are_redacted_when_conductor_owns_logging() -> None:
    from telemetry import logging as telemetry_logging

    if telemetry_logging._settings.stdlib_handler is None:  # noqa: SLF001
        pytest.skip("another host configured logging first")
    register_secret("stdlib-leaked-key-42")
    with capture_log_lines() as lines:
        std_logging.getLogger("some.library").warning("retrying with stdlib-leaked-key-42")
    (record,) = [r for r in lines.records if r.get("logger") == "some.library"]
    assert record["event"] == f"retrying with {REDACTED}" and record["level"] == "warning"
