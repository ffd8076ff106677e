"""The `conductor` command line, driven in-process on a temporary store and checkpoints.

Each command runs as `conductor_cli.main.main([...])` would from a shell: its own event loop
and its own gateway (a fresh `ModelGateway` per command, as a new process would build: fresh
circuit breakers, a private cache file, a fake clock so that backoff does not wait). The
simulator is process-wide (`get_default_simulator()`, which `--faults` changes); it stands
for the providers, which outlive any one command.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock

import conductor_cli.common as cli_common
from conductor_cli.batch import run_batch
from conductor_cli.checkpoints import open_checkpointer
from conductor_cli.main import main
from conductor_cli.reviews import NotWaitingError, resume_thread
from conductor_cli.workflows import workflow
from gateway.errors import RegistryError
from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from graphs.support import make_builder
from nodes.resources import Resources
from simulator.engine import Simulator, get_default_simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from simulator.transport import simulator_transports
from store.db import Store
from telemetry.logging import capture_log_lines

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "tickets.jsonl"
KNOWN_STATUSES = {"resolved", "escalated", "rejected", "parked", "failed"}
OUT_FIELDS = {
    "ticket_id",
    "thread_id",
    "status",
    "intent",
    "refund",
    "reply",
    "escalation_reason",
    "cost_usd",
    "latency_ms",
    "errors",
    "line",
    "batch",
}


@dataclass
class Cli:
    """Runs `conductor` commands in-process against one temporary store and checkpoint file."""

    tmp: Path
    capsys: pytest.CaptureFixture[str]
    sim: Simulator
    settings: GatewaySettings
    monkeypatch: pytest.MonkeyPatch
    gateway_factory: Callable[[], ModelGateway] | None = None

    @property
    def db(self) -> Path:
        return self.tmp / "conductor.db"

    @property
    def checkpoints(self) -> Path:
        return self.tmp / "checkpoints.db"

    def new_gateway(self) -> ModelGateway:
        """A gateway as a new `conductor` process builds it: no circuit state carried over."""
        clock = FakeClock()
        transports = simulator_transports(self.settings, self.sim)
        return ModelGateway(self.settings, transports=transports, clock=clock, sleep=clock.sleep)

    def __call__(self, *args: str | Path, store_args: bool = True) -> tuple[int, str, str]:
        """Run one command as its own process would; return its exit code, stdout and stderr."""
        argv = [str(a) for a in args]
        if store_args:
            argv += ["--db", str(self.db), "--checkpoints", str(self.checkpoints)]
        self.capsys.readouterr()
        gateway = self.new_gateway()
        # `main` points Conductor's log lines at its --log-file (var/logs/conductor.jsonl);
        # the capture block puts the process's log settings back afterwards.
        try:
            # The command builds its gateway at its composition root; here, this test's.
            self.monkeypatch.setattr(
                cli_common, "build_gateway", self.gateway_factory or (lambda: gateway)
            )
            with capture_log_lines(level="WARNING"):
                code = main(argv)
        finally:
            asyncio.run(gateway.aclose())  # the command closes it; this is for a failed test
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def seed(self) -> None:
        code, out, _ = self("seed", "--db", self.db, store_args=False)
        assert code == 0, out

    def run(self, tickets: Path, out: Path, *extra: str) -> list[dict[str, Any]]:
        """Run a batch; OUT's lines in input order (OUT itself follows completion order)."""
        code, stdout, stderr = self("run", "support", tickets, "--out", out, *extra)
        assert code == 0, stdout + stderr
        records = [json.loads(line) for line in out.read_text().splitlines()]
        return sorted(records, key=lambda r: r["line"])

    def ledger(self) -> list[dict[str, Any]]:
        with Store(self.db) as store:
            return [dict(row) for row in store.all_refunds()]

    def escalations(self) -> list[dict[str, Any]]:
        code, out, err = self("escalations", "--json")
        assert code == 0, err
        return json.loads(out)

    def policy_violations(self, tickets: Path, approved_by_human: set[str]) -> list[str]:
        """Every ledger refund checked against the refund policy, independently of the gates."""
        customers = {t["ticket_id"]: t.get("customer_id") for t in read_tickets(tickets)}
        today = datetime.now(UTC).date()
        problems = []
        with Store(self.db) as store:
            refunds = store.all_refunds()
            for order_id, n in Counter(r["order_id"] for r in refunds).items():
                if n > 1:
                    problems.append(f"{order_id}: refunded {n} times")
            for tid, n in Counter(r["ticket_id"] for r in refunds).items():
                if n > 1:
                    problems.append(f"{tid}: {n} refunds")
            for refund in refunds:
                where = f"{refund['ticket_id']}/{refund['order_id']}"
                order = store.get_order(refund["order_id"])
                if order is None:
                    problems.append(f"{where}: no such order")
                    continue
                cents = round(refund["amount"] * 100)
                if order["customer_id"] != customers.get(refund["ticket_id"]):
                    problems.append(f"{where}: not the writer's order")
                if order["status"] not in ("delivered", "damaged", "lost"):
                    problems.append(f"{where}: order status {order['status']}")
                if (today - date.fromisoformat(order["ordered_at"])).days > 90:
                    problems.append(f"{where}: order older than 90 days")
                if cents > round(order["total"] * 100):
                    problems.append(f"{where}: above the order total")
                if cents > 5000 and refund["ticket_id"] not in approved_by_human:
                    problems.append(f"{where}: {refund['amount']} above 50.00, not approved")
        return problems


