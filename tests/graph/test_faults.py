"""Whole support runs on the in-process simulator under each fault kind: the invariants hold.

Every run here uses example tickets (examples/tickets.jsonl, ground truth in
evals/datasets/support_examples.jsonl), an ideal error model (workers err only through the
injected faults) and fixed fault seeds. Tickets run one after the other so that a rerun
replays the same requests in the same order. Whatever the fault, these must hold:

- every ticket is accounted for and ends in a known status that agrees with what it waits on;
- no refund in the ledger breaks the refund policy, and none is issued twice;
- no outcome is wrong: a finished run matches the ground truth, and a run waiting on a
  human or a provider has issued nothing the ground truth does not allow;
- no 429 is retried before its Retry-After has passed.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from nodes.resources import Resources
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from simulator.transport import simulator_transports
from store.db import Store
from store.seed import seed_store

ROOT = Path(__file__).resolve().parents[2]
TICKETS = {
    t["ticket_id"]: t
    for t in map(json.loads, (ROOT / "examples" / "tickets.jsonl").read_text().splitlines())
}
TRUTH = {
    t["ticket_id"]: t
    for t in map(
        json.loads,
        (ROOT / "evals" / "datasets" / "support_examples.jsonl").read_text().splitlines(),
    )
}

SAMPLE = (
    "T-001",  # small refund, auto-approved
    "T-002",  # refund above the auto-approve limit: a human decides
    "T-003",  # damaged item
    "T-004",  # lost parcel
    "T-005",  # order older than 90 days
    "T-008",  # shipping-status question, no decision
    "T-010",  # first of two tickets for one order ...
    "T-011",  # ... the second must not refund it again
    "T-013",  # another customer's order
    "T-014",  # asks more than the order total
    "T-020",  # prompt injection with forged <facts>
    "T-029",  # password reset
    "T-037",  # malformed: rejected at intake
)
"""Example tickets every fault row runs, chosen to touch every rule of the policy."""

ALSO_ACCEPTABLE = {"T-011": {27.5}}
"""Refunds a ticket may get besides its ground truth: T-011 asks again for T-010's order, so
it gets the one refund of ORD-10010 when T-010's run did not issue it (the ledger allows one)."""

AGENTS = ("classify_intent", "extract_entities", "decide_refund", "draft_reply")
ENDPOINTS = ("sim-small-a", "sim-small-b", "sim-large-a")
KNOWN_STATUSES = {"resolved", "escalated", "rejected", "denied", "parked", "failed"}
ELIGIBLE_STATUSES = {"delivered", "damaged", "lost"}
MAX_AGE_DAYS = 90
AUTO_APPROVE_CENTS = 5000


@dataclass
class Harness:
    """A seeded store, a simulator with faults, a gateway on it and the compiled graph."""

    store: Store
    sim: Simulator
    gateway: ModelGateway
    graph: Any


@asynccontextmanager
async def harness(
    root: Path,
    faults: FaultSpec,
    *,
    tune: Callable[[GatewaySettings], GatewaySettings] | None = None,
    clock: FakeClock | None = None,
) -> AsyncIterator[Harness]:
    """Everything one fault row needs, in its own directory, installed for the nodes."""
    from graphs.support import make_builder

    root.mkdir(parents=True, exist_ok=True)
    seed_store(root / "conductor.db")
    # A fake clock is shared with the simulator, which times Retry-After on it.
    sim = Simulator(faults, ErrorModel.ideal(), **({"clock": clock} if clock else {}))
    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(root / "cache.db")})
    if faults.active:  # fault injection reaches the simulator on every call
        settings = settings.with_overrides(cache_enabled=False)
    if tune is not None:
        settings = tune(settings)
    timing: dict[str, Any] = {"clock": clock, "sleep": clock.sleep} if clock else {}
    gw = ModelGateway(settings, transports=simulator_transports(settings, sim), **timing)
    with Store(root / "conductor.db") as store:
        graph = make_builder(Resources(gateway=gw, store=store)).compile(
            checkpointer=InMemorySaver(), name="support"
        )
        try:
            yield Harness(store, sim, gw, graph)
        finally:
            await gw.aclose()


