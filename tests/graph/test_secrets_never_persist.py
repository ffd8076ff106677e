"""Per-agent credentials reach their endpoint and nothing else: not state, checkpoints, logs,
traces, the store, the cache or CLI output.

Known secret values are written to a file secret store (one 0600 file per agent); workflows
run through the CLI and directly on the graph with SQLite checkpointers, tracing to a local
LangSmith stand-in, with Conductor's log lines captured. Then every persisted artifact is
read back whole and searched for every secret value.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command
from test_tracing import LANGSMITH_API_KEY, FakeLangSmith, flush_traces, langsmith_endpoint

import conductor_cli.common as cli_common
from conductor_cli.main import main
from gateway.gateway import ModelGateway
from gateway.registry import DEFAULT_MODELS_FILE, GatewaySettings, load_registry
from gateway.secrets import FileSecretStore
from nodes.resources import Resources
from simulator.app import create_app
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from state.schemas import AGENT_OUTPUT_SCHEMAS
from store.db import Store
from telemetry.logging import capture_log_lines

__all__ = ["langsmith_endpoint"]  # the fixture, imported for pytest to find

ROOT = Path(__file__).resolve().parents[2]
TICKETS = {
    t["ticket_id"]: t
    for t in map(json.loads, (ROOT / "examples" / "tickets.jsonl").read_text().splitlines())
}
AGENT_OF_SCHEMA = {schema.__name__: agent for agent, schema in AGENT_OUTPUT_SCHEMAS.items()}
AGENTS = tuple(AGENT_OUTPUT_SCHEMAS)
"""The support agents, whose calls this test makes and whose keys it hunts for."""
REGISTRY_AGENTS = tuple(load_registry(DEFAULT_MODELS_FILE).agents)
"""Every agent of the registry: each needs its key for the gateway's start-up check."""