def read_tickets(path: Path) -> list[dict[str, Any]]:
    tickets = []
    for line in path.read_text().splitlines():
        try:
            ticket = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(ticket, dict):
            tickets.append(ticket)
    return tickets


def write_subset(path: Path, ids: list[str]) -> Path:
    by_id = {t["ticket_id"]: t for t in read_tickets(EXAMPLES)}
    path.write_text("".join(json.dumps(by_id[tid]) + "\n" for tid in ids))
    return path


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    # Whatever a command writes to its default paths (var/...) lands in the temp dir.
    monkeypatch.chdir(tmp_path)
    sim = get_default_simulator()
    saved, saved_model = sim.faults, sim.error_model
    sim.set_faults(FaultSpec())
    sim.reset()
    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(tmp_path / "cache.db")})
    try:
        yield Cli(tmp_path, capsys, sim, settings, monkeypatch)
    finally:
        sim.set_faults(saved)
        sim.set_error_model(saved_model)
        sim.reset()


def test_seed_fills_a_realistic_store(cli: Cli) -> None:
    code, out, _ = cli("seed", "--db", cli.db, store_args=False)
    assert code == 0
    counts = dict(re.findall(r"(customers|orders)=(\d+)", out))
    assert int(counts["customers"]) >= 50 and int(counts["orders"]) >= 200
    with Store(cli.db) as store:
        assert store.count_customers() == int(counts["customers"])
        assert store.count_orders() == int(counts["orders"])
        statuses = {
            order["status"]
            for n in range(1, store.count_customers() + 1)
            for order in store.orders_for_customer(f"C{n:03d}")
        }
    assert {"delivered", "damaged", "lost", "processing", "cancelled"} <= statuses
    assert cli("seed", "--db", cli.db, store_args=False)[0] == 0, "seeding again is harmless"
    with Store(cli.db) as store:
        assert store.count_orders() == int(counts["orders"])


def test_run_accounts_for_every_ticket_and_a_rerun_refunds_nothing_more(cli: Cli) -> None:
    cli.seed()
    lines = [line for line in EXAMPLES.read_text().splitlines() if line.strip()]
    records = cli.run(EXAMPLES, cli.tmp / "out.jsonl", "--concurrency", "8")
    assert len(records) == len(lines)
    assert [r["ticket_id"] for r in records] == [json.loads(line)["ticket_id"] for line in lines]
    for record in records:
        assert set(record) == OUT_FIELDS, record
        assert record["status"] in KNOWN_STATUSES, record
    by_id = {r["ticket_id"]: r for r in records}
    malformed = by_id["T-037"]
    assert malformed["status"] == "rejected"
    assert any("ticket.channel" in error for error in malformed["errors"]), malformed
    assert by_id["T-001"]["refund"]["issued"] is True
    assert cli.policy_violations(EXAMPLES, approved_by_human=set()) == []
    ledger = cli.ledger()
    assert ledger, "the examples include refunds within the auto-approve limit"
    issued = {r["ticket_id"] for r in records if (r["refund"] or {}).get("issued")}
    assert issued == {row["ticket_id"] for row in ledger}

    # The same batch again resumes it: every item is re-emitted from its thread's final
    # checkpoint (same thread, same outcome), with no model call and no refund.
    sent = cli.sim.stats()["requests_total"]
    again = cli.run(EXAMPLES, cli.tmp / "out-again.jsonl", "--concurrency", "8")
    assert len(again) == len(lines)
    assert cli.ledger() == ledger, "running the same file again issued another refund"
    assert cli.sim.stats()["requests_total"] == sent, "a finished item called a model again"
    strip = ("latency_ms",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in again] == [
        {k: v for k, v in r.items() if k not in strip} for r in records
    ]
    # Into the same OUT: nothing is written twice.
    out = cli.tmp / "out.jsonl"
    before = out.read_text()
    code, stdout, _ = cli("run", "support", EXAMPLES, "--out", out, "--resume")
    assert code == 0 and out.read_text() == before
    threads = sum(1 for r in records if r["thread_id"])
    assert f"{threads} finished to re-emit, 0 interrupted to continue, 0 new" in stdout
    assert f"wrote 0 results to {out}" in stdout