@dataclass
class Run:
    """A ticket's run as its checkpoint shows it."""

    ticket: dict[str, Any]
    thread_id: str
    values: dict[str, Any]
    interrupts: tuple[Any, ...]
    next: tuple[str, ...]

    @property
    def status(self) -> str:
        return str(self.values.get("status"))

    @property
    def refund(self) -> float | None:
        """The amount the run's state says was issued, or None."""
        refund = self.values.get("refund") or {}
        return float(refund["amount"]) if refund.get("issued") else None

    @property
    def waits_on(self) -> list[str]:
        return [i.value.get("kind") for i in self.interrupts]


def config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}, "max_concurrency": 8}


async def snapshot(graph: Any, ticket: dict[str, Any], thread_id: str) -> Run:
    state = await graph.aget_state(config(thread_id))
    return Run(ticket, thread_id, dict(state.values), tuple(state.interrupts), tuple(state.next))


async def run_tickets(
    graph: Any, ids: Iterable[str], prefix: str, *, concurrent: bool = False
) -> dict[str, Run]:
    """Run example tickets (in order, or all at once), one thread each."""

    async def one(tid: str) -> Run:
        thread_id = f"{prefix}-{tid}"
        result = await graph.ainvoke({"ticket": TICKETS[tid]}, config(thread_id))
        run = await snapshot(graph, TICKETS[tid], thread_id)
        assert [i.value for i in result.get("__interrupt__", ())] == [
            i.value for i in run.interrupts
        ], "the run's result and its checkpoint disagree on what it waits on"
        return run

    if concurrent:
        runs = await asyncio.gather(*(one(tid) for tid in ids))
        return {run.ticket["ticket_id"]: run for run in runs}
    return {tid: await one(tid) for tid in ids}


async def review_every_escalation(graph: Any, runs: dict[str, Run]) -> dict[str, Run]:
    """A reviewer approves every pending review, as proposed (faults still in force).

    A packet that proposes nothing (the run stopped before any decision) cannot be approved:
    the approval is refused with the reason, and the reviewer then rejects.
    """
    done = dict(runs)
    for tid, run in runs.items():
        if run.waits_on == ["review"]:
            result = await graph.ainvoke(
                Command(resume={"decision": "approve"}), config(run.thread_id)
            )
            refused = [i.value.get("error") for i in result.get("__interrupt__") or []]
            if refused and refused[0]:
                assert "nothing to approve" in refused[0], refused
                await graph.ainvoke(Command(resume={"decision": "reject"}), config(run.thread_id))
            done[tid] = await snapshot(graph, run.ticket, run.thread_id)
    return done


# --- the invariants -------------------------------------------------------------------------


def unaccounted(runs: dict[str, Run], ids: Iterable[str]) -> list[str]:
    """Tickets without a run, or whose status disagrees with what the run waits on."""
    problems = [f"{tid}: no run" for tid in ids if tid not in runs]
    for tid, run in runs.items():
        status = run.status
        if status not in KNOWN_STATUSES:
            problems.append(f"{tid}: unknown status {status!r}")
        elif status == "escalated" and run.waits_on != ["review"]:
            problems.append(f"{tid}: escalated but waits on {run.waits_on}")
        elif status == "parked" and run.waits_on != ["parked"]:
            problems.append(f"{tid}: parked but waits on {run.waits_on}")
        elif status in ("resolved", "rejected", "denied", "failed") and (
            run.interrupts or run.next
        ):
            problems.append(f"{tid}: {status} but still waits on {run.waits_on or run.next}")
    return problems


