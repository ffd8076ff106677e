"""The deterministic supervisor of the support graph: a pure function of state to the next step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from state.money import to_cents
from state.schemas import REFUND_INTENTS, ReplyOutcome

RouteKind = Literal["plan", "dispatch", "escalate", "park", "act", "finalize"]

SUBTASK_ORDER = ("classify", "extract", "context", "decide", "reply")
"""Every subtask of a support plan, in the order they are considered."""


class RoutingError(RuntimeError):
    """The state is one the supervisor has no rule for (a bug upstream, never a model's fault)."""


@dataclass(frozen=True)
class Limits:
    """The run settings the supervisor's rules read."""

    retry_budget: int = 3
    auto_approve_limit: float = 50.0
    low_confidence: float = 0.5
    complex_ticket_chars: int = 600


@dataclass(frozen=True)
class Dispatch:
    """One worker to start: which subtask, on which node and tier, as which attempt."""

    subtask: str
    agent: str
    tier: str
    attempt: int


@dataclass(frozen=True)
class Route:
    """The supervisor's decision."""

    kind: RouteKind
    dispatches: tuple[Dispatch, ...] = ()
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def route_next_step(state: Mapping[str, Any], limits: Limits = Limits()) -> Route:
    """Decide the next step of a support run from its state alone.

    The rules, in order: a ticket rejected at intake is finalized; a run without a plan is
    planned; a subtask whose provider is down parks the run; a subtask that failed its gate
    `retry_budget` times goes to a human; ready subtasks are dispatched in parallel, a retry
    on the large tier; at the decision point a policy trigger (legal threat, low confidence,
    refund above the auto-approve limit) goes to a human; an approved refund is acted on;
    the reply is drafted; then the run is finalized.

    Args:
        state: The run's state (a plain mapping; see `state.support.SupportState`).
        limits: The run settings the rules use.

    Returns:
        The route to take.

    Raises:
        RoutingError: When no rule matches (for example a plan naming an unknown subtask).
    """
    if state.get("status") == "rejected" and not state.get("plan"):
        return Route("finalize", reason="rejected_at_intake")
    plan: Mapping[str, Any] | None = state.get("plan")
    if not plan:
        return Route("plan")
    unknown = set(plan) - set(SUBTASK_ORDER)
    if unknown:
        raise RoutingError(f"plan names unknown subtasks: {sorted(unknown)}")

    gates: Mapping[str, Any] = state.get("gates") or {}
    review = state.get("review")

    down = sorted(sid for sid, gate in gates.items() if gate.get("status") == "unavailable")
    if down:
        tiers = sorted({str(gates[sid].get("tier")) for sid in down})
        return Route(
            "park", reason="provider_unavailable", detail={"subtasks": down, "tiers": tiers}
        )

    failures: Mapping[str, int] = state.get("failures") or {}
    exhausted = [
        sid
        for sid, gate in gates.items()
        if gate.get("status") == "failed" and failures.get(sid, 0) >= limits.retry_budget
    ]
    if exhausted and not review:
        return Route("escalate", reason="retry_budget_exhausted", detail={"subtasks": exhausted})
    waived = set(exhausted) if review else set()

    results: Mapping[str, Any] = state.get("results") or {}
    done = {sid for sid, result in results.items() if result is not None} | waived
    intent = (results.get("classify") or {}).get("intent")
    needed = _needed_subtasks(plan, intent, "classify" in done)

    ready = [
        sid
        for sid in needed
        if sid != "reply" and sid not in done and set(plan[sid]["depends_on"]) <= done
    ]
    if ready:
        return Route("dispatch", tuple(_dispatch(sid, state, limits) for sid in ready))
    pending = [sid for sid in needed if sid != "reply" and sid not in done]
    if pending:
        raise RoutingError(f"subtasks {pending} wait on dependencies that cannot complete")

    # Decision point: every fact-finding subtask is done (or waived by a human).
    if not review:
        trigger = _policy_trigger(results, limits)
        if trigger:
            return Route("escalate", reason=trigger)
    if refund_to_issue(state) is not None and state.get("refund") is None:
        return Route("act")
    if "reply" in plan and "reply" not in done:
        return Route("dispatch", (_dispatch("reply", state, limits),))
    return Route("finalize", reason="done")


def _needed_subtasks(plan: Mapping[str, Any], intent: str | None, classified: bool) -> list[str]:
    """Subtasks the run still needs: `decide` only once the intent is known to be a refund."""
    needed = []
    for sid in SUBTASK_ORDER:
        if sid not in plan:
            continue
        if sid == "decide" and not (classified and intent in REFUND_INTENTS):
            continue
        needed.append(sid)
    return needed


def _dispatch(sid: str, state: Mapping[str, Any], limits: Limits) -> Dispatch:
    """Build the dispatch of one subtask: the first try on its tier, a retry on the large one."""
    subtask = state["plan"][sid]
    attempt = (state.get("attempts") or {}).get(sid, 0) + 1
    retrying = (state.get("failures") or {}).get(sid, 0) > 0
    tier = subtask["tier"]
    if sid == "reply":
        tier = reply_tier(state, limits)
    if retrying and tier == "small":
        tier = "large"
    return Dispatch(subtask=sid, agent=subtask["agent"], tier=tier, attempt=attempt)


def reply_tier(state: Mapping[str, Any], limits: Limits) -> str:
    """Tier of the reply by complexity: refunds, escalations and long tickets get the large tier."""
    results = state.get("results") or {}
    classification = results.get("classify") or {}
    body = (state.get("ticket") or {}).get("body") or ""
    complex_ticket = (
        classification.get("intent") in REFUND_INTENTS
        or classification.get("legal_threat")
        or state.get("review") is not None
        or len(body) > limits.complex_ticket_chars
    )
    return "large" if complex_ticket else "small"


def _policy_trigger(results: Mapping[str, Any], limits: Limits) -> str | None:
    """The reason a human must look before anything is done, if there is one."""
    classification = results.get("classify") or {}
    decision = results.get("decide") or {}
    if classification.get("legal_threat"):
        return "legal_threat"
    if classification and classification.get("confidence", 1.0) < limits.low_confidence:
        return "low_confidence"
    if decision and decision.get("confidence", 1.0) < limits.low_confidence:
        return "low_confidence"
    if decision.get("approve") and to_cents(decision.get("amount", 0.0)) > to_cents(
        limits.auto_approve_limit
    ):
        return "refund_above_auto_limit"
    return None


def refund_to_issue(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The refund the run should issue, from the gated decision and any human review.

    Returns:
        `{"amount", "currency", "order_id"}`, or None when no refund is due.
    """
    results = state.get("results") or {}
    decision = results.get("decide") or {}
    facts = state.get("facts") or {}
    order = facts.get("order") or {}
    review = state.get("review")
    if review is not None:
        if review["decision"] == "reject":
            return None
        if review["decision"] == "edit":
            amount = float(review["amount"])
        elif decision.get("approve"):
            amount = float(decision["amount"])
        else:
            return None
    elif decision.get("approve"):
        amount = float(decision["amount"])
    else:
        return None
    if not order or amount <= 0:
        return None
    return {"amount": amount, "currency": order["currency"], "order_id": order["order_id"]}


def _denial_reason(decision: Mapping[str, Any], refund: Mapping[str, Any] | None) -> str | None:
    """Why no refund was issued: the ledger's refusal wins over an approving decision."""
    if refund is not None and not refund.get("issued"):
        return "already_refunded"
    return decision.get("reason_code")


def reply_outcome(state: Mapping[str, Any]) -> ReplyOutcome:
    """What was decided and done, as `state.schemas.ReplyOutcome`, for the reply and its gate."""
    results = state.get("results") or {}
    decision = results.get("decide") or {}
    facts = state.get("facts") or {}
    order = facts.get("order") or {}
    review = state.get("review")
    refund = state.get("refund")
    verdict: Literal["approved", "denied", "rejected_by_human", "none"]
    if review is not None and review["decision"] == "reject":
        verdict = "rejected_by_human"
    elif refund and refund.get("issued"):
        verdict = "approved"
    elif decision:
        verdict = "denied"
    else:
        verdict = "none"
    return {
        "intent": (results.get("classify") or {}).get("intent") or "other",
        "decision": verdict,
        "denial_reason": _denial_reason(decision, refund) if verdict == "denied" else None,
        "refund": (
            {"issued": True, "amount": refund["amount"], "currency": refund["currency"]}
            if refund and refund.get("issued")
            else None
        ),
        "order_status": order.get("status"),
        "escalated": review is not None,
    }


# --- what the supervisor node needs around the pure router ---------------------------------

SupervisorTarget = Literal[
    "plan_subtasks",
    "classify_intent",
    "extract_entities",
    "gather_context",
    "decide_refund",
    "draft_reply",
    "escalate_to_human",
    "park_run",
    "issue_refund",
    "finalize_run",
]


def limits_from_context(context: Any) -> Limits:
    """The supervisor's limits from the run's `SupportContext` (defaults when none is given)."""
    if context is None:
        return Limits()
    return Limits(
        retry_budget=context.retry_budget,
        auto_approve_limit=context.auto_approve_limit,
        low_confidence=context.low_confidence,
        complex_ticket_chars=context.complex_ticket_chars,
    )


def worker_task(state: Mapping[str, Any], dispatch: Dispatch) -> dict[str, Any]:
    """The `Send` payload of one dispatch: only what the worker needs to read."""
    return {
        "subtask": dispatch.subtask,
        "agent": dispatch.agent,
        "tier": dispatch.tier,
        "attempt": dispatch.attempt,
        "ticket": state["ticket"],
        "facts": state.get("facts"),
        "results": dict(state.get("results") or {}),
        "outcome": reply_outcome(state) if dispatch.subtask == "reply" else None,
        "feedback": retry_feedback(state, dispatch.subtask),
    }


def retry_feedback(state: Mapping[str, Any], sid: str) -> list[str]:
    """The previous attempt's violations, told to the retry so it does not repeat them."""
    gate = (state.get("gates") or {}).get(sid) or {}
    if gate.get("status") != "failed":
        return []
    return [f"{v['kind']} on {v['field']}: {v['message']}" for v in gate.get("violations") or []]