class RecordingApp:
    """ASGI wrapper of the simulator's app: which key each agent's request carried."""

    def __init__(self, sim: Simulator) -> None:
        self.inner = create_app(sim)
        self.keys: list[tuple[str, str]] = []  # (agent, Authorization header)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await self.inner(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        payload = json.loads(body)
        if payload.get("response_format"):
            schema = payload["response_format"]["json_schema"]["name"]
        else:
            schema = payload["tools"][0]["function"]["name"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.keys.append((AGENT_OF_SCHEMA[schema], headers.get("authorization", "")))
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.inner(scope, replay, send)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The directory every artifact of the test is written to (secrets live outside it)."""
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.chdir(path)  # default paths (var/...) land here too, and get scanned
    yield path


def write_secrets(directory: Path) -> tuple[FileSecretStore, dict[str, str]]:
    """One known, unguessable key per agent (and for the endpoints' shared reference)."""
    store = FileSecretStore(directory)
    values = {}
    for ref in (*REGISTRY_AGENTS, "sim"):
        # Not shaped like an OpenAI key, so no generic pattern can hide a leak.
        values[ref] = f"cndk-{ref}-{secrets.token_hex(20)}"
        path = store.put(ref, values[ref])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return store, values


def sqlite_cells(path: Path) -> bytes:
    """Every value of every table of a SQLite file, joined.

    The file's raw bytes are not enough: SQLite splits a long value across overflow pages,
    with page pointers in between, so a secret could straddle two pages unseen.
    """
    parts: list[bytes] = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        parts.append(value)
                    elif value is not None:
                        parts.append(str(value).encode())
    conn.close()
    return b"\n".join(parts)


def leaks(artifact: bytes, needles: dict[str, str]) -> list[str]:
    found = []
    for name, value in needles.items():
        token = value.rsplit("-", 1)[-1][:24]  # the random part, caught even if truncated
        if value.encode() in artifact or token.encode() in artifact:
            found.append(name)
    return found


def test_no_secret_is_persisted_logged_traced_or_printed(
    tmp_path: Path,
    work: Path,
    langsmith_endpoint: FakeLangSmith,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONDUCTOR_LOG_LEVEL", "DEBUG")  # every line a command can write
    secret_store, values = write_secrets(tmp_path / "secrets")
    sim = Simulator(FaultSpec(), ErrorModel.ideal())
    app = RecordingApp(sim)
    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(work / "cache.db")})
    transports = {
        e.name: httpx.ASGITransport(app=app) for e in settings.profile.endpoints if e.in_process
    }
    gateway = ModelGateway(settings, transports=transports, secrets=secret_store)
    db, checkpoints = work / "conductor.db", work / "checkpoints.db"
    store_args = ["--db", str(db), "--checkpoints", str(checkpoints)]
    tickets = work / "tickets.jsonl"
    tickets.write_text(
        "".join(
            json.dumps(TICKETS[tid]) + "\n" for tid in ("T-001", "T-002", "T-008", "T-018", "T-037")
        )
        + "not json at all\n"
    )
    cli_output: list[str] = []

    def cli(*args: str) -> int:
        code = main(list(args))
        captured = capsys.readouterr()
        cli_output.extend([captured.out, captured.err])
        return code

    final_states: list[str] = []
    monkeypatch.setattr(cli_common, "build_gateway", lambda: gateway)
    with capture_log_lines("DEBUG") as logs:
        # Through the CLI: a batch with escalations, then a reviewer's answers.
        assert cli("seed", "--db", str(db)) == 0
        assert (
            cli("run", "support", str(tickets), "--out", str(work / "out.jsonl"), *store_args) == 0
        )
        records = {
            r["ticket_id"]: r
            for r in map(json.loads, (work / "out.jsonl").read_text().splitlines())
        }
        assert records["T-002"]["status"] == records["T-018"]["status"] == "escalated"
        assert cli("escalations", "--json", *store_args) == 0
        assert cli("escalations", *store_args) == 0
        approve = ["--decision", "approve"]
        assert cli("resume", records["T-002"]["thread_id"], *approve, *store_args) == 0
        reject = ["--decision", "reject"]
        assert cli("resume", records["T-018"]["thread_id"], *reject, *store_args) == 0

        # Directly on the graph, with an AsyncSqliteSaver on its own file: an edit and a resume.
        asyncio.run(run_directly(work / "direct-checkpoints.db", db, final_states, gateway))
        asyncio.run(
            read_cli_states(checkpoints, [r["thread_id"] for r in records.values()], final_states)
        )
    asyncio.run(gateway.aclose())
    flush_traces()

    # Each agent's requests carried its own key, and only that key.
    for agent in AGENTS:
        sent = {auth for who, auth in app.keys if who == agent}
        assert sent == {f"Bearer {values[agent]}"}, (agent, sent)
    assert all(values["sim"] not in auth for _, auth in app.keys)

    # Every artifact, read back whole.
    artifacts: dict[str, bytes] = {
        str(path.relative_to(tmp_path)): path.read_bytes()
        for path in sorted(work.rglob("*"))
        if path.is_file()
    }
    for path in sorted(work.rglob("*.db")):
        artifacts[f"{path.relative_to(tmp_path)} (rows)"] = sqlite_cells(path)
    artifacts["captured log lines"] = logs.buffer.getvalue().encode()
    artifacts["LangSmith payloads"] = b"\n".join(langsmith_endpoint.bodies)
    artifacts["CLI output"] = "".join(cli_output).encode()
    artifacts["final state JSON"] = "\n".join(final_states).encode()

    # The scan reads what it should: the artifacts hold the runs, just not the keys.
    for name in ("work/checkpoints.db", "work/direct-checkpoints.db", "work/conductor.db"):
        assert name in artifacts, sorted(artifacts)
    checkpoint_bytes = b"".join(v for k, v in artifacts.items() if "checkpoints.db (rows)" in k)
    assert b"ORD-10002" in checkpoint_bytes and b"ORD-10015" in checkpoint_bytes
    assert b"refund_request" in artifacts["work/cache.db (rows)"]
    assert b"refund:T-002:ORD-10002" in artifacts["work/conductor.db (rows)"]
    # The CLI logs to var/logs/conductor.jsonl; the direct runs log to the captured stream.
    log_lines = artifacts["captured log lines"] + artifacts["work/var/logs/conductor.jsonl"]
    assert b'"credential": "classify_intent"' in log_lines
    assert b'"event": "refund_issued"' in log_lines
    assert b'"classify_intent"' in artifacts["LangSmith payloads"]
    assert b"T-002" in artifacts["CLI output"] and b"resolved" in artifacts["CLI output"]
    assert len(final_states) == sum(1 for r in records.values() if r["thread_id"]) + 2

    needles = {**values, "langsmith": LANGSMITH_API_KEY}
    planted = artifacts["final state JSON"] + values["decide_refund"][:-4].encode()
    assert leaks(planted, needles) == ["decide_refund"], "the scan finds a (truncated) key"
    found = {name: leaks(blob, needles) for name, blob in artifacts.items()}
    assert {name: refs for name, refs in found.items() if refs} == {}


async def run_directly(
    checkpoints: Path, db: Path, final_states: list[str], gateway: ModelGateway
) -> None:
    """Two tickets on the graph with an AsyncSqliteSaver: one edited by a reviewer."""
    from graphs.support import make_builder

    async with AsyncSqliteSaver.from_conn_string(str(checkpoints)) as saver:
        with Store(db) as store:
            resources = Resources(gateway=gateway, store=store)
            graph = make_builder(resources).compile(checkpointer=saver, name="support")
            for tid, answer in (("T-016", {"decision": "edit", "amount": 50.0}), ("T-003", None)):
                config = {"configurable": {"thread_id": f"direct-{tid}"}, "max_concurrency": 8}
                result = await graph.ainvoke({"ticket": TICKETS[tid]}, config)
                if answer is not None:
                    assert result["__interrupt__"][0].value["kind"] == "review"
                    await graph.ainvoke(Command(resume=answer), config)
                snapshot = await graph.aget_state(config)
                assert snapshot.values["status"] == "resolved", snapshot.values
                final_states.append(json.dumps(snapshot.values, default=str))


async def read_cli_states(checkpoints: Path, threads: list[str | None], out: list[str]) -> None:
    """The final state of every thread the CLI ran, as a caller would read it."""
    from graphs.support import make_builder

    async with AsyncSqliteSaver.from_conn_string(str(checkpoints)) as saver:
        graph = make_builder(Resources()).compile(checkpointer=saver, name="support")
        for thread in threads:
            if thread is None:
                continue  # the line that was not JSON never had a thread
            snapshot = await graph.aget_state({"configurable": {"thread_id": thread}})
            out.append(json.dumps(snapshot.values, default=str))