def test_a_faulty_run_still_accounts_for_every_ticket(cli: Cli) -> None:
    cli.seed()
    spec = "error_rate=0.2,garbage_rate=0.1,implausible_rate=0.1,seed=1"
    code, stdout, stderr = cli(
        "run", "support", EXAMPLES, "--out", cli.tmp / "out.jsonl", "--faults", spec
    )
    assert code == 0, stdout + stderr
    records = [json.loads(line) for line in (cli.tmp / "out.jsonl").read_text().splitlines()]
    assert len(records) == len(read_tickets(EXAMPLES))
    assert all(r["status"] in KNOWN_STATUSES for r in records)
    outcomes = cli.sim.stats()["outcomes"]
    assert outcomes.get("garbage") and outcomes.get("implausible"), outcomes
    assert outcomes.get("error_500", 0) + outcomes.get("error_503", 0) > 0, outcomes
    assert cli.policy_violations(EXAMPLES, approved_by_human=set()) == []
    assert "tickets in / out" in stdout and "37 / 37" in stdout


def test_a_line_that_is_not_json_is_rejected_and_the_others_go_on(cli: Cli) -> None:
    cli.seed()
    good = read_tickets(EXAMPLES)
    tickets = cli.tmp / "mixed.jsonl"
    tickets.write_text(
        json.dumps(good[0]) + "\n" + '{"ticket_id": "T-BROKEN", "body": \n' + json.dumps(good[7])
    )
    records = cli.run(tickets, cli.tmp / "out.jsonl")
    assert [r["status"] for r in records] == ["resolved", "rejected", "resolved"]
    broken = records[1]
    assert broken["thread_id"] is None
    assert any("line 2" in e and "invalid JSON" in e for e in broken["errors"]), broken


def test_a_reviewer_resumes_an_escalation_and_a_bad_answer_is_refused(cli: Cli) -> None:
    cli.seed()
    tickets = write_subset(cli.tmp / "tickets.jsonl", ["T-001", "T-002", "T-018"])
    records = {r["ticket_id"]: r for r in cli.run(tickets, cli.tmp / "out.jsonl")}
    assert records["T-002"]["status"] == "escalated"

    pending = {row["item_id"]: row for row in cli.escalations()}
    assert pending["T-002"]["packet"]["reason"] == "refund_above_auto_limit"
    assert pending["T-002"]["packet"]["proposed_refund"]["amount"] == 120.0
    assert pending["T-002"]["thread_id"] == records["T-002"]["thread_id"]
    code, table, _ = cli("escalations")
    assert code == 0 and "T-002" in table and "pending reviews" in table
    ledger = cli.ledger()
    thread = records["T-002"]["thread_id"]

    # A batch killed before it wrote the final status leaves the run "running": still listed.
    with Store(cli.db) as store:
        store.upsert_run(thread, "support", "T-002", "running")
    assert "T-002" in {row["item_id"] for row in cli.escalations()}
    # A review is not resumed as a parked run.
    with pytest.raises(NotWaitingError, match="waits on a review, not on providers"):
        asyncio.run(resume_as_parked(cli, thread))

    code, out, err = cli("resume", thread, "--decision", "edit", "--amount", "100000")
    assert code == 1
    assert "resume refused" in err and "exceeds the order total" in err, err
    still = {row["item_id"]: row for row in cli.escalations()}
    assert "T-002" in still and "exceeds the order total" in still["T-002"]["packet"]["error"]
    assert cli.ledger() == ledger

    code, out, err = cli("resume", thread, "--decision", "approve", "--note", "checked")
    assert code == 0, err
    result = json.loads(out)
    assert result["ticket_id"] == "T-002" and result["status"] == "resolved"
    assert result["refund"]["issued"] is True and result["refund"]["amount"] == 120.0
    assert "T-002" not in {row["item_id"] for row in cli.escalations()}
    assert len(cli.ledger()) == len(ledger) + 1
    assert cli.policy_violations(tickets, approved_by_human={"T-002"}) == []

    # The review is done: resuming the thread again is refused and refunds nothing.
    code, _, err = cli("resume", thread, "--decision", "approve")
    assert code == 1 and "no pending interrupt" in err
    assert len(cli.ledger()) == len(ledger) + 1


