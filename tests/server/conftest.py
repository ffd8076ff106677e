"""A real `langgraph dev` server on a free port, with its own seeded store."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from dev_servers import AuthServer

from server.keys import KEYS_FILE_ENV, Role, add_key
from store.seed import seed_store

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `langgraph dev` (no browser, no reload, open auth) and yield its API URL."""
    with start_dev_server(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """A second `langgraph dev`, its own port and workdir, with a key file enforced.

    Users: `alice` and `bob` (submitters), `rita` (reviewer).
    """
    workdir = tmp_path_factory.mktemp("auth-server")
    key_file = workdir / "api-keys.json"
    users: dict[str, Role] = {"alice": "submitter", "bob": "submitter", "rita": "reviewer"}
    keys = {user: add_key(key_file, user, role) for user, role in users.items()}
    with start_dev_server(workdir, env={KEYS_FILE_ENV: str(key_file)}) as url:
        yield AuthServer(url=url, keys=keys)


@contextmanager
def start_dev_server(workdir: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run `langgraph dev` from `workdir` (its own seeded store, free port) until exit.

    Args:
        workdir: Empty directory for the store, caches, config copy and `server.log`.
        env: Extra environment; without `CONDUCTOR_API_KEYS_FILE` in it the server is open
            (an inherited one is dropped).
    """
    db = workdir / "conductor.db"
    seed_store(db)
    base = {k: v for k, v in os.environ.items() if k != KEYS_FILE_ENV}
    server_env = {
        **base,
        "CONDUCTOR_DB": str(db),
        "CONDUCTOR_CACHE_DB": str(workdir / "cache.db"),
        "CONDUCTOR_LOG_FORMAT": "json",
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        **(env or {}),
    }
    config_path = workdir / "langgraph.json"
    config_path.write_text(json.dumps(absolute_config(ROOT / "langgraph.json")))
    log_path = workdir / "server.log"
    port = free_port()
    binary = Path(sys.executable).parent / "langgraph"
    with log_path.open("wb") as log:
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
        yield _wait_for_url(proc, log_path)
    finally:
        _stop(proc)


def absolute_config(path: Path) -> dict[str, object]:
    """The project's langgraph.json with every path made absolute, to run from a temp dir."""
    config = json.loads(path.read_text())
    base = path.parent

    def absolute(ref: str) -> str:
        return str((base / ref).resolve()) if ref.startswith(".") else ref

    config["dependencies"] = [absolute(d) for d in config.get("dependencies", [])]
    config["graphs"] = {
        name: absolute(ref.split(":")[0]) + ":" + ref.split(":")[1]
        for name, ref in config["graphs"].items()
    }
    if "http" in config and "app" in config["http"]:
        module, attr = config["http"]["app"].split(":")
        config["http"]["app"] = absolute(module) + ":" + attr
    if "auth" in config and "path" in config["auth"]:
        module, attr = config["auth"]["path"].split(":")
        config["auth"]["path"] = absolute(module) + ":" + attr
    return config


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_for_url(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    url: str | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"langgraph dev exited:\n{log_path.read_text(errors='replace')}")
        text = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text(errors="replace"))
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