def policy_violations(store: Store, runs: dict[str, Run]) -> list[str]:
    """Every ledger refund checked against the refund policy, independently of the gates."""
    today = datetime.now(UTC).date()
    approved_by_human = {
        tid
        for tid, run in runs.items()
        if (run.values.get("review") or {}).get("decision") in ("approve", "edit")
    }
    problems: list[str] = []
    per_order: Counter[str] = Counter()
    for refund in store.all_refunds():
        tid, order_id = refund["ticket_id"], refund["order_id"]
        where = f"{tid}/{order_id}"
        per_order[order_id] += 1
        run = runs.get(tid)
        order = store.get_order(order_id)
        if run is None:
            problems.append(f"{where}: refund for a ticket that was never run")
            continue
        if order is None:
            problems.append(f"{where}: the order does not exist")
            continue
        cents = round(refund["amount"] * 100)
        if order["customer_id"] != run.ticket["customer_id"]:
            problems.append(f"{where}: order of {order['customer_id']}, not the writer's")
        if order["status"] not in ELIGIBLE_STATUSES:
            problems.append(f"{where}: order status {order['status']!r}")
        age = (today - date.fromisoformat(order["ordered_at"])).days
        if age > MAX_AGE_DAYS:
            problems.append(f"{where}: order {age} days old")
        if cents > round(order["total"] * 100):
            problems.append(f"{where}: {refund['amount']} above the total {order['total']}")
        if refund["currency"] != order["currency"]:
            problems.append(
                f"{where}: refund in {refund['currency']}, order in {order['currency']}"
            )
        if cents > AUTO_APPROVE_CENTS and tid not in approved_by_human:
            problems.append(f"{where}: {refund['amount']} above 50.00 with no human approval")
    problems += [f"{oid}: {n} refunds" for oid, n in per_order.items() if n > 1]
    return problems


def duplicate_or_lost_refunds(store: Store, runs: dict[str, Run]) -> list[str]:
    """A refund written twice, or a ledger row and a run's state that disagree."""
    ledger = store.all_refunds()
    problems = [
        f"{tid}: {n} ledger refunds"
        for tid, n in Counter(r["ticket_id"] for r in ledger).items()
        if n > 1
    ]
    by_ticket = {r["ticket_id"]: r for r in ledger}
    for tid, run in runs.items():
        created = [a for a in run.values.get("actions") or [] if a["created"]]
        if len(created) > 1:
            problems.append(f"{tid}: the run wrote {len(created)} refunds")
        row = by_ticket.get(tid)
        if run.refund is not None and (row is None or row["amount"] != run.refund):
            problems.append(f"{tid}: state says {run.refund} issued, ledger has {row}")
        if row is not None and run.refund is None:
            problems.append(f"{tid}: ledger has {row['amount']}, the run's state knows nothing")
    return problems


def wrong_outcomes(runs: dict[str, Run]) -> list[str]:
    """Runs whose outcome contradicts the ground truth (waiting on someone is never wrong)."""
    problems = []
    for tid, run in runs.items():
        truth = TRUTH[tid]
        finished_refund = (
            truth["expected_refund"] if truth["expected_status"] == "resolved" else None
        )
        allowed = {finished_refund, *ALSO_ACCEPTABLE.get(tid, ())}
        if run.status in ("escalated", "parked"):
            # Waiting on a human or a provider: nothing issued yet, or only what a finished
            # run would issue on its own (a refund within the auto-approve limit).
            if run.refund is not None and run.refund not in allowed:
                problems.append(f"{tid}: {run.status} after refunding {run.refund}")
        elif run.status != truth["expected_status"] or run.refund not in allowed:
            problems.append(
                f"{tid}: {run.status} with refund {run.refund}; expected "
                f"{truth['expected_status']} with {finished_refund}"
            )
    return problems


def assert_invariants(h: Harness, runs: dict[str, Run], ids: Iterable[str]) -> None:
    assert unaccounted(runs, ids) == []
    assert policy_violations(h.store, runs) == []
    assert duplicate_or_lost_refunds(h.store, runs) == []
    assert h.sim.stats()["early_retries"] == 0, "a 429 was retried before its Retry-After"


# --- one fault kind at a time ---------------------------------------------------------------


def short_timeouts(settings: GatewaySettings) -> GatewaySettings:
    """Every agent gives up on a request after 0.3 s and on the whole call after 1 s."""
    for agent in AGENTS:
        settings = settings.with_agent(agent, timeout_s=0.3, budget_s=1.0)
    return settings


