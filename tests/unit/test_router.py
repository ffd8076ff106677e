"""The generic core as a table: a toy workflow's states → routes, spec validation, gate pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel

from nodes.gate import judge_proposals
from nodes.resources import Resources
from nodes.router import RoutingError, plan_for, route_next_step
from nodes.spec import (
    ActionSpec,
    CrossGate,
    GateInput,
    Limits,
    ReviewSpec,
    SubtaskSpec,
    WorkflowSpec,
)
from state.base import OrchestrationContext, Violation
from state.reducers import merge_pending


class Answer(BaseModel):
    value: int


def prompt(state: Mapping[str, Any], item: Any, limits: Limits) -> list[tuple[str, str]]:
    return [("system", "s"), ("user", "u")]


def gate(raw: Mapping[str, Any], given: GateInput) -> tuple[dict[str, Any] | None, list[Violation]]:
    if raw.get("value", -1) < 0:
        return None, [Violation(kind="plausibility", field="value", message="negative")]
    return dict(raw), []


async def act(resources: Any, state: Any, payload: dict[str, Any]) -> dict[str, Any]:
    return {"action_results": {"publish": {"done": True}}}


def due(state: Mapping[str, Any]) -> dict[str, Any] | None:
    results = state.get("results") or {}
    review = state.get("review") or {}
    if review.get("decision") == "no" or results.get("sum") is None:
        return None
    return {"sum": results["sum"]["value"]}


def big_sum(state: Mapping[str, Any], limits: Limits) -> str | None:
    total = (state.get("results") or {}).get("sum")
    return "big" if total and total["value"] > 100 else None


def model(sid: str, **extra: Any) -> SubtaskSpec:
    return SubtaskSpec(id=sid, agent=f"do_{sid}", output=Answer, prompt=prompt, gate=gate, **extra)


TOY = WorkflowSpec(
    name="toy",
    input_key="task",
    input_model=Answer,
    schema_version=1,
    state_schema=dict,
    input_schema=dict,
    output_schema=dict,
    context_schema=OrchestrationContext,
    subtasks=(
        model("a"),
        model("parts", depends_on=("a",), fanout=lambda s, lim: [{"n": 0}, {"n": 1}, {"n": 2}]),
        model("sum", depends_on=("parts",), tier="large"),
        model("tell", depends_on=("sum",), stage="respond", needed=lambda s: s.get("tell", True)),
    ),
    cross_gates=(
        CrossGate(
            name="sum_is_even",
            target="sum",
            source="a",
            check=lambda t, s, g: (
                []
                if t["value"] % 2 == 0
                else [Violation(kind="consistency", field="value", message="odd")]
            ),
        ),
    ),
    triggers=(big_sum,),
    actions=(ActionSpec(name="publish", due=due, perform=act),),
    review=ReviewSpec(
        packet=lambda s: {},
        resume_model=Answer,
        check=lambda r, s, c: None,
        settles=lambda r, s: {"sum"} if r.get("decision") == "no" else set(),
        refusal=lambda r: r.get("decision") == "no",
    ),
    output=lambda s: {},
)
PLAN = plan_for({}, TOY, Limits())
ONE = {"value": 2}
PARTS = {f"parts#{n}": ONE for n in range(3)}


def passed(*iids: str) -> dict[str, Any]:
    return {i: {"status": "passed", "attempt": 1, "tier": "small", "violations": []} for i in iids}


def gate_of(iid: str, status: str, attempt: int = 1) -> dict[str, Any]:
    return {iid: {"status": status, "attempt": attempt, "tier": "small", "violations": []}}


def state(**fields: Any) -> dict[str, Any]:
    return {"status": "running", "plan": PLAN, **fields}


def kinds(route: Any) -> list[str]:
    return [f"{d.subtask}@{d.tier}#{d.attempt}" for d in route.dispatches]


ROUTES = [
    ("rejected at intake", {"status": "rejected"}, "finalize", []),
    ("no plan", {"status": "running"}, "plan", []),
    ("first subtask", state(), "dispatch", ["a@small#1"]),
    (
        "fan-out in parallel",
        state(results={"a": ONE}),
        "dispatch",
        ["parts#0@small#1", "parts#1@small#1", "parts#2@small#1"],
    ),
    (
        "one item retried one tier up, the others wait",
        state(
            results={"a": ONE, "parts#0": ONE, "parts#2": ONE},
            gates=gate_of("parts#1", "failed"),
            failures={"parts#1": 1},
            attempts={"parts#1": 1},
        ),
        "dispatch",
        ["parts#1@large#2"],
    ),
    ("join after every item", state(results={"a": ONE, **PARTS}), "dispatch", ["sum@large#1"]),
    (
        "retry budget spent: a human",
        state(
            results={"a": ONE},
            gates=gate_of("parts#0", "failed", 3),
            failures={"parts#0": 3},
        ),
        "escalate",
        [],
    ),
    ("provider down: park", state(gates=gate_of("a", "unavailable")), "park", []),
    (
        "parked too often: a human",
        state(gates=gate_of("a", "unavailable"), parks=3),
        "escalate",
        [],
    ),
    (
        "trigger at the decision point",
        state(results={"a": ONE, **PARTS, "sum": {"value": 200}}),
        "escalate",
        [],
    ),
    (
        "reviewed: act",
        state(results={"a": ONE, **PARTS, "sum": {"value": 200}}, review={"decision": "ok"}),
        "act",
        [],
    ),
    ("action due", state(results={"a": ONE, **PARTS, "sum": ONE}), "act", []),
    (
        "respond after the action",
        state(results={"a": ONE, **PARTS, "sum": ONE}, action_results={"publish": {}}),
        "dispatch",
        ["tell@small#1"],
    ),
    (
        "respond not needed: finalize",
        state(results={"a": ONE, **PARTS, "sum": ONE}, action_results={"publish": {}}, tell=False),
        "finalize",
        [],
    ),
    (
        "a refusal settles the sum: no action, respond",
        state(
            results={"a": ONE},
            gates=gate_of("parts#0", "failed", 3),
            failures={"parts#0": 3},
            review={"decision": "no"},
        ),
        "dispatch",
        ["parts#1@small#1", "parts#2@small#1"],
    ),
]


@pytest.mark.parametrize(
    ("name", "given", "kind", "dispatched"), ROUTES, ids=[r[0] for r in ROUTES]
)
def test_route_table(name: str, given: dict[str, Any], kind: str, dispatched: list[str]) -> None:
    route = route_next_step(given, TOY, Limits())
    assert (route.kind, kinds(route)) == (kind, dispatched), name


def test_the_plan_expands_fan_outs_and_their_dependents() -> None:
    assert list(PLAN) == ["a", "parts#0", "parts#1", "parts#2", "sum", "tell"]
    assert PLAN["sum"]["depends_on"] == ["parts#0", "parts#1", "parts#2"]
    assert PLAN["parts#1"]["item"] == {"n": 1}


def test_a_blocked_subtask_is_a_routing_error() -> None:
    broken = {**PLAN, "sum": {**PLAN["sum"], "depends_on": ["nowhere"]}}
    with pytest.raises(RoutingError, match="cannot complete"):
        route_next_step(state(plan=broken, results={"a": ONE, **PARTS}), TOY, Limits())


def test_an_unknown_subtask_in_the_plan_is_a_routing_error() -> None:
    odd = {**PLAN, "x": {"id": "x", "subtask": "x", "agent": "x", "depends_on": []}}
    with pytest.raises(RoutingError, match="unknown subtasks"):
        route_next_step(state(plan=odd), TOY, Limits())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subtasks": (*TOY.subtasks, model("a"))}, "duplicate subtasks"),
        (
            {
                "subtasks": (model("a", depends_on=("b",)), model("b", depends_on=("a",))),
                "cross_gates": (),
            },
            "cycle a -> b -> a",
        ),
        ({"subtasks": (model("a", depends_on=("ghost",)),)}, "unknown subtasks"),
        (
            {
                "cross_gates": (
                    CrossGate(name="g", target="ghost", source="a", check=lambda *a: []),
                )
            },
            "unknown subtask 'ghost'",
        ),
        ({"subtasks": (SubtaskSpec(id="a", agent="do_a"),)}, "either a tool, or a prompt"),
    ],
)
def test_a_bad_spec_fails_when_its_graph_is_built(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(TOY, **change).validate()


def test_an_unknown_agent_fails_validation() -> None:
    with pytest.raises(ValueError, match="unknown agent 'do_a'"):
        TOY.validate(known_agents={"do_parts", "do_sum", "do_tell"})


def proposal(iid: str, value: int, attempt: int = 1) -> dict[str, Any]:
    return {
        "subtask": iid,
        "agent": f"do_{iid.split('#')[0]}",
        "attempt": attempt,
        "tier": "small",
        "output": {"value": value},
        "error": None,
        "unavailable": False,
        "endpoint": None,
        "cached": False,
    }


async def test_the_gate_pass_admits_refuses_and_withdraws() -> None:
    given = state(proposals={"a": proposal("a", 2), "parts#0": proposal("parts#0", -1)})
    update = await judge_proposals(given, TOY, None, Resources())
    assert update["results"] == {"a": {"value": 2}}
    assert update["gates"]["parts#0"]["status"] == "failed"
    assert update["failures"] == {"parts#0": 1}
    # The admitted proposal leaves the state (its output is in results); the refused stays.
    assert update["proposals"] == {"a": None}
    assert merge_pending(given["proposals"], update["proposals"]) == {
        "parts#0": given["proposals"]["parts#0"]
    }

    # A cross gate withdraws its target's result when either side is fresh and they disagree.
    later = state(
        results={"a": ONE, **PARTS},
        gates=passed("a", *PARTS),
        proposals={"sum": proposal("sum", 7)},
    )
    update = await judge_proposals(later, TOY, None, Resources())
    assert update["results"]["sum"] is None
    assert update["gates"]["sum"]["violations"][0]["message"] == "odd"
    assert update["failures"] == {"sum": 1}
    assert "sum" not in update["proposals"]  # a withdrawn output stays readable
    assert route_next_step({**later, **update}, TOY, Limits()).kind == "dispatch"