def test_resume_parked_resumes_the_runs_a_total_outage_parked(cli: Cli) -> None:
    # Workers err only through the injected outage, so each ticket's outcome after the
    # resume is the policy's, not the small model's dice (which hang on the prompts' text).
    cli.sim.set_error_model(ErrorModel.ideal())
    cli.seed()
    ids = ["T-001", "T-002", "T-004", "T-008", "T-029", "T-037"]
    tickets = write_subset(cli.tmp / "tickets.jsonl", ids)
    records = {
        r["ticket_id"]: r for r in cli.run(tickets, cli.tmp / "out.jsonl", "--faults", "down=all")
    }
    assert records.pop("T-037")["status"] == "rejected"
    assert {r["status"] for r in records.values()} == {"parked"}
    assert cli.ledger() == []
    n = len(records)

    # A parked run waits on providers, not on a reviewer: a decision is refused.
    thread = records["T-001"]["thread_id"]
    code, _, err = cli("resume", thread, "--decision", "approve")
    assert code == 1 and f"thread {thread} is parked (waiting on providers)" in err, err
    assert "conductor resume --parked" in err
    assert cli.escalations() == []

    # Still down. A new process cannot know that without trying (its circuits start closed):
    # every parked run is tried, and each parks again, its state intact.
    sent = cli.sim.stats()["requests_total"]
    code, out, err = cli("resume", "--parked")
    assert code == 0, err
    assert f"resumed {n} parked run(s): 0 finished, 0 escalated, {n} parked again" in out
    assert cli.sim.stats()["requests_total"] > sent, "the providers were tried"
    assert cli.ledger() == []
    with Store(cli.db) as store:
        assert {run["status"] for run in store.list_runs("support", None)} == {
            "parked",
            "rejected",
        }

    # The providers are back (a new process reads no CONDUCTOR_FAULTS): every parked run is
    # resumed, once.
    cli.sim.set_faults(FaultSpec())
    code, out, err = cli("resume", "--parked")
    assert code == 0, err
    assert f"resumed {n} parked run(s): 4 finished, 1 escalated, 0 parked again" in out, out
    with Store(cli.db) as store:
        statuses = {run["item_id"]: run["status"] for run in store.list_runs("support")}
    assert "parked" not in statuses.values()
    assert statuses["T-001"] == statuses["T-004"] == statuses["T-008"] == "resolved"
    assert statuses["T-002"] == "escalated"
    ledger = cli.ledger()
    assert sorted(row["ticket_id"] for row in ledger) == ["T-001", "T-004"]
    assert cli.policy_violations(tickets, approved_by_human=set()) == []

    code, out, _ = cli("resume", "--parked")
    assert code == 0 and "resumed 0 parked run(s)" in out
    assert cli.ledger() == ledger


