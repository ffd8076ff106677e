"""The support workflow's gates, adapted to the core: each agent's gate and the cross check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nodes.spec import GateInput
from nodes.support.context import policy_from_context
from nodes.support.rules import reply_outcome
from state.base import Violation
from state.schemas import IntentClassification, Ticket
from validators.consistency import check_intent_consistent
from validators.gates import GateContext, run_gate

CoreGate = Callable[[Mapping[str, Any], GateInput], tuple[dict[str, Any] | None, list[Violation]]]


def support_gate(agent: str) -> CoreGate:
    """The core gate of `agent`: its support gate with the context the run's state gives."""

    def gate(
        raw: Mapping[str, Any], given: GateInput
    ) -> tuple[dict[str, Any] | None, list[Violation]]:
        ctx = GateContext(
            ticket=Ticket.model_validate(given.state["ticket"]),
            facts=given.results.get("context"),
            outcome=reply_outcome(given.state) if agent == "draft_reply" else None,
            policy=policy_from_context(given.settings),
            entities=given.results.get("extract"),
        )
        verdict = run_gate(agent, raw, ctx)
        return verdict.output, verdict.violations

    gate.__name__ = f"gate_{agent}"
    return gate


def classification_agrees_with_entities(
    classification: Mapping[str, Any], entities: Mapping[str, Any], given: GateInput
) -> list[Violation]:
    """The classifier and the extractor read the same ticket: their answers must agree."""
    return check_intent_consistent(IntentClassification.model_validate(classification), entities)
