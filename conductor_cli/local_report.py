"""The figures of a batch on a real model, read from its output, log, ledger and checkpoints."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VIOLATION_START = re.compile(r"; (?=[a-z_]+:[^:;\s]*: )")
"""Where one violation of a gate's joined message (`kind:field: message; kind:field: ...`)
ends: a message may itself hold "; " ("extracted 0.30; the ticket asks 35.00")."""


@dataclass
class BatchReport:
    """What a batch did, in figures a person can check against the logs."""

    tickets: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    refunds_issued: int = 0
    breaches: list[str] = field(default_factory=list)
    refunds_without_passed_gate: list[str] = field(default_factory=list)
    call_ms: list[float] = field(default_factory=list)
    call_outcomes: Counter[str] = field(default_factory=Counter)
    refusals_by_kind: Counter[str] = field(default_factory=Counter)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    provider_errors: list[str] = field(default_factory=list)
    wall_s: float | None = None

    def percentile(self, q: float) -> float | None:
        """The q-quantile (0..1) of the per-call durations in ms."""
        if not self.call_ms:
            return None
        ordered = sorted(self.call_ms)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]

    def lines(self, examples: int = 3) -> list[str]:
        """The report as text lines."""
        p50, p95 = self.percentile(0.5), self.percentile(0.95)
        out = [
            f"tickets: {self.tickets}",
            f"wall time: {self.wall_s:.1f} s" if self.wall_s is not None else "wall time: -",
            f"model calls: {len(self.call_ms)} ({dict(self.call_outcomes)})",
            f"per-call p50: {p50:.0f} ms, p95: {p95:.0f} ms"
            if p50 is not None and p95 is not None
            else "per-call p50/p95: -",
            f"statuses: {dict(sorted(self.statuses.items()))}",
            f"refunds issued: {self.refunds_issued}",
            f"policy breaches (ledger audit): {len(self.breaches)}",
            f"refunds without a passed gate: {len(self.refunds_without_passed_gate)}",
            f"gate refusals by kind: {dict(sorted(self.refusals_by_kind.items()))}",
            f"provider errors: {len(self.provider_errors)}",
        ]
        out += [f"  breach: {b}" for b in self.breaches]
        out += [f"  provider error: {e}" for e in self.provider_errors[:examples]]
        caught = [r for r in self.refusals if r["kind"] != "model_error"]
        # One per ticket first (a ticket's attempts repeat its mistakes), then the rest.
        first: dict[str, dict[str, Any]] = {}
        for refusal in caught:
            first.setdefault(refusal["ticket"], refusal)
        shown = {id(r) for r in first.values()}
        varied = [*first.values(), *(r for r in caught if id(r) not in shown)]
        for refusal in varied[:examples]:
            out.append(
                f"  caught ({refusal['ticket']} {refusal['subtask']}): "
                f"{refusal['kind']}:{refusal['field']}: {refusal['message']}"
            )
        return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file (lines that are not JSON are skipped)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            rows.append(value)
    return rows


def build_report(
    records: list[dict[str, Any]],
    log_events: Iterable[Mapping[str, Any]],
    ledger: Sequence[Mapping[str, Any]],
    states: Mapping[str, Mapping[str, Any]],
    *,
    order_of: Any,
    customers: Mapping[str, str],
    wall_s: float | None = None,
) -> BatchReport:
    """Put the figures together.

    Args:
        records: The batch's output lines.
        log_events: The command's JSON log events (model calls, gate refusals).
        ledger: The ledger's refunds for this batch's tickets.
        states: Final state of each ticket's thread, by ticket id.
        order_of: Looks an order up in the store (for the audit).
        customers: The writer of each ticket.
        wall_s: How long the batch took.
    """
    from evals.audit import audit_refunds

    report = BatchReport(tickets=len(records), wall_s=wall_s)
    for record in records:
        report.statuses[record.get("status") or "failed"] += 1
        refund = record.get("refund") or {}
        if refund.get("issued"):
            report.refunds_issued += 1
        for error in record.get("errors") or []:
            if "HTTP " in error and "refused the call" in error:
                report.provider_errors.append(f"{record.get('ticket_id')}: {error}")
    report.breaches = audit_refunds(ledger, order_of, customers)
    for refund in ledger:
        state = states.get(refund["ticket_id"]) or {}
        gate = (state.get("gates") or {}).get("decide") or {}
        approved_by_human = (state.get("review") or {}).get("decision") in ("approve", "edit")
        if gate.get("status") != "passed" and not approved_by_human:
            report.refunds_without_passed_gate.append(refund["ticket_id"])
    for ticket, state in states.items():
        for error in state.get("errors") or []:
            if error.get("kind") != "gate_failed":
                continue
            for part in VIOLATION_START.split(str(error.get("message", ""))):
                kind, _, rest = part.partition(":")
                where, _, message = rest.partition(": ")
                report.refusals_by_kind[kind] += 1
                report.refusals.append(
                    {
                        "ticket": ticket,
                        "subtask": error.get("subtask"),
                        "kind": kind,
                        "field": where,
                        "message": message,
                    }
                )
    for event in log_events:
        if event.get("event") == "model_call":
            report.call_outcomes[str(event.get("result_status"))] += 1
            if isinstance(event.get("duration_ms"), int | float):
                report.call_ms.append(float(event["duration_ms"]))
    return report


def thread_states(checkpoints: Path, thread_ids: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The last checkpoint's channel values of each thread, by ticket id (SQLite saver)."""
    import asyncio

    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async def read() -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        async with AsyncSqliteSaver.from_conn_string(str(checkpoints)) as saver:
            for ticket, thread in thread_ids.items():
                got = await saver.aget_tuple({"configurable": {"thread_id": thread}})
                if got is not None:
                    found[ticket] = dict(got.checkpoint["channel_values"])
        return found

    return asyncio.run(read())


def report_from_files(
    out: Path, log: Path, db: Path, checkpoints: Path, inputs: Path, wall_s: float | None = None
) -> BatchReport:
    """The report of a `conductor run support` batch from the files it wrote."""
    from store.db import Store

    records = read_jsonl(out)
    customers = {t["ticket_id"]: t["customer_id"] for t in read_jsonl(inputs)}
    threads = {r["ticket_id"]: r["thread_id"] for r in records if r.get("thread_id")}
    states = thread_states(checkpoints, threads)
    with Store(db) as store:
        ledger = [dict(r) for r in store.all_refunds() if r["ticket_id"] in customers]
        return build_report(
            records,
            read_jsonl(log) if log.is_file() else [],
            ledger,
            states,
            order_of=store.get_order,
            customers=customers,
            wall_s=wall_s,
        )


def main(argv: list[str] | None = None) -> int:
    """`python -m conductor_cli.local_report --out … --log … --db … --checkpoints … --input …`."""
    parser = argparse.ArgumentParser(prog="python -m conductor_cli.local_report")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--wall-s", type=float, default=None)
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        report = report_from_files(
            args.out, args.log, args.db, args.checkpoints, args.input, args.wall_s
        )
    except (OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines(args.examples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
