"""One deterministic gate per agent: format first, then plausibility, consistency, policy."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from state.schemas import (
    Facts,
    IntentClassification,
    RefundDecision,
    ReplyDraft,
    ReplyOutcome,
    Ticket,
    TicketEntities,
    Violation,
)
from validators.consistency import (
    check_decision_amount,
    check_decision_consistent,
    check_decision_matches_request,
    check_entities_amount_asked,
    check_entities_consistent,
    check_intent_consistent,
    check_reply_consistent,
)
from validators.format import check_format
from validators.plausibility import check_decision_plausible, check_entities_plausible
from validators.policy import RefundPolicy, check_refund_policy


@dataclass(frozen=True)
class GateContext:
    """What a gate may check an output against. Ticket text in it is data, never instructions."""

    ticket: Ticket
    """The ticket being handled."""
    facts: Facts | None = None
    """The store's facts (needed by the decide_refund gate)."""
    outcome: ReplyOutcome | None = None
    """What was decided and done (needed by the draft_reply gate)."""
    policy: RefundPolicy = field(default_factory=RefundPolicy)
    """The refund policy in force; it wins over `facts["policy"]`."""
    entities: Mapping[str, Any] | None = None
    """The extractor's gated output, when known: the classifier and the decider must agree."""


@dataclass(frozen=True)
class GateResult:
    """A gate's verdict on one agent output."""

    passed: bool
    """True when there is no violation."""
    output: dict[str, Any] | None
    """The validated output as a JSON-safe dict, only when the gate passed."""
    violations: list[Violation]
    """Every reason the output was refused; empty when it passed."""


Gate = Callable[[Mapping[str, Any] | BaseModel, GateContext], GateResult]
"""A gate: an agent's raw output and its context in, a verdict out."""


def _verdict(model: BaseModel, violations: list[Violation]) -> GateResult:
    if violations:
        return GateResult(passed=False, output=None, violations=violations)
    return GateResult(passed=True, output=model.model_dump(mode="json"), violations=[])


def _refused(violations: list[Violation]) -> GateResult:
    return GateResult(passed=False, output=None, violations=violations)


CONVERSION_ERRORS = (ValueError, ArithmeticError, TypeError)
"""What checking a model's value can raise (an infinite or huge amount, a bad decimal)."""


def _never_crash(gate: Gate) -> Gate:
    """Wrap a gate so that a value it cannot convert is a violation, never a crash.

    The schemas reject NaN and infinity, but a gate must hold even for output that slipped
    past them (an instance built without validation, a number too large for cents): the
    output is refused with a `format` violation and the worker's retry budget decides.
    """

    @functools.wraps(gate)
    def guarded(raw_output: Mapping[str, Any] | BaseModel, ctx: GateContext) -> GateResult:
        try:
            return gate(raw_output, ctx)
        except CONVERSION_ERRORS as exc:
            message = f"could not check the output: {type(exc).__name__}: {exc}"[:300]
            return _refused([Violation(kind="format", field="*", message=message)])

    return guarded


def _missing(kind: Literal["plausibility", "consistency"], what: str) -> GateResult:
    message = f"no {what} in the gate context to check against"
    return _refused([Violation(kind=kind, field="*", message=message)])


@_never_crash
def gate_classify_intent(raw_output: Mapping[str, Any] | BaseModel, ctx: GateContext) -> GateResult:
    """Gate classify_intent: format, a finite confidence in [0, 1], agreement with the extractor."""
    model, violations = check_format(IntentClassification, raw_output)
    if model is None:
        return _refused(violations)
    if not (math.isfinite(model.confidence) and 0.0 <= model.confidence <= 1.0):
        violations.append(
            Violation(
                kind="plausibility",
                field="confidence",
                message=f"confidence {model.confidence!r} is outside [0, 1]",
            )
        )
    violations += check_intent_consistent(model, ctx.entities)
    return _verdict(model, violations)


@_never_crash
def gate_extract_entities(
    raw_output: Mapping[str, Any] | BaseModel, ctx: GateContext
) -> GateResult:
    """Gate extract_entities: format, plausibility, and occurrence in the subject and body."""
    model, violations = check_format(TicketEntities, raw_output)
    if model is None:
        return _refused(violations)
    text = f"{ctx.ticket.subject}\n{ctx.ticket.body}"
    violations += check_entities_plausible(model)
    violations += check_entities_consistent(model, text)
    violations += check_entities_amount_asked(model, text)
    return _verdict(model, violations)


@_never_crash
def gate_decide_refund(raw_output: Mapping[str, Any] | BaseModel, ctx: GateContext) -> GateResult:
    """Gate decide_refund: format, plausibility and consistency against the facts, policy."""
    model, violations = check_format(RefundDecision, raw_output)
    if model is None:
        return _refused(violations)
    if ctx.facts is None:
        return _missing("plausibility", "facts")
    customer_id, ticket_id = ctx.ticket.customer_id, ctx.ticket.ticket_id
    violations += check_decision_plausible(model, ctx.facts, customer_id)
    violations += check_decision_consistent(model, ctx.facts, customer_id, ctx.policy)
    violations += check_decision_amount(model, ctx.entities, ctx.facts)
    violations += check_decision_matches_request(
        model, f"{ctx.ticket.subject}\n{ctx.ticket.body}", ctx.facts
    )
    violations += check_refund_policy(model, ctx.facts, customer_id, ticket_id, ctx.policy)
    return _verdict(model, violations)


@_never_crash
def gate_draft_reply(raw_output: Mapping[str, Any] | BaseModel, ctx: GateContext) -> GateResult:
    """Gate draft_reply: format, and no promise the outcome does not show."""
    model, violations = check_format(ReplyDraft, raw_output)
    if model is None:
        return _refused(violations)
    if ctx.outcome is None:
        return _missing("consistency", "outcome")
    violations += check_reply_consistent(model, ctx.outcome)
    return _verdict(model, violations)


GATES: dict[str, Gate] = {
    "classify_intent": gate_classify_intent,
    "extract_entities": gate_extract_entities,
    "decide_refund": gate_decide_refund,
    "draft_reply": gate_draft_reply,
}
"""The gate of each model-calling agent of the support graph, by agent name."""


def run_gate(agent: str, raw_output: Mapping[str, Any] | BaseModel, ctx: GateContext) -> GateResult:
    """Run the gate of `agent` on its raw output.

    Args:
        agent: The agent's name, a key of `GATES`.
        raw_output: The output as the model returned it.
        ctx: What the gate may check the output against.

    Returns:
        The gate's verdict.

    Raises:
        KeyError: When no gate is registered for `agent`.
    """
    try:
        gate = GATES[agent]
    except KeyError:
        raise KeyError(f"no gate for agent {agent!r}; known: {sorted(GATES)}") from None
    return gate(raw_output, ctx)