async def resume_as_parked(cli: Cli, thread_id: str) -> None:
    async with open_checkpointer(cli.checkpoints) as saver:
        with Store(cli.db) as store:
            graph = make_builder(Resources(store=store, gateway=cli.new_gateway())).compile(
                checkpointer=saver
            )
            await resume_thread(
                {"support": graph}, store, thread_id, {"retry": True}, kind="parked"
            )


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_failures_are_one_clear_line_not_a_traceback(cli: Cli) -> None:
    code, _, err = cli("seed", "--db", cli.tmp, store_args=False)
    assert code == 2 and "store path is a directory" in _one_error_line(err)

    (cli.tmp / "junk.db").write_text("this is not an SQLite database " * 100)
    code, _, err = cli("escalations", "--db", cli.tmp / "junk.db", store_args=False)
    line = _one_error_line(err)
    assert code == 2 and "database failure" in line and "junk.db" in line, err

    code, _, err = cli("slo", "--url", "http://127.0.0.1:9", store_args=False)
    line = _one_error_line(err)
    assert code == 2 and "request failed" in line and "127.0.0.1:9" in line, err

    code, _, err = cli("run", "support", cli.tmp, "--out", cli.tmp / "out.jsonl")
    assert code == 2 and _one_error_line(err) == f"input is a directory: {cli.tmp}"

    tickets = write_subset(cli.tmp / "tickets.jsonl", ["T-001"])
    (cli.tmp / "a-file").write_text("")
    code, _, err = cli("run", "support", tickets, "--out", cli.tmp / "a-file" / "out.jsonl")
    line = _one_error_line(err)
    assert code == 2 and "cannot write the output file" in line and "a-file" in line, err

    code, _, err = cli("resume", "no-such-thread", "--decision", "approve")
    assert code == 1 and _one_error_line(err) == "unknown thread no-such-thread"


