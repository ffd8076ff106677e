"""Crash suite: SIGKILL a `conductor` process at each kind of point, recover, check the books.

Each scenario runs `python -m conductor_cli.main run support ...` in a child process with its
own store and checkpoints, against a standalone simulator (ideal error model, so every
ticket's outcome is the policy's and the calls it takes are the same every time). It runs
on each backend: `sqlite` (a store file and a checkpoint file in tmp) and `postgres` (a fresh
database on the session's throwaway cluster, named to the children by `DATABASE_URL`, which
then hold the store and the checkpoints there; the books are read through `open_store(url)`).
The child kills itself with SIGKILL at a crash point (`CONDUCTOR_CRASH_AT`, see
`conductor_cli.crashpoints`); the test then recovers the way an operator would (the same
command again, `--resume`, `conductor recover`) and checks:

- lost: every ticket has exactly one line in OUT (an escalated one also its pending review);
- duplicate refunds: the ledger holds at most one refund per ticket and per order, and the
  same refunds as an uninterrupted run;
- misreported: OUT's refund and its reply agree with the ledger (and, for a reviewed ticket,
  the thread's final state does);
- stranded: no thread is left `running` in the runs table;
- model calls repeated: the simulator's request count (it outlives the child) minus an
  uninterrupted run's. The checkpoint model bounds it: CLI runs use `durability="sync"`, so
  every finished task's writes are saved as it finishes and every step's checkpoint before
  the next step starts; a kill loses only the tasks in flight, at most two model-calling
  tasks per ticket (classify ∥ extract) times the batch's concurrency. Finished tickets are
  re-emitted with no model call at all.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pg_cluster import create_database

from store.db import Store
from store.factory import open_store
from store.seed import seed_store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "tickets.jsonl"
TICKETS = ["T-001", "T-002", "T-003", "T-004", "T-005", "T-018"]
"""Refunds within the auto-approve limit (T-001, T-003, T-004), one above it (T-002,
escalated), a denial (T-005) and a legal threat (T-018, escalated)."""
CONCURRENCY = 2
REPEAT_BOUND = 2 * CONCURRENCY
"""Model calls a kill may cost (see the module docstring)."""


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    """A standalone simulator with the ideal error model; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = (
        "from simulator.server import serve; from simulator.error_model import ErrorModel; "
        f"serve(port={port}, faults='', error_model=ErrorModel.ideal())"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def sim_requests(url: str) -> int:
    return int(httpx.get(f"{url}/admin/stats", timeout=5).json()["requests_total"])


@dataclass
class Child:
    """Runs `conductor` commands as child processes on one store and its checkpoints.

    With `database_url` (the postgres backend) the children get it as `DATABASE_URL` and no
    `--db`/`--checkpoints`; otherwise the store and checkpoints are SQLite files in `tmp`.
    """

    tmp: Path
    sim_url: str
    database_url: str | None = None
    kills: int = 0
    codes: list[int] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.tmp / "conductor.db"

    @property
    def target(self) -> str | Path:
        """Where the store lives: the Postgres URL, else the SQLite file."""
        return self.database_url or self.db

    def store(self) -> Store:
        return open_store(self.target)

    @property
    def out(self) -> Path:
        return self.tmp / "out.jsonl"

    @property
    def tickets(self) -> Path:
        return self.tmp / "tickets.jsonl"

    def setup(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        seed_store(self.target, seed=7)
        by_id = {}
        for line in EXAMPLES.read_text().splitlines():
            ticket = json.loads(line)
            by_id[ticket["ticket_id"]] = ticket
        self.tickets.write_text("".join(json.dumps(by_id[t]) + "\n" for t in TICKETS))

    def env(self, crash_at: str | None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("CONDUCTOR_FAULTS", "DATABASE_URL", "CONDUCTOR_CRASH_AT")
        }
        env.update(
            CONDUCTOR_MODEL_PROFILE="compatible",
            CONDUCTOR_COMPATIBLE_BASE_URL=f"{self.sim_url}/v1",
            CONDUCTOR_COMPATIBLE_SMALL_MODEL="sim-small",
            CONDUCTOR_COMPATIBLE_LARGE_MODEL="sim-large",
            CONDUCTOR_CACHE="off",  # every repeated call reaches the simulator and is counted
            LANGSMITH_TRACING="false",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if crash_at:
            env["CONDUCTOR_CRASH_AT"] = crash_at
        return env

    def conductor(
        self, *args: str, crash_at: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "conductor_cli.main", "--log-file", "conductor.jsonl"]
        argv += list(args)
        if not self.database_url:
            argv += ["--db", str(self.db), "--checkpoints", str(self.tmp / "checkpoints.db")]
        done = subprocess.run(
            argv, cwd=self.tmp, env=self.env(crash_at), capture_output=True, text=True, timeout=300
        )
        self.codes.append(done.returncode)
        if crash_at:
            assert done.returncode == -signal.SIGKILL, (
                f"{crash_at} was never reached: {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
            self.kills += 1
        else:
            assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def run(self, *extra: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.conductor(
            "run",
            "support",
            str(self.tickets),
            "--out",
            str(self.out),
            "--concurrency",
            str(CONCURRENCY),
            *extra,
            crash_at=crash_at,
        )

    def thread_of(self, ticket_id: str) -> str:
        with self.store() as store:
            return next(
                r["thread_id"] for r in store.list_runs("support") if r["item_id"] == ticket_id
            )

    def resume(self, ticket_id: str, crash_at: str | None = None) -> None:
        self.conductor(
            "resume", self.thread_of(ticket_id), "--decision", "approve", crash_at=crash_at
        )


def ledger(child: Child) -> list[dict[str, Any]]:
    with child.store() as store:
        return [dict(r) for r in store.all_refunds()]


@dataclass
class Books:
    """What a scenario left behind, counted."""

    tickets: int
    lost: int
    duplicate_refunds: int
    misreported: int
    stranded: int
    refunds: dict[str, float]
    problems: list[str]


def audit(child: Child, reviewed: set[str]) -> Books:
    """Count lost lines, duplicate refunds, misreported refunds and stranded threads."""
    problems: list[str] = []
    records = [json.loads(line) for line in child.out.read_text().splitlines()]
    per_ticket = Counter(r["ticket_id"] for r in records)
    lost = sum(1 for t in TICKETS if per_ticket[t] != 1)
    problems += [f"{t}: {per_ticket[t]} lines in OUT" for t in TICKETS if per_ticket[t] != 1]
    rows = ledger(child)
    dup = sum(n - 1 for n in Counter(r["ticket_id"] for r in rows).values() if n > 1)
    dup += sum(n - 1 for n in Counter(r["order_id"] for r in rows).values() if n > 1)
    refunds = {r["ticket_id"]: r["amount"] for r in rows}
    misreported = 0
    with child.store() as store:
        runs = store.list_runs("support")
        states = {r["item_id"]: r for r in runs}
    for record in records:
        tid = record["ticket_id"]
        if tid in reviewed:
            continue  # its OUT line is the batch's (escalated); its outcome is checked below
        refund = record["refund"] or {}
        issued = bool(refund.get("issued"))
        reply = record["reply"] or ""
        wrong = issued != (tid in refunds)
        if issued and tid in refunds:
            wrong |= refund["amount"] != refunds[tid]
            wrong |= f"{refunds[tid]:.2f}" not in reply
        if not issued:
            wrong |= "issued a refund" in reply
        if wrong:
            misreported += 1
            problems.append(f"{tid}: OUT says {refund} / {reply[:60]!r}; ledger {refunds.get(tid)}")
        if states.get(tid, {}).get("status") != record["status"] and tid not in reviewed:
            problems.append(f"{tid}: runs table {states.get(tid)} vs OUT {record['status']}")
    for tid in reviewed:
        status = states[tid]["status"]
        if status != "resolved" or tid not in refunds:
            misreported += 1
            problems.append(f"{tid}: reviewed run {status}, ledger {refunds.get(tid)}")
    stranded = sum(1 for r in runs if r["status"] == "running")
    problems += [f"{r['thread_id']}: left running" for r in runs if r["status"] == "running"]
    return Books(len(TICKETS), lost, dup, misreported, stranded, refunds, problems)


@dataclass(frozen=True)
class Scenario:
    name: str
    crash_at: str
    recovery: str  # "rerun", "resume", "recover+rerun", "resume-cmd"


SCENARIOS = [
    Scenario("during a model call (decide_refund)", "decide_refund:during:2", "rerun"),
    Scenario("between refund decision and ledger write", "issue_refund:before:2", "resume"),
    Scenario("right after the ledger write", "issue_refund:after:1", "recover+rerun"),
    Scenario("during draft_reply", "draft_reply:during:2", "rerun"),
    Scenario("while waiting for a human", "escalate_to_human:after:1", "resume"),
    Scenario(
        "during `conductor resume` (after the ledger write)", "issue_refund:after:1", "resume-cmd"
    ),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_sigkill_anywhere_loses_nothing_and_refunds_nothing_twice(
    backend: str,
    simulator: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The cluster is started only for the postgres variant (it skips without the binaries).
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None

    def child_at(name: str) -> Child:
        url = create_database(server, prefix="crash") if server else None
        return Child(tmp_path / name, simulator, database_url=url)

    # The uninterrupted run: its ledger and its model calls are the yardstick.
    base = child_at("baseline")
    base.setup()
    start = sim_requests(simulator)
    base.run()
    batch_calls = sim_requests(simulator) - start
    base_books = audit(base, reviewed=set())
    assert base_books.problems == [], base_books.problems
    assert set(base_books.refunds) == {"T-001", "T-003", "T-004"}, base_books.refunds
    escalated = {
        r["ticket_id"]
        for r in map(json.loads, base.out.read_text().splitlines())
        if r["status"] == "escalated"
    }
    assert {"T-002", "T-018"} <= escalated, escalated
    start = sim_requests(simulator)
    base.resume("T-002")
    resume_calls = sim_requests(simulator) - start
    assert audit(base, reviewed={"T-002"}).problems == []

    rows = []
    failures = []
    for n, scenario in enumerate(SCENARIOS):
        child = child_at(f"s{n}")
        child.setup()
        start = sim_requests(simulator)
        reviewed: set[str] = set()
        expected_calls = batch_calls
        if scenario.recovery == "resume-cmd":
            child.run()
            child.resume("T-002", crash_at=scenario.crash_at)
            child.conductor("recover")
            reviewed = {"T-002"}
            expected_calls += resume_calls
        else:
            child.run(crash_at=scenario.crash_at)
            if scenario.recovery == "rerun":
                child.run()
            elif scenario.recovery == "resume":
                done = child.run("--resume")
                assert "interrupted to continue" in done.stdout, done.stdout
            else:
                child.conductor("recover")
                with child.store() as store:
                    assert store.list_runs(None, "running") == []
                child.run()
            # Running it once more changes nothing and calls no model.
            before, calls = child.out.read_text(), sim_requests(simulator)
            child.run("--resume")
            assert child.out.read_text() == before
            assert sim_requests(simulator) == calls, "a finished ticket called a model"
        repeated = sim_requests(simulator) - start - expected_calls
        books = audit(child, reviewed)
        expected_refunds = dict(base_books.refunds)
        if reviewed:
            expected_refunds["T-002"] = 120.0
        if books.refunds != expected_refunds:
            books.problems.append(f"ledger {books.refunds} != {expected_refunds}")
        if not 0 <= repeated <= REPEAT_BOUND:
            books.problems.append(f"{repeated} model calls repeated (bound {REPEAT_BOUND})")
        rows.append((scenario, books, repeated))
        if books.problems:
            failures.append(f"{scenario.name}: {books.problems}")

    header = (
        f"{'kill point':<52} {'tickets':>7} {'lost':>4} {'dup refunds':>11} "
        f"{'misreported':>11} {'stranded':>8} {'calls repeated':>14}"
    )
    lines = [header, "-" * len(header)]
    for scenario, books, repeated in rows:
        lines.append(
            f"{scenario.name:<52} {books.tickets:>7} {books.lost:>4} "
            f"{books.duplicate_refunds:>11} {books.misreported:>11} {books.stranded:>8} "
            f"{repeated:>14}"
        )
    lines.append(
        f"(uninterrupted: {batch_calls} model calls for the batch, {resume_calls} for the "
        f"review's resume; bound on repeats per kill: {REPEAT_BOUND})"
    )
    table = "\n".join(lines)
    names = {"sqlite": "SQLite files", "postgres": "a PostgreSQL database"}
    (tmp_path / "crash-table.txt").write_text(table + "\n")
    with capsys.disabled():
        print(f"\ncrash table ({backend}: store and checkpoints in {names[backend]})\n{table}")
    assert failures == [], "\n".join(failures)
