"""The `support` workflow: customer-support tickets, refunds included, as a spec on the core."""

from __future__ import annotations

from typing import Any

from graphs.build import build_graph
from nodes.resources import Resources, server_resources
from nodes.spec import (
    ActionSpec,
    CrossGate,
    ReviewSpec,
    State,
    SubtaskSpec,
    WorkflowSpec,
)
from nodes.support.context import context_input, gather_context
from nodes.support.gates import classification_agrees_with_entities, support_gate
from nodes.support.prompts import classify_prompt, decide_prompt, extract_prompt, reply_prompt
from nodes.support.refund import issue_refund
from nodes.support.review import (
    ReviewDecision,
    check_review_against_facts,
    is_refusal,
    review_packet,
    settled_by_review,
)
from nodes.support.rules import TRIGGERS, needs_decision, refund_to_issue, reply_tier
from state.migrations import support_v1_to_v2
from state.schemas import (
    IntentClassification,
    RefundDecision,
    ReplyDraft,
    Ticket,
    TicketEntities,
)
from state.support import (
    SCHEMA_VERSION,
    SupportContext,
    SupportInput,
    SupportOutput,
    SupportState,
)


def support_output(state: State) -> dict[str, Any]:
    """What a caller reads at the end: the reply, the refund, the intent and entities."""
    results = state.get("results") or {}
    reply = (results.get("reply") or {}).get("reply")
    if reply is None and state.get("plan"):
        reply = HOLDING_REPLY
    return {**support_progress(state), "reply": reply}


def support_progress(state: State) -> dict[str, Any]:
    """The intent, entities and refund, readable while a run waits on a human."""
    results = state.get("results") or {}
    classification = results.get("classify")
    return {
        "intent": classification["intent"] if classification else None,
        "entities": results.get("extract"),
        "refund": (state.get("action_results") or {}).get("issue_refund"),
    }


def ticket_id_of(raw: Any) -> dict[str, Any]:
    """The ticket id, readable from intake on, whatever the ticket's shape."""
    return {"ticket_id": raw.get("ticket_id") if isinstance(raw, dict) else None}


HOLDING_REPLY = (
    "Thank you for your message. A member of our support team has reviewed your request "
    "and will follow up with you shortly."
)
"""Sent when no drafted reply passed its gate (a human reviewed the run instead)."""

SUPPORT = WorkflowSpec(
    name="support",
    input_key="ticket",
    input_model=Ticket,
    schema_version=SCHEMA_VERSION,
    state_schema=SupportState,
    input_schema=SupportInput,
    output_schema=SupportOutput,
    context_schema=SupportContext,
    describe_input='{"ticket": {"ticket_id", "customer_id", "subject", "body", "channel"}}',
    subtasks=(
        SubtaskSpec(
            id="classify",
            agent="classify_intent",
            output=IntentClassification,
            prompt=classify_prompt,
            gate=support_gate("classify_intent"),
        ),
        SubtaskSpec(
            id="extract",
            agent="extract_entities",
            output=TicketEntities,
            prompt=extract_prompt,
            gate=support_gate("extract_entities"),
        ),
        SubtaskSpec(
            id="context",
            agent="gather_context",
            tool=gather_context,
            tool_input=context_input,
            depends_on=("extract",),
        ),
        SubtaskSpec(
            id="decide",
            agent="decide_refund",
            output=RefundDecision,
            prompt=decide_prompt,
            gate=support_gate("decide_refund"),
            tier="large",
            depends_on=("classify", "context"),
            needed=needs_decision,
        ),
        SubtaskSpec(
            id="reply",
            agent="draft_reply",
            output=ReplyDraft,
            prompt=reply_prompt,
            gate=support_gate("draft_reply"),
            tier=reply_tier,
            depends_on=("classify", "context"),
            stage="respond",
        ),
    ),
    cross_gates=(
        CrossGate(
            name="classification_agrees_with_entities",
            target="classify",
            source="extract",
            check=classification_agrees_with_entities,
        ),
    ),
    triggers=TRIGGERS,
    actions=(ActionSpec(name="issue_refund", due=refund_to_issue, perform=issue_refund),),
    review=ReviewSpec(
        packet=review_packet,
        resume_model=ReviewDecision,
        check=check_review_against_facts,
        settles=settled_by_review,
        refusal=is_refusal,
    ),
    output=support_output,
    progress=support_progress,
    migrations={1: support_v1_to_v2},
)
"""The support workflow: classify ∥ extract → context → decide → (review) → refund → reply."""


def make_builder(resources: Resources) -> Any:
    """The support graph's builder, its nodes bound to `resources` (CLI, tests, evals)."""
    return build_graph(SUPPORT, resources, opened=ticket_id_of)


builder = make_builder(server_resources())
"""The builder `langgraph.json`'s graph is compiled from, bound to the server's resources."""

graph = builder.compile(name="support").with_config(
    tags=["graph:support"], metadata={"graph": "support"}
)
"""The graph `langgraph.json` serves; the server brings its own checkpointer."""
