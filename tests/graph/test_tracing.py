"""LangSmith traces, proven sent: a local endpoint receives what the real langsmith client posts."""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import langsmith.run_trees as ls_run_trees
import langsmith.utils as ls_utils
import pytest
from langsmith_standin import StandInHandler

from gateway.secrets import SimSecretProvider
from telemetry.tracing import graph_run_config

LANGSMITH_API_KEY = "lsv2_pt_dummy-test-key-0123456789"
PROJECT = "conductor-tests"
TICKET = {
    "ticket_id": "T-TRACE",
    "customer_id": "C001",
    "subject": "Refund",
    "body": "My order ORD-10001 is too small. Please refund the $35.00.",
    "channel": "email",
}
NODES = {
    "accept_input",
    "supervise",
    "classify_intent",
    "extract_entities",
    "gather_context",
    "decide_refund",
    "issue_refund",
    "draft_reply",
    "finalize_run",
}
AGENTS = {"classify_intent", "extract_entities", "decide_refund", "draft_reply"}


@dataclass
class FakeLangSmith:
    """A loopback stand-in for the LangSmith API: records runs as the client sends them."""

    server: ThreadingHTTPServer
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def record(self, method: str, path: str, body: bytes) -> None:
        with self.lock:
            self.requests.append((method, path))
            self.bodies.append(body)

    def upsert(self, run: dict[str, Any]) -> None:
        with self.lock:
            current = self.runs.setdefault(str(run["id"]), {})
            for key, value in run.items():
                if value is not None:
                    current[key] = value

    def ingest_multipart(self, content_type: str, body: bytes) -> None:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        parts: dict[str, dict[str, Any]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            kind, run_id, *rest = str(name).split(".")
            if kind not in ("post", "patch"):
                continue  # feedback, attachments
            entry = parts.setdefault(run_id, {"id": run_id})
            value = json.loads(payload) if payload else None
            if rest:
                entry[rest[0]] = value
            elif isinstance(value, dict):
                entry.update(value)
        for run in parts.values():
            self.upsert(run)

    def ingest_batch(self, payload: dict[str, Any]) -> None:
        for run in [*payload.get("post", []), *payload.get("patch", [])]:
            self.upsert(run)


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
    # What LangSmith itself announces: the client then sends zstd-compressed multipart.
    "instance_flags": {"zstd_compression_enabled": True},
}


def make_handler(sink: FakeLangSmith) -> type[BaseHTTPRequestHandler]:
    class Handler(StandInHandler):
        def do_GET(self) -> None:  # noqa: N802
            sink.record("GET", self.path, b"")
            self._reply(200, INFO if self.path.startswith("/info") else {})

        def do_POST(self) -> None:  # noqa: N802
            body = self._body()
            sink.record("POST", self.path, body)
            path = self.path.split("?")[0]
            if path == "/runs/multipart":
                sink.ingest_multipart(self.headers["Content-Type"], body)
            elif path == "/runs/batch":
                sink.ingest_batch(json.loads(body))
            elif path == "/runs":
                sink.upsert(json.loads(body))
            self._reply(202 if path.startswith("/runs") else 200, {})

        def do_PATCH(self) -> None:  # noqa: N802
            body = self._body()
            sink.record("PATCH", self.path, body)
            path = self.path.split("?")[0]
            if path.startswith("/runs/"):
                sink.upsert({**json.loads(body), "id": path.rsplit("/", 1)[1]})
            self._reply(202, {})

    return Handler


def reset_langsmith_caches() -> None:
    """Forget the env and client langsmith cached, so the next run reads the env anew."""
    ls_utils.get_env_var.cache_clear()
    ls_utils.get_tracer_project.cache_clear()
    client = ls_run_trees._CLIENT  # noqa: SLF001
    ls_run_trees._CLIENT = None  # noqa: SLF001
    if client is not None:
        client.flush()


