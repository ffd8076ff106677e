"""A `langgraph dev` server for the real-model tests (its own port, store and workdir)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from server.devserver import absolute_config, free_port, stop_dev_server
from store.seed import seed_store

STARTUP_TIMEOUT_S = 300
"""`langgraph dev` imports the graphs and starts its workers: ~30 s here, more on loaded cores."""


@contextmanager
def start_dev_server(workdir: Path, env: Mapping[str, str]) -> Iterator[str]:
    """Run `langgraph dev` from `workdir` with `env` until the block ends; yield its URL."""
    db = workdir / "server.db"
    seed_store(db)
    config = workdir / "langgraph.json"
    config.write_text(json.dumps(absolute_config()))
    log_path = workdir / "server.log"
    port = free_port()
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
        stop_dev_server(proc)
