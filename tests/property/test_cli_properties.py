"""Properties of `conductor run support` on random JSONL files, invalid UTF-8 included."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from property_strategies import GOOD_TICKET, JSON, TEXT, ticket_like
from pydantic import ValidationError

import conductor_cli.common as cli_common
import conductor_cli.main as cli_main
from evals.audit import audit_refunds
from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from simulator.transport import simulator_transports
from state.schemas import Ticket
from store.db import Store
from store.seed import seed_store
from telemetry.logging import capture_log_lines

SMALL_REFUND = {
    "ticket_id": "T-PROP-R",
    "customer_id": "C001",
    "subject": "Refund",
    "body": "My order ORD-10001 is too small. Please refund the $35.00.",
    "channel": "email",
}
ONE_LINE_TEXT = TEXT.map(lambda t: "".join(c for c in t if c not in "\r\n"))
LINE = st.one_of(
    st.sampled_from([GOOD_TICKET, SMALL_REFUND]).map(json.dumps),
    ticket_like().map(json.dumps),
    JSON.map(json.dumps),
    ONE_LINE_TEXT,
    st.just(""),
).map(lambda line: line.encode("utf-8"))
NOT_UTF8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28"])


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    """Up to five lines; in about one file in four, one line carries bytes that are not UTF-8."""
    lines = draw(st.lists(LINE, min_size=1, max_size=5))
    if draw(st.integers(0, 3)) == 0:
        where = draw(st.integers(0, len(lines) - 1))
        lines[where] += draw(NOT_UTF8)
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("cli-props")
    seed_store(root / "seed.db")
    yield root


def run_cli(root: Path, content: bytes) -> tuple[int, str, Path, Path]:
    """`conductor run support` on `content`, on a fresh copy of the seeded store."""
    tmp = Path(tempfile.mkdtemp(dir=root))
    shutil.copy(root / "seed.db", tmp / "conductor.db")
    (tmp / "in.jsonl").write_bytes(content)
    settings_ = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(root / "cache.db")})
    sim = Simulator(error_model=ErrorModel.ideal(), faults=FaultSpec())
    gateway = ModelGateway.from_settings(settings_, transports=simulator_transports(settings_, sim))
    argv = [
        "--log-file", str(tmp / "log.jsonl"),
        "run", "support", str(tmp / "in.jsonl"),
        "--out", str(tmp / "out.jsonl"),
        "--db", str(tmp / "conductor.db"),
        "--checkpoints", str(tmp / "checkpoints.db"),
        "--metrics-file", str(tmp / "metrics.prom"),
    ]  # fmt: skip
    stderr = io.StringIO()
    with (
        mock.patch.object(cli_common, "build_gateway", lambda: gateway),
        contextlib.redirect_stderr(stderr),
        contextlib.redirect_stdout(io.StringIO()),
        capture_log_lines(level="WARNING"),  # main's log settings are put back afterwards
    ):
        code = cli_main.main(argv)
    return code, stderr.getvalue(), tmp / "out.jsonl", tmp / "conductor.db"


def ticket_of(line: str) -> tuple[dict[str, Any] | None, bool]:
    """(the JSON object on the line or None, whether it is a valid ticket)."""
    try:
        item = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None, False
    if not isinstance(item, dict):
        return None, False
    try:
        Ticket.model_validate(item)
    except ValidationError:
        return item, False
    return item, True


@settings(max_examples=30)
@given(content=jsonl_files())
def test_every_line_is_accounted_for_and_no_policy_is_broken(workdir: Path, content: bytes) -> None:
    code, stderr, out, db = run_cli(workdir, content)
    assert code == 0, stderr

    def blank(raw: bytes) -> bool:
        try:
            return not raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return False

    numbered = [(n, raw) for n, raw in enumerate(content.split(b"\n"), 1) if not blank(raw)]
    records = {r["line"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert sorted(records) == [n for n, _ in numbered], "one line of OUT per input line"
    customers: dict[str, str] = {}
    seen: set[str] = set()
    valid = 0
    for n, raw in numbered:
        record = records[n]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            event("a line not UTF-8: rejected, the others go on")
            assert record["status"] == "rejected" and record["thread_id"] is None, record
            assert any(f"line {n}" in e and "invalid UTF-8" in e for e in record["errors"])
            continue
        item, is_ticket = ticket_of(line)
        if item is None:
            assert record["status"] == "rejected" and record["thread_id"] is None
            assert any("invalid_ticket: line" in e for e in record["errors"]), record
        elif is_ticket and item["ticket_id"] in seen:
            assert record["status"] == "duplicate", record
        elif not is_ticket:
            assert record["status"] in ("rejected", "duplicate"), record
        else:
            seen.add(item["ticket_id"])
            valid += 1
            assert not any("invalid_ticket" in e for e in record["errors"]), record
            customers[item["ticket_id"]] = item["customer_id"]
    event(f"valid tickets: {min(valid, 2)}{'+' if valid > 2 else ''}")
    with Store(db) as store:
        refunds = store.all_refunds()
        assert audit_refunds(refunds, store.get_order, customers) == []
        if not valid:
            assert refunds == [], "rejected input changed the ledger"
