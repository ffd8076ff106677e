"""Overload through the server: N runs created at once with langgraph-sdk on `langgraph dev`.

`conductor bench --overload-server N [--server-jobs J]` starts `langgraph dev` on a free port
(its own seeded store, checkpoints and cache in a temporary directory; the server's own
in-process simulated endpoint, with its default error model and no added latency), creates
N threads and one background run on each at once, and polls until none is pending or
running. The langgraph-api runtime queues background runs and runs at most
`N_JOBS_PER_WORKER` of them at a time (`langgraph dev` sets 1 unless
`--n-jobs-per-worker` says otherwise); `J` defaults to N, so that every run is in the graph
at once and the orchestrator's own queueing is what is tested.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.overload import OverloadResult, error_kind
from bench.workload import Workload
from server.devserver import absolute_config, free_port, stop_dev_server

STARTUP_TIMEOUT_S = 120
POLL_S = 2.0
PAGE = 200
CLIENT_REQUESTS = 32
"""Requests the benchmark's SDK client has open at once while it creates the runs."""


def server_config(workdir: Path) -> Path:
    """The project's langgraph.json with absolute paths, written into `workdir`."""
    path = workdir / "langgraph.json"
    path.write_text(json.dumps(absolute_config()))
    return path


@contextmanager
def dev_server(workdir: Path, store: Path, jobs: int) -> Iterator[str]:
    """Run `langgraph dev` (open auth, no reload) on a free port; yield its API URL."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "CONDUCTOR_API_KEYS_FILE"},
        "CONDUCTOR_DB": str(store),
        "CONDUCTOR_CACHE_DB": str(workdir / "cache.db"),
        "CONDUCTOR_SERVER_CHECKPOINTS": str(workdir / "server-checkpoints.db"),
        "CONDUCTOR_LOG_LEVEL": "ERROR",
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "STATS_INTERVAL_SECS": "5",  # the queue's "Worker stats" (runs active) every 5 s
    }
    port, log_path = free_port(), workdir / "server.log"
    binary = Path(sys.executable).parent / "langgraph"
    command = [str(binary), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--config", str(server_config(workdir))]
    command += ["--n-jobs-per-worker", str(jobs)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield _wait_for_url(proc, log_path, port)
    finally:
        stop_dev_server(proc)


def _wait_for_url(proc: subprocess.Popen[bytes], log_path: Path, port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"langgraph dev exited:\n{log_path.read_text(errors='replace')}")
        text = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text(errors="replace"))
        if "API:" in text:
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    raise RuntimeError(f"langgraph dev did not start:\n{log_path.read_text(errors='replace')}")


def peak_active_runs(log_path: Path) -> int | None:
    """The most runs the server's queue reported active at once ("Worker stats" lines)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text(errors="replace"))
    found = [
        int(m.group(1))
        for line in text.splitlines()
        if "Worker stats" in line
        for m in [re.search(r"active[\"']?\s*[=:]\s*(\d+)", line)]
        if m
    ]
    return max(found) if found else None


async def run_server_overload(n: int, jobs: int | None = None) -> OverloadResult:
    """Create `n` runs at once through langgraph-sdk; count how their threads end."""
    from langgraph_sdk import get_client

    jobs = jobs or n
    result = OverloadResult(path=f"langgraph dev, langgraph-sdk, {jobs} jobs", submitted=n)
    with tempfile.TemporaryDirectory(prefix="conductor-overload-") as tmp:
        workdir = Path(tmp)
        work = Workload.open(workdir)
        tickets = work.tickets(n, "srv")
        work.close()
        with dev_server(workdir, workdir / "store.db", jobs) as url:
            client = get_client(url=url)
            # The SDK's connection pool times out a thousand requests sent at once; what is
            # measured is the server with every run submitted, not the client's pool.
            gate = asyncio.Semaphore(CLIENT_REQUESTS)

            async def submit(ticket: dict[str, Any]) -> str:
                async with gate:
                    thread = await client.threads.create()
                    await client.runs.create(
                        thread["thread_id"], "support", input={"ticket": ticket}
                    )
                    return str(thread["thread_id"])

            cpu0, wall0, unix0 = time.process_time(), time.perf_counter(), time.time()
            thread_ids = await asyncio.gather(*(submit(t) for t in tickets))
            result.notes.append(f"all {n} runs created in {time.perf_counter() - wall0:.1f} s")
            submitted = dict.fromkeys(thread_ids, unix0)
            finished = await _wait_for_all(client, n, submitted)
            peak = peak_active_runs(workdir / "server.log")
            if peak is not None:
                result.notes.append(f"server's peak runs active at once (its worker stats): {peak}")
            result.wall_s = time.perf_counter() - wall0
            result.cpu_s = time.process_time() - cpu0  # the client's only
            for values, latency in finished.values():
                result.statuses[str(values.get("status") or "no status")] += 1
                result.latencies_ms.append(latency * 1000)
                if values.get("status") != "resolved":
                    result.reasons[str(values.get("escalation_reason"))] += 1
                for error in values.get("errors") or []:
                    kind = error_kind(f"{error.get('kind')}: {error.get('message')}")
                    result.errors[kind] += 1
    result.notes.append(
        f"errors of our own queueing (queue, timeouts, guard, no time): {result.queue_caused()}; "
        "the server's simulator uses its default error model, so some escalations are the "
        "simulated workers' wrong answers"
    )
    result.notes.append(
        "wall and latencies from the first run created (latency to the thread's last update); "
        "CPU is the client's"
    )
    return result


async def _wait_for_all(
    client: Any, n: int, submitted: dict[str, float]
) -> dict[str, tuple[dict[str, Any], float]]:
    """Wait until no thread is busy; then each thread's values and latency (s).

    Polls the cheap `threads.count(status="busy")`; the latency is the thread's last update
    (server time, same machine) minus the Unix time its run was created.
    """
    while await client.threads.count(status="busy"):
        await asyncio.sleep(POLL_S)
    finished: dict[str, tuple[dict[str, Any], float]] = {}
    offset = 0
    while True:
        page = await client.threads.search(
            limit=PAGE, offset=offset, select=["thread_id", "updated_at", "values"]
        )
        for thread in page:
            tid = thread["thread_id"]
            if tid in submitted:
                updated = datetime.fromisoformat(str(thread["updated_at"])).timestamp()
                finished[tid] = (thread.get("values") or {}, updated - submitted[tid])
        if len(page) < PAGE:
            break
        offset += PAGE
    missing = n - len(finished)
    if missing:
        raise RuntimeError(f"{missing} of {n} threads not found after their runs")
    return finished