@pytest.fixture
def langsmith_endpoint() -> Iterator[FakeLangSmith]:
    """LANGSMITH_TRACING=true with LANGSMITH_ENDPOINT at a loopback fake of the API."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    sink = FakeLangSmith(server=server)
    server.RequestHandlerClass = make_handler(sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = pytest.MonkeyPatch()
    for name in (
        "LANGCHAIN_TRACING_V2",
        "LANGCHAIN_ENDPOINT",
        "LANGCHAIN_API_KEY",
        "LANGCHAIN_PROJECT",
        "LANGSMITH_RUNS_ENDPOINTS",
        "LANGSMITH_OTEL_ENABLED",
        "LANGSMITH_DISABLE_RUN_COMPRESSION",
    ):
        env.delenv(name, raising=False)
    env.setenv("LANGSMITH_TRACING", "true")
    env.setenv("LANGSMITH_ENDPOINT", sink.url)
    env.setenv("LANGSMITH_API_KEY", LANGSMITH_API_KEY)
    env.setenv("LANGSMITH_PROJECT", PROJECT)
    reset_langsmith_caches()
    try:
        yield sink
    finally:
        reset_langsmith_caches()
        env.undo()
        reset_langsmith_caches()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def flush_traces() -> None:
    client = ls_run_trees.get_cached_client()
    client.flush()


def children(runs: dict[str, dict[str, Any]], parent: str) -> list[dict[str, Any]]:
    return [run for run in runs.values() if run.get("parent_run_id") == parent]


def descendants(runs: dict[str, dict[str, Any]], parent: str) -> list[dict[str, Any]]:
    found, stack = [], [parent]
    while stack:
        for child in children(runs, stack.pop()):
            found.append(child)
            stack.append(child["id"])
    return found


def metadata(run: dict[str, Any]) -> dict[str, Any]:
    return ((run.get("extra") or {}).get("metadata")) or {}


def agent_secrets(gateway: Any) -> set[str]:
    """The key each agent and endpoint of the sim profile is given by the secret provider."""
    provider = SimSecretProvider()
    refs = {gateway.settings.agent(agent).credential or agent for agent in AGENTS}
    refs |= {endpoint.credential for endpoint in gateway.profile.endpoints}
    return {provider.get(ref) for ref in refs}


async def test_a_run_is_one_trace_of_nodes_and_model_calls(
    langsmith_endpoint: FakeLangSmith, graph: Any, gateway: Any
) -> None:
    thread_id = "support-T-TRACE-0001"
    profile = gateway.settings.profile_name
    config = {
        **graph_run_config("support", thread_id, profile=profile, ticket_id=TICKET["ticket_id"]),
        "max_concurrency": 8,
    }
    result = await graph.ainvoke({"ticket": TICKET}, config)
    assert result["status"] == "resolved"
    flush_traces()
    sink = langsmith_endpoint
    runs = sink.runs
    assert ("GET", "/info") in sink.requests
    assert any(path == "/runs/multipart" for _, path in sink.requests), sink.requests

    # One trace: a single root, named after the graph, every other run below it.
    roots = [run for run in runs.values() if not run.get("parent_run_id")]
    assert len(roots) == 1, [r.get("name") for r in roots]
    (root,) = roots
    assert root["name"] == "support" and root["trace_id"] == root["id"]
    assert {run["trace_id"] for run in runs.values()} == {root["id"]}
    assert all(run.get("end_time") for run in runs.values()), "every run was closed"
    assert root["session_name"] == PROJECT
    assert {"graph:support", f"profile:{profile}"} <= set(root["tags"])

    # One run per node, named after the node, directly under the graph's run.
    node_runs = [run for run in children(runs, root["id"]) if run["name"] in NODES]
    names = {run["name"] for run in node_runs}
    assert {
        "accept_input",
        "supervise",
        "classify_intent",
        "extract_entities",
        "finalize_run",
    } <= names, names
    for run in node_runs:
        meta = metadata(run)
        assert meta["workflow_id"] == thread_id and meta["graph"] == "support", meta
        assert meta["langgraph_node"] == run["name"]
        assert {"graph:support", f"profile:{profile}"} <= set(run["tags"])

    # One run per model call, named after its agent, below the worker node's run.
    for node in (run for run in node_runs if run["name"] in AGENTS):
        calls = [run for run in descendants(runs, node["id"]) if run["name"] == node["name"]]
        assert calls, f"no model-call run named {node['name']} under its node"
        for call in calls:
            meta = metadata(call)
            assert meta["agent"] == node["name"], meta
            assert meta["tier"] in ("small", "large"), meta
            assert meta["attempt"] >= 1 and meta["workflow_id"] == thread_id, meta
            assert meta["graph"] == "support", meta
            llm_runs = [call, *descendants(runs, call["id"])]
            usage = [metadata(r).get("usage_metadata") for r in llm_runs if r["run_type"] == "llm"]
            assert usage and usage[0]["input_tokens"] > 0 and usage[0]["output_tokens"] > 0

    # No secret leaves the process: not the agents' keys, not the LangSmith key.
    secrets = agent_secrets(gateway) | {LANGSMITH_API_KEY}
    payloads = b"\n".join(sink.bodies)
    assert b'"classify_intent"' in payloads, "the payloads were read (decompressed) whole"
    for secret in secrets:
        assert secret.encode() not in payloads, "a credential was sent to LangSmith"