FAULT_ROWS = {
    "500s": (FaultSpec(error_rate=0.3, error_status=500, seed=3), "error_500"),
    "503s": (FaultSpec(error_rate=0.3, error_status=503, seed=3), "error_503"),
    "429s with Retry-After": (
        FaultSpec(rate_limit_rate=0.3, retry_after=1, seed=3),
        "rate_limited",
    ),
    "hangs": (FaultSpec(timeout_rate=0.25, hang_seconds=1.0, seed=3), "hang"),
    "garbage JSON": (FaultSpec(garbage_rate=0.3, seed=3), "garbage"),
    "implausible values": (FaultSpec(implausible_rate=0.3, seed=3), "implausible"),
    "duplicate deliveries": (FaultSpec(duplicate_rate=0.3, seed=3), "duplicate"),
}


@pytest.mark.parametrize("row", list(FAULT_ROWS))
async def test_every_ticket_survives_the_fault(row: str, tmp_path: Path) -> None:
    faults, outcome = FAULT_ROWS[row]
    # 429s are waited out on a fake clock shared by the gateway (breakers, buckets, budgets)
    # and the simulator (which times each Retry-After on it): the waits are real to both and
    # instant to the suite. Hangs need the real clock (the
    # gateway cuts them with asyncio's timeout).
    clock = FakeClock() if faults.rate_limit_rate else None
    tune = short_timeouts if faults.timeout_rate else None
    async with harness(tmp_path, faults, tune=tune, clock=clock) as h:
        runs = await run_tickets(h.graph, SAMPLE, row.replace(" ", "-"))
        stats = h.sim.stats()
        assert stats["outcomes"].get(outcome, 0) > 0, f"no {outcome} was injected: {stats}"
        assert_invariants(h, runs, SAMPLE)
        assert wrong_outcomes(runs) == []
        assert runs["T-037"].status == "rejected", "a malformed ticket is rejected whole"
        if faults.rate_limit_rate:
            assert stats["early_retries"] == 0
            assert sum(i["rate_limited"] for i in h.gateway.health().values()) > 0

        # A reviewer approves what waits on them, with the faults still in force.
        reviewed = await review_every_escalation(h.graph, runs)
        assert_invariants(h, reviewed, SAMPLE)
        assert [tid for tid, run in reviewed.items() if run.waits_on == ["review"]] == []


async def test_small_tier_outage_falls_back_to_the_large_tier(tmp_path: Path) -> None:
    ids = [tid for tid in SAMPLE if tid != "T-037"]
    async with harness(tmp_path / "baseline", FaultSpec()) as base:
        baseline = await run_tickets(base.graph, ids, "base")
    async with harness(tmp_path / "outage", FaultSpec(down="small")) as h:
        runs: dict[str, Run] = {}
        small_requests_once_open: int | None = None
        for tid in ids:
            runs |= await run_tickets(h.graph, [tid], "small-down")
            small = sum(h.sim.stats()["requests"].get("sim-small", {}).values())
            if small_requests_once_open is not None:
                assert small == small_requests_once_open, f"{tid}: a call reached an open circuit"
            elif {h.gateway.health()[e]["state"] for e in ("sim-small-a", "sim-small-b")} == {
                "open"
            }:
                small_requests_once_open = small
        assert small_requests_once_open is not None, "the small circuits never opened"
        assert_invariants(h, runs, ids)
        assert wrong_outcomes(runs) == []
        for tid, run in runs.items():
            assert run.status == baseline[tid].status, tid
            assert run.refund == baseline[tid].refund, tid
            plan, gates = run.values["plan"], run.values["gates"]
            # The small-tier agents were served by the large tier, and the state says so.
            for sid in ("classify", "extract"):
                assert plan[sid]["subtask"] == sid
                assert gates[sid]["tier"] == "large", (tid, gates[sid])
                assert gates[sid]["endpoint"] == "sim-large-a"
                assert sid not in run.values.get("proposals", {})  # admitted: in results
            assert run.values["usage"]["cost_usd"] > baseline[tid].values["usage"]["cost_usd"], tid
        # Once both small circuits opened (5 failures each, plus what was already in flight),
        # every call went straight to the large tier, which never failed.
        assert small_requests_once_open <= 2 * (5 + 2)
        assert set(h.sim.stats()["requests"]["sim-small"]) == {"down"}
        assert h.gateway.health()["sim-large-a"]["state"] == "closed"