def test_a_bad_model_profile_fails_only_the_commands_that_call_models(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.seed()

    def bad_profile() -> ModelGateway:
        raise RegistryError("models.toml: profiles.bogus: no such profile")

    cli.gateway_factory = bad_profile
    code, out, err = cli("escalations")
    assert code == 0 and "pending reviews: 0" in out and err == "", err
    tickets = write_subset(cli.tmp / "tickets.jsonl", ["T-001"])
    code, out, err = cli("run", "support", tickets, "--out", cli.tmp / "out.jsonl")
    assert code == 2 and out == "" and "no such profile" in _one_error_line(err)
    assert cli.ledger() == [] and not (cli.tmp / "out.jsonl").exists()


class FlakyGraph:
    """A stand-in graph: ainvoke does nothing; each ticket's state comes from `states`."""

    def __init__(self, store: Store, states: dict[str, Any]) -> None:
        self.store = store
        self.states = states
        self.seen_running: list[str] = []
        self.invoked: set[str] = set()

    async def ainvoke(self, _input: Any, config: Any, **_: Any) -> None:
        thread_id = config["configurable"]["thread_id"]
        self.invoked.add(thread_id)
        status = {run["thread_id"]: run["status"] for run in self.store.list_runs("support")}
        if status.get(thread_id) == "running":
            self.seen_running.append(thread_id)

    async def aget_state(self, config: Any) -> Any:
        thread_id = config["configurable"]["thread_id"]
        if thread_id not in self.invoked:  # before the run: a new thread
            return type("Snapshot", (), {"values": {}, "created_at": None})()
        ticket_id = config["metadata"]["ticket_id"]
        state = self.states[ticket_id]
        if isinstance(state, Exception):
            raise state
        return type("Snapshot", (), {"values": state})()


def test_batch_bookkeeping_loses_no_line(cli: Cli) -> None:
    cli.seed()
    tickets = write_subset(cli.tmp / "tickets.jsonl", ["T-001", "T-002", "T-004", "T-008"])
    states: dict[str, Any] = {
        "T-001": {"status": "resolved", "results": {"classify": None}},
        "T-002": RuntimeError("checkpointer went away"),
        "T-004": {"status": "running"},
        "T-008": {"status": "escalated", "escalation_reason": "legal_threat"},
    }
    out = cli.tmp / "out.jsonl"
    with Store(cli.db) as store:
        graph = FlakyGraph(store, states)
        result = asyncio.run(
            run_batch(workflow("support"), graph, store, tickets, out)  # type: ignore[arg-type]
        )
        runs = {run["item_id"]: run["status"] for run in store.list_runs("support")}
    assert len(graph.seen_running) == 4, "each run is recorded before it starts"
    by_id = {r["ticket_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(result.records) == result.lines == 4 == len(by_id)
    assert by_id["T-001"]["status"] == "resolved" and by_id["T-001"]["intent"] is None
    assert by_id["T-002"]["status"] == "failed"
    assert any("checkpointer went away" in e for e in by_id["T-002"]["errors"])
    assert by_id["T-004"]["status"] == "failed"
    assert "run ended without a final status" in by_id["T-004"]["errors"]
    assert by_id["T-008"]["status"] == "escalated"
    # The run whose state could not be read is still findable: recorded as running.
    assert runs == {
        "T-001": "resolved",
        "T-002": "running",
        "T-004": "failed",
        "T-008": "escalated",
    }


DOCUMENTS = Path(__file__).resolve().parents[2] / "examples" / "documents.jsonl"


def test_documents_run_accounts_for_every_document_with_exact_spans(cli: Cli) -> None:
    cli.seed()
    out_path = cli.tmp / "docs-out.jsonl"
    code, out, err = cli("run", "documents", DOCUMENTS, "--out", out_path)
    assert code == 0, err
    assert "documents batch" in out and "extractions stored (new)" in out
    inputs = {d["document_id"]: d for d in map(json.loads, DOCUMENTS.read_text().splitlines())}
    records = {r["document_id"]: r for r in map(json.loads, out_path.read_text().splitlines())}
    assert set(records) == set(inputs), "every document has its line"
    for doc_id, record in records.items():
        text = inputs[doc_id]["text"]
        assert record["status"] in ("resolved", "escalated"), record
        assert all(text[e["start"] : e["end"]] == e["text"] for e in record["entities"]), doc_id

    waiting = {row["item_id"]: row for row in cli.escalations()}
    assert waiting["doc-ctr-002"]["graph"] == "documents"
    thread = waiting["doc-ctr-002"]["thread_id"]
    code, out, err = cli("resume", thread, "--payload", '{"decision": "correct"}')
    assert code == 1 and "needs doc_type, entities or relationships" in err
    code, out, err = cli(
        "resume", thread, "--payload", '{"decision": "correct", "doc_type": "other"}'
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "resolved" and result["review_outcome"] == "corrected"
    assert result["doc_type"] == "other" and result["stored"]["created"] is True


def test_batch_edges_bad_bytes_deep_json_duplicates_and_the_store(cli: Cli) -> None:
    tickets = write_subset(cli.tmp / "ok.jsonl", ["T-001"])
    out = cli.tmp / "out.jsonl"
    # A store that does not exist, or holds no orders, is an error naming it (unless --create).
    code, _, err = cli("run", "support", tickets, "--out", out)
    line = _one_error_line(err)
    assert code == 2 and f"no store at {cli.db}" in line and "--create" in line, err
    with Store(cli.db):
        pass
    code, _, err = cli("run", "support", tickets, "--out", out)
    assert code == 2 and f"the store {cli.db} holds no orders" in _one_error_line(err), err
    assert not out.exists() or out.read_text() == ""

    cli.seed()
    good = read_tickets(EXAMPLES)
    mixed = cli.tmp / "mixed.jsonl"
    mixed.write_bytes(
        (json.dumps(good[0]) + "\n").encode()
        + b'{"ticket_id": "T-BAD", "body": "caf\xe9 \xff"}\n'
        + ("[" * 100_000 + "]" * 100_000 + "\n").encode()
        + (json.dumps(good[3])[:-1] + ', "meta": ' + "[" * 600 + "]" * 600 + "}\n").encode()
        + (json.dumps(good[0]) + "\n").encode()
        + (json.dumps(good[7]) + "\n").encode()
    )
    sent = cli.sim.stats()["requests_total"]
    code, stdout, stderr = cli("run", "support", mixed, "--out", out)
    assert code == 0, stdout + stderr
    records = {r["line"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert sorted(records) == [1, 2, 3, 4, 5, 6]
    assert records[1]["status"] == "resolved" and records[6]["status"] == "resolved"
    assert records[2]["status"] == "rejected" and "line 2" in records[2]["errors"][0]
    assert "invalid UTF-8" in records[2]["errors"][0], records[2]
    for deep in (3, 4):  # too deep for the parser; parsed, but too deep for a run
        assert records[deep]["status"] == "rejected", records[deep]
        assert "nested too deep" in records[deep]["errors"][0], records[deep]
    dup = records[5]
    assert dup["status"] == "duplicate" and dup["thread_id"] is None
    assert "already on line 1" in dup["errors"][0] and dup["ticket_id"] == good[0]["ticket_id"]
    with Store(cli.db) as store:
        runs = store.list_runs("support")
    assert sorted(run["item_id"] for run in runs) == sorted(
        [good[0]["ticket_id"], good[7]["ticket_id"]]
    )
    assert len(cli.ledger()) == 1, "the duplicate did not refund twice"
    assert cli.sim.stats()["requests_total"] > sent

    # OUT lost its last line (and a torn half line): the rerun writes just that line again.
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:10])
    code, stdout, _ = cli("run", "support", mixed, "--out", out, "--resume")
    assert code == 0
    assert (
        "2 finished to re-emit, 0 interrupted to continue, 0 new; 5 line(s) already in OUT"
        in stdout
    )
    again = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["line"] for r in again) == [1, 2, 3, 4, 5, 6]

    code, stdout, _ = cli("runs", "--status", "running", "--json")
    assert code == 0 and json.loads(stdout) == []


def test_two_runs_of_one_ticket_report_the_same_refund(cli: Cli) -> None:
    """A refund under the ticket's own key is its own: issued (replayed), never 'prior'."""
    cli.sim.set_error_model(ErrorModel.ideal())
    cli.seed()
    first = write_subset(cli.tmp / "a.jsonl", ["T-001", "T-003"])
    second = write_subset(cli.tmp / "b.jsonl", ["T-003", "T-001"])  # another batch

    async def both() -> list[list[dict[str, Any]]]:
        gateway = cli.new_gateway()
        try:
            async with open_checkpointer(cli.checkpoints) as saver:
                with Store(cli.db) as store:
                    entry = workflow("support")
                    graph = make_builder(Resources(store=store, gateway=gateway)).compile(
                        checkpointer=saver
                    )
                    results = await asyncio.gather(
                        run_batch(entry, graph, store, first, cli.tmp / "a.out"),
                        run_batch(entry, graph, store, second, cli.tmp / "b.out"),
                    )
                    # And a third batch, after the refunds are in the ledger.
                    third = write_subset(cli.tmp / "c.jsonl", ["T-001"])
                    later = await run_batch(entry, graph, store, third, cli.tmp / "c.out")
        finally:
            await gateway.aclose()
        return [r.records for r in [*results, later]]

    runs = asyncio.run(both())
    ledger = {row["ticket_id"]: row["amount"] for row in cli.ledger()}
    assert ledger == {"T-001": 35.0, "T-003": 42.5}
    seen: dict[str, list[dict[str, Any]]] = {}
    for records in runs:
        for record in records:
            seen.setdefault(record["ticket_id"], []).append(record)
    for ticket_id, records in seen.items():
        for record in records:
            assert record["status"] == "resolved", record
            assert record["refund"]["issued"] is True, record
            assert record["refund"]["amount"] == ledger[ticket_id]
            assert f"{ledger[ticket_id]:.2f}" in record["reply"]
        assert sorted(r["refund"]["replayed"] for r in records) == [False] + [True] * (
            len(records) - 1
        ), records


def test_recover_finishes_runs_a_crash_left_running(cli: Cli) -> None:
    cli.sim.set_error_model(ErrorModel.ideal())
    cli.seed()
    tickets = write_subset(cli.tmp / "tickets.jsonl", ["T-001", "T-005"])
    out = cli.tmp / "out.jsonl"
    records = {r["ticket_id"]: r for r in cli.run(tickets, out)}
    with Store(cli.db) as store:
        runs = {run["item_id"]: run for run in store.list_runs("support")}
        # Killed after T-001's last checkpoint, before its status and OUT line were written.
        store.upsert_run(runs["T-001"]["thread_id"], "support", "T-001", "running")
        # Recorded, never checkpointed: it starts from the input the runs table kept.
        detail = {**runs["T-005"]["detail"], "input": read_tickets(tickets)[1], "line": 7}
        store.upsert_run("support-manual-T-005", "support", "T-005", "running", detail)
    out.write_text(
        "".join(json.dumps(r) + "\n" for r in records.values() if r["ticket_id"] != "T-001")
    )
    code, stdout, _ = cli("runs", "--status", "running")
    assert code == 0 and "runs (running): 2" in stdout
    code, stdout, err = cli("recover")
    assert code == 0, err
    assert "recovered 2 run(s) left running" in stdout
    with Store(cli.db) as store:
        assert store.list_runs(None, "running") == []
        assert store.get_run("support-manual-T-005")["status"] == "resolved"
    lines = sorted((json.loads(x) for x in out.read_text().splitlines()), key=lambda r: r["line"])
    assert [(r["line"], r["ticket_id"]) for r in lines] == [
        (1, "T-001"),
        (2, "T-005"),
        (7, "T-005"),
    ]
    assert lines[0]["refund"] == records["T-001"]["refund"]
    assert len(cli.ledger()) == 1
