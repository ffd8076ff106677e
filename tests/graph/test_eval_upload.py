"""`conductor eval --upload` against a loopback stand-in for LangSmith, and offline for real.

The upload test asserts on what the real langsmith client sent: the dataset, its examples,
the experiment (a session pointing at the dataset), the runs and their feedback. The offline
test fails on any connection to a host that is not the loopback.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from langsmith import Client
from langsmith_standin import StandInHandler

from evals.documents_eval import DocumentsSettings, run_documents_eval
from evals.experiment import VARIANTS, EvalSettings, run_eval
from evals.langsmith_run import langsmith_dataset_name

TENANT = str(uuid.uuid4())
INFO = {
    "version": "0.0-loopback",
    "batch_ingest_config": {
        "use_multipart_endpoint": True,
        "size_limit": 100,
        "size_limit_bytes": 20_971_520,
        "scale_up_nthreads_limit": 16,
        "scale_up_qsize_trigger": 1000,
        "scale_down_nempty_trigger": 4,
    },
    "instance_flags": {},
}


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FakeLangSmith:
    """Datasets, examples, sessions, runs and feedback, as the client sends them."""

    server: ThreadingHTTPServer
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def multipart(self, content_type: str, body: bytes) -> list[tuple[str, Any]]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        parts = []
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True) or b""
            try:
                value = json.loads(payload) if payload else None
            except ValueError:
                value = payload
            parts.append((name, value))
        return parts

    def ingest_runs(self, parts: list[tuple[str, Any]]) -> None:
        for name, value in parts:
            kind, ident, *rest = name.split(".")
            if kind == "feedback":
                self.feedback.append(value)
                continue
            if kind not in ("post", "patch"):
                continue
            run = self.runs.setdefault(ident, {"id": ident})
            if rest:
                run[rest[0]] = value
            elif isinstance(value, dict):
                run.update({k: v for k, v in value.items() if v is not None})

    def ingest_examples(self, dataset_id: str, parts: list[tuple[str, Any]]) -> None:
        for name, value in parts:
            ident, *rest = name.split(".")
            example = self.examples.setdefault(
                ident,
                {"id": ident, "dataset_id": dataset_id, "created_at": now(), "modified_at": now()},
            )
            if rest and rest[0] in ("inputs", "outputs"):
                example[rest[0]] = value
            elif isinstance(value, dict):
                example.update(value)


def make_handler(sink: FakeLangSmith) -> type[BaseHTTPRequestHandler]:
    class Handler(StandInHandler):
        def _json(self, body: bytes) -> Any:
            return json.loads(body) if body else {}

        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            query = parse_qs(url.query)
            path = url.path.removeprefix("/api/v1")
            sink.requests.append(("GET", path))
            with sink.lock:
                if path == "/info":
                    return self._reply(200, INFO)
                if path == "/datasets":
                    found = list(sink.datasets.values())
                    if "name" in query:
                        found = [d for d in found if d["name"] in query["name"]]
                    if "id" in query:
                        found = [d for d in found if d["id"] in query["id"]]
                    return self._reply(200, found)
                if path.startswith("/datasets/"):
                    ident = path.split("/")[2]
                    if ident in sink.datasets and path.count("/") == 2:
                        return self._reply(200, sink.datasets[ident])
                    return self._reply(200, [] if path.endswith("s") else {})
                if path == "/examples":
                    dataset = (query.get("dataset") or [None])[0]
                    offset = int((query.get("offset") or ["0"])[0])
                    found = [
                        e
                        for e in sink.examples.values()
                        if dataset is None or e["dataset_id"] == dataset
                    ]
                    limit = int((query.get("limit") or [str(len(found))])[0])
                    return self._reply(200, found[offset : offset + limit])
                if path == "/sessions":
                    found = list(sink.sessions.values())
                    if "name" in query:
                        found = [s for s in found if s["name"] in query["name"]]
                    return self._reply(200, found)
                if path.startswith("/sessions/"):
                    return self._reply(200, sink.sessions.get(path.split("/")[2], {}))
            self._reply(200, [])

        def do_POST(self) -> None:  # noqa: N802
            body = self._body()
            path = urlparse(self.path).path.removeprefix("/api/v1")
            sink.requests.append(("POST", path))
            content_type = self.headers.get("Content-Type", "")
            with sink.lock:
                if path == "/datasets":
                    payload = self._json(body)
                    dataset = {
                        "id": str(uuid.uuid4()),
                        "created_at": now(),
                        "modified_at": now(),
                        "tenant_id": TENANT,
                        "data_type": "kv",
                        "example_count": 0,
                        **payload,
                    }
                    sink.datasets[dataset["id"]] = dataset
                    return self._reply(200, dataset)
                if "/examples" in path and content_type.startswith("multipart"):
                    dataset_id = (
                        path.split("/datasets/")[1].split("/")[0] if "/datasets/" in path else ""
                    )
                    sink.ingest_examples(dataset_id, sink.multipart(content_type, body))
                    return self._reply(201, {"count": len(sink.examples), "example_ids": []})
                if path in ("/examples/bulk", "/examples"):
                    payload = self._json(body)
                    for item in payload if isinstance(payload, list) else [payload]:
                        item = {"created_at": now(), "modified_at": now(), **item}
                        item["id"] = str(item.get("id") or uuid.uuid4())
                        sink.examples[item["id"]] = item
                    return self._reply(200, payload)
                if path == "/sessions":
                    payload = self._json(body)
                    session = {
                        "id": str(payload.get("id") or uuid.uuid4()),
                        "tenant_id": TENANT,
                        "start_time": now(),
                        **payload,
                    }
                    sink.sessions[session["id"]] = session
                    return self._reply(200, session)
                if path == "/runs/multipart":
                    sink.ingest_runs(sink.multipart(content_type, body))
                    return self._reply(202, {})
                if path == "/runs/batch":
                    payload = self._json(body)
                    for run in [*payload.get("post", []), *payload.get("patch", [])]:
                        sink.runs.setdefault(str(run["id"]), {}).update(run)
                    return self._reply(202, {})
                if path == "/runs":
                    run = self._json(body)
                    sink.runs.setdefault(str(run["id"]), {}).update(run)
                    return self._reply(202, {})
                if path == "/feedback":
                    sink.feedback.append(self._json(body))
                    return self._reply(200, sink.feedback[-1])
            self._reply(200, {})

        def do_PATCH(self) -> None:  # noqa: N802
            body = self._body()
            path = urlparse(self.path).path.removeprefix("/api/v1")
            sink.requests.append(("PATCH", path))
            content_type = self.headers.get("Content-Type", "")
            with sink.lock:
                if "/examples" in path and content_type.startswith("multipart"):
                    dataset_id = (
                        path.split("/datasets/")[1].split("/")[0] if "/datasets/" in path else ""
                    )
                    sink.ingest_examples(dataset_id, sink.multipart(content_type, body))
                elif path == "/examples/bulk":
                    for item in self._json(body):
                        sink.examples.setdefault(str(item["id"]), {}).update(item)
                elif path.startswith("/sessions/"):
                    session = sink.sessions.setdefault(path.split("/")[2], {})
                    session.update(self._json(body))
                    return self._reply(200, session)
                elif path.startswith("/runs/"):
                    sink.runs.setdefault(path.split("/")[2], {}).update(self._json(body))
            self._reply(200, {})

    return Handler


@pytest.fixture
def langsmith_server() -> Iterator[FakeLangSmith]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    sink = FakeLangSmith(server=server)
    server.RequestHandlerClass = make_handler(sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail any connection to a host that is not the loopback; record every attempt."""
    attempts: list[Any] = []
    real_create = socket.create_connection
    real_connect = socket.socket.connect

    def loopback(address: Any) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        return str(host) in ("127.0.0.1", "localhost", "::1")

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        if not loopback(address):
            raise OSError(f"test: connection to {address} refused (offline)")
        return real_create(address, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        attempts.append(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not loopback(address):
            raise OSError(f"test: connection to {address} refused (offline)")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2"):
        monkeypatch.setenv(name, "true")  # even with tracing asked for, offline stays offline
    return attempts


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
async def test_offline_makes_no_connection(loopback_only: list[Any]) -> None:
    result = await run_eval(EvalSettings(limit=6, concurrency=2))
    assert result.tickets == 6 and len(result.rows) == 6
    assert loopback_only == [], "offline must not even try to connect"
    result = await run_eval(EvalSettings(limit=4, variant=VARIANTS["naive"]))
    assert len(result.rows) == 4
    assert loopback_only == []
    documents = await run_documents_eval(DocumentsSettings(limit=4, concurrency=2))
    assert len(documents.rows) == 4
    assert loopback_only == []


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
async def test_upload_records_dataset_experiment_runs_and_feedback(
    langsmith_server: FakeLangSmith, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LANGCHAIN_TRACING_V2", "LANGCHAIN_ENDPOINT", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    client = Client(api_url=langsmith_server.url, api_key="lsv2_pt_test-key")
    try:
        await _upload_and_check(langsmith_server, client)
    finally:
        client.close(timeout=5)


async def _upload_and_check(langsmith_server: FakeLangSmith, client: Client) -> None:
    settings = EvalSettings(limit=3, concurrency=1, upload=True)
    result = await run_eval(settings, client=client)
    client.flush()
    assert len(result.rows) == 3
    sink = langsmith_server
    # the dataset, created by name, with one example per ticket and its ground truth
    (dataset,) = sink.datasets.values()
    assert dataset["name"] == langsmith_dataset_name("support")
    examples = [e for e in sink.examples.values() if e.get("dataset_id") == dataset["id"]]
    assert len(examples) == 3, sink.requests
    assert {e["outputs"]["ticket_id"] for e in examples} == {"S-0001", "S-0002", "S-0003"}
    assert all("expected_status" in e["outputs"] for e in examples)
    # the experiment: a session on the dataset, named after the run
    experiments = [s for s in sink.sessions.values() if s.get("reference_dataset_id")]
    assert len(experiments) == 1, sink.sessions
    (experiment,) = experiments
    assert experiment["reference_dataset_id"] == dataset["id"]
    assert str(result.experiment_name).startswith("conductor-support-single-graph")
    assert experiment["extra"]["metadata"]["variant"] == "graph"
    # a root run per example, in the experiment, and feedback from every evaluator
    roots = [r for r in sink.runs.values() if r.get("reference_example_id")]
    assert {str(r["reference_example_id"]) for r in roots} == {e["id"] for e in examples}
    keys = {f.get("key") for f in sink.feedback}
    assert {"outcome", "money_right", "intent_match", "refund_match"} <= keys, keys
    # a rerun updates the dataset instead of duplicating it
    await run_eval(settings, client=client)
    client.flush()
    assert len(sink.datasets) == 1
    assert len([e for e in sink.examples.values() if e.get("dataset_id") == dataset["id"]]) == 3


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
async def test_documents_upload_records_dataset_experiment_runs_and_feedback(
    langsmith_server: FakeLangSmith, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LANGCHAIN_TRACING_V2", "LANGCHAIN_ENDPOINT", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    client = Client(api_url=langsmith_server.url, api_key="lsv2_pt_test-key")
    try:
        report = await run_documents_eval(
            DocumentsSettings(limit=2, concurrency=1, upload=True), client=client
        )
        client.flush()
    finally:
        client.close(timeout=5)
    assert len(report.rows) == 2
    sink = langsmith_server
    (dataset,) = sink.datasets.values()
    assert dataset["name"] == langsmith_dataset_name("documents")
    examples = [e for e in sink.examples.values() if e.get("dataset_id") == dataset["id"]]
    assert len(examples) == 2, sink.requests
    assert all("doc_type" in e["outputs"] and "entities" in e["outputs"] for e in examples)
    (experiment,) = [s for s in sink.sessions.values() if s.get("reference_dataset_id")]
    assert experiment["reference_dataset_id"] == dataset["id"]
    assert experiment["extra"]["metadata"]["pipeline"] == "documents graph"
    roots = [r for r in sink.runs.values() if r.get("reference_example_id")]
    assert {str(r["reference_example_id"]) for r in roots} == {e["id"] for e in examples}
    keys = {f.get("key") for f in sink.feedback}
    assert {"doc_type_match", "entity_precision", "entity_recall", "spans_exact"} <= keys, keys
