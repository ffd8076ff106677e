"""Dev servers for tests: start `langgraph dev` on a free port (importable, unlike conftest)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from server.devserver import absolute_config, free_port, stop_dev_server
from server.keys import KEYS_FILE_ENV
from store.seed import seed_store

STARTUP_TIMEOUT_S = 120


@dataclass(frozen=True)
class AuthServer:
    """A dev server with API keys enforced, and one key per test user."""

    url: str
    keys: dict[str, str]  # user -> API key


@dataclass(frozen=True)
class DevServer:
    """A running `langgraph dev`: its API URL and its process (leader of its own group)."""

    url: str
    proc: subprocess.Popen[bytes]


@contextmanager
def start_dev_server(workdir: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run `langgraph dev` from `workdir` (its own seeded store, free port) until exit.

    Args:
        workdir: Empty directory for the store, caches, config copy and `server.log`.
        env: Extra environment; without `CONDUCTOR_API_KEYS_FILE` in it the server is open
            (an inherited one is dropped).
    """
    with run_dev_server(workdir, env) as server:
        yield server.url


@contextmanager
def run_dev_server(
    workdir: Path, env: Mapping[str, str] | None = None, *, seed: bool = True
) -> Iterator[DevServer]:
    """Like `start_dev_server`, yielding the process too (to kill it); `seed=False` on restart.

    The server's store, response cache and checkpoints are files in `workdir`, so a server
    restarted on the same `workdir` finds what the previous one left.
    """
    db = workdir / "conductor.db"
    if seed:
        seed_store(db)
    base = {k: v for k, v in os.environ.items() if k != KEYS_FILE_ENV}
    server_env = {
        **base,
        "CONDUCTOR_DB": str(db),
        "CONDUCTOR_CACHE_DB": str(workdir / "cache.db"),
        "CONDUCTOR_SERVER_CHECKPOINTS": str(workdir / "server-checkpoints.db"),
        "CONDUCTOR_LOG_FORMAT": "json",
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        **(env or {}),
    }
    config_path = workdir / "langgraph.json"
    config_path.write_text(json.dumps(absolute_config()))
    log_path = workdir / "server.log"
    port = free_port()
    binary = Path(sys.executable).parent / "langgraph"
    with log_path.open("ab") as log:
        start = log.tell()
        proc = subprocess.Popen(
            [
                str(binary),
                "dev",
                "--no-browser",
                "--no-reload",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--config",
                str(config_path),
            ],
            cwd=workdir,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield DevServer(url=_wait_for_url(proc, log_path, start), proc=proc)
    finally:
        stop_dev_server(proc)


def kill_dev_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server's whole process group (no graceful exit, no flush) and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _wait_for_url(proc: subprocess.Popen[bytes], log_path: Path, start: int = 0) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    url: str | None = None
    while time.monotonic() < deadline:
        raw = log_path.read_bytes()[start:].decode(errors="replace")
        if proc.poll() is not None:
            raise RuntimeError(f"langgraph dev exited:\n{raw}")
        text = re.sub(r"\x1b\[[0-9;]*m", "", raw)
        if url is None:
            found = re.search(r"API:\s*(http://127\.0\.0\.1:\d+)", text)
            url = found.group(1) if found else None
        if url is not None:
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    raise RuntimeError(f"langgraph dev did not start:\n{log_path.read_text(errors='replace')}")
