"""A `langgraph dev` server for the real-model tests (its own port, store and workdir)."""

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

from store.seed import seed_store

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 300
"""`langgraph dev` imports the graphs and starts its workers: ~30 s here, more on loaded cores."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _absolute_config() -> dict[str, object]:
    """The project's langgraph.json with every `./` path made absolute."""
    config = json.loads((ROOT / "langgraph.json").read_text())

    def absolute(ref: str) -> str:
        path, _, attr = ref.partition(":")
        full = str((ROOT / path).resolve()) if path.startswith(".") else path
        return f"{full}:{attr}" if attr else full

    config["dependencies"] = [absolute(d) for d in config.get("dependencies", [])]
    config["graphs"] = {name: absolute(ref) for name, ref in config["graphs"].items()}
    for section, key in (("http", "app"), ("auth", "path"), ("checkpointer", "path")):
        if isinstance(config.get(section), dict) and key in config[section]:
            config[section][key] = absolute(config[section][key])
    return config


@contextmanager
def start_dev_server(workdir: Path, env: Mapping[str, str]) -> Iterator[str]:
    """Run `langgraph dev` from `workdir` with `env` until the block ends; yield its URL."""
    db = workdir / "server.db"
    seed_store(db)
    config = workdir / "langgraph.json"
    config.write_text(json.dumps(_absolute_config()))
    log_path = workdir / "server.log"
    port = _free_port()
    server_env = {
        **{k: v for k, v in env.items() if k != "CONDUCTOR_API_KEYS_FILE"},
        "CONDUCTOR_DB": str(db),
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    command = [
        str(Path(sys.executable).parent / "langgraph"),
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(config),
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"langgraph dev exited:\n{log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                text = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text(errors="replace"))
                raise RuntimeError(f"langgraph dev did not start:\n{text}")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