async def test_total_outage_parks_then_resumes_with_nothing_lost_or_done_twice(
    tmp_path: Path,
) -> None:
    clock = FakeClock()  # the breakers recover when the test moves the clock past 30 s
    async with harness(tmp_path, FaultSpec(down="all", seed=3), clock=clock) as h:
        runs = await run_tickets(h.graph, SAMPLE, "down-all")
        assert_invariants(h, runs, SAMPLE)
        assert runs.pop("T-037").status == "rejected"
        for tid, run in runs.items():
            assert run.status == "parked", (tid, run.status)
            assert run.waits_on == ["parked"]
            assert run.next == ("park_run",)
            packet = run.interrupts[0].value
            assert packet["reason"] == "provider_unavailable" and packet["tiers"], packet
            # State intact: the validated ticket, the plan, the errors that led here.
            assert run.values["ticket"]["ticket_id"] == tid
            assert run.values["ticket"]["body"] == TICKETS[tid]["body"]
            assert set(run.values["plan"]) >= {"classify", "extract", "context"}
            assert run.values["schema_version"] == 2 and run.values["version"] > 0
            assert any(e["kind"] == "provider_unavailable" for e in run.values["errors"])
            assert run.refund is None
        assert h.store.count_refunds() == 0
        assert {info["state"] for info in h.gateway.health().values()} == {"open"}

        # Resumed while every circuit is still open: parked again, and no request is sent.
        sent = h.sim.stats()["requests_total"]
        await h.graph.ainvoke(Command(resume={"retry": True}), config(runs["T-001"].thread_id))
        again = await snapshot(h.graph, TICKETS["T-001"], runs["T-001"].thread_id)
        assert again.status == "parked" and again.waits_on == ["parked"]
        assert h.sim.stats()["requests_total"] == sent, "a call reached an open circuit"
        runs["T-001"] = again

        # The providers come back; the breakers let trial calls through after 30 s.
        h.sim.set_faults(FaultSpec())
        clock.now += 31
        assert {info["state"] for info in h.gateway.health().values()} == {"half_open"}
        resumed: dict[str, Run] = {}
        for tid, run in runs.items():
            await h.graph.ainvoke(Command(resume={"retry": True}), config(run.thread_id))
            resumed[tid] = await snapshot(h.graph, run.ticket, run.thread_id)
        health = h.gateway.health()
        assert health["sim-small-a"]["state"] == health["sim-large-a"]["state"] == "closed"
        assert health["sim-small-b"]["state"] != "open"  # never needed: a serves the tier

        assert_invariants(h, resumed, runs)
        assert wrong_outcomes(resumed) == []
        for tid, after in resumed.items():
            before = runs[tid]
            assert after.status == TRUTH[tid]["expected_status"], (tid, after.status)
            assert after.values["ticket"] == before.values["ticket"]
            assert after.values["version"] > before.values["version"]
            # Nothing recorded before parking is lost (errors only ever grow).
            errors = after.values["errors"]
            assert errors[: len(before.values["errors"])] == before.values["errors"]
        expected = {
            tid: TRUTH[tid]["expected_refund"]
            for tid in resumed
            if TRUTH[tid]["expected_status"] == "resolved" and TRUTH[tid]["expected_refund"]
        }
        ledger = {r["ticket_id"]: r["amount"] for r in h.store.all_refunds()}
        assert ledger == expected

        # Resuming a finished run again, or running its ticket again, refunds nothing more.
        for run in resumed.values():
            await h.graph.ainvoke(Command(resume={"retry": True}), config(run.thread_id))
        rerun = await run_tickets(h.graph, ["T-001", "T-004"], "rerun")
        assert {r.status for r in rerun.values()} == {"resolved"}
        assert {r["ticket_id"]: r["amount"] for r in h.store.all_refunds()} == expected


async def test_large_tier_outage_parks_at_the_decision_and_keeps_earlier_work(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with harness(tmp_path, FaultSpec(down="large"), clock=clock) as h:
        runs = await run_tickets(h.graph, ["T-001", "T-008"], "down-large")
        parked, question = runs["T-001"], runs["T-008"]
        assert question.status == "resolved", "a ticket that needs no large model is served"
        assert parked.status == "parked" and parked.interrupts[0].value["tiers"] == ["large"]
        gates = parked.values["gates"]
        assert {sid: gates[sid]["status"] for sid in gates} == {
            "classify": "passed",
            "extract": "passed",
            "context": "passed",
            "decide": "unavailable",
        }
        small_before = h.sim.stats()["requests"]["sim-small"]

        h.sim.set_faults(FaultSpec())
        clock.now += 31
        await h.graph.ainvoke(Command(resume={"retry": True}), config(parked.thread_id))
        done = await snapshot(h.graph, parked.ticket, parked.thread_id)
        assert done.status == "resolved" and done.refund == 35.0
        # The work done before parking is kept, not done again.
        attempts = done.values["attempts"]
        assert [attempts[sid] for sid in ("classify", "extract", "context")] == [1, 1, 1]
        assert done.values["results"]["classify"] == parked.values["results"]["classify"]
        # Classification and extraction were not asked again (the reply of a refund is large).
        assert h.sim.stats()["requests"]["sim-small"] == small_before
        assert_invariants(h, {"T-001": done, "T-008": question}, ["T-001", "T-008"])


async def test_the_audit_catches_what_the_invariants_forbid(tmp_path: Path) -> None:
    """The checks above are not vacuous: refunds written behind the graph's back are caught."""
    async with harness(tmp_path, FaultSpec()) as h:
        runs = await run_tickets(h.graph, ["T-002", "T-005", "T-013"], "audit")
        assert policy_violations(h.store, runs) == []
        for tid, order_id, customer, amount in (
            ("T-002", "ORD-10002", "C002", 120.0),  # above 50.00, nobody approved it
            ("T-005", "ORD-10005", "C005", 24.0),  # order older than 90 days
            ("T-013", "ORD-10012", "C002", 45.0),  # not the writer's order
        ):
            h.store.issue_refund(
                idempotency_key=f"audit:{tid}",
                ticket_id=tid,
                order_id=order_id,
                customer_id=customer,
                amount=amount,
                currency="USD",
            )
        found = policy_violations(h.store, runs)
        assert len(found) == 3, found
        assert any("no human approval" in f for f in found)
        assert any("days old" in f for f in found)
        assert any("not the writer's" in f for f in found)
        lost = duplicate_or_lost_refunds(h.store, runs)
        assert len(lost) == 3 and all("knows nothing" in f for f in lost), lost


@pytest.mark.parametrize("payload", ["retry", "empty-by-id", "anything"])
async def test_parked_run_resumes_with_any_payload(payload: str, tmp_path: Path) -> None:
    """`{"retry": true}`, `{interrupt_id: {}}` or any other value resumes a parked run."""
    clock = FakeClock()
    async with harness(tmp_path, FaultSpec(down="all", seed=3), clock=clock) as h:
        runs = await run_tickets(h.graph, ["T-008"], "park-any")
        parked = runs["T-008"]
        assert parked.status == "parked"
        h.sim.set_faults(FaultSpec())
        clock.now += 31
        value: Any = {
            "retry": {"retry": True},
            "empty-by-id": {parked.interrupts[0].id: {}},
            "anything": {"decision": "approve", "note": 3},
        }[payload]
        await h.graph.ainvoke(Command(resume=value), config(parked.thread_id))
        done = await snapshot(h.graph, parked.ticket, parked.thread_id)
        assert done.status == TRUTH["T-008"]["expected_status"]
        assert done.values["parks"] == 1


async def test_empty_resume_is_an_empty_interrupt_map_to_langgraph(tmp_path: Path) -> None:
    """`Command(resume={})` resumes nothing in-process: LangGraph reads it as a map of answers
    by interrupt id with no entries. The server rewrites `{}` to `{"retry": true}`
    (server/inputs.py); in-process callers send `{"retry": true}`."""
    async with harness(tmp_path, FaultSpec(down="all", seed=3)) as h:
        runs = await run_tickets(h.graph, ["T-008"], "park-empty")
        await h.graph.ainvoke(Command(resume={}), config(runs["T-008"].thread_id))
        after = await snapshot(h.graph, runs["T-008"].ticket, runs["T-008"].thread_id)
        assert after.status == "parked" and not after.values.get("parks")
