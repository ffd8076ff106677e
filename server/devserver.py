"""What every launcher of `langgraph dev` outside the project root needs (tests, benchmarks).

A server started from a scratch directory reads a copy of `langgraph.json` whose relative
paths were made absolute, on a port free at the time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

PROJECT_CONFIG = Path(__file__).resolve().parents[1] / "langgraph.json"
"""The project's own `langgraph.json`."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def absolute_config(path: Path = PROJECT_CONFIG) -> dict[str, object]:
    """The `langgraph.json` at `path` with every `./` path made absolute (to run elsewhere)."""
    config = json.loads(path.read_text())
    base = path.parent

    def absolute(ref: str) -> str:
        module, colon, attr = ref.partition(":")
        full = str((base / module).resolve()) if module.startswith(".") else module
        return f"{full}{colon}{attr}"

    config["dependencies"] = [absolute(d) for d in config.get("dependencies", [])]
    config["graphs"] = {name: absolute(ref) for name, ref in config["graphs"].items()}
    for section, key in (("http", "app"), ("auth", "path"), ("checkpointer", "path")):
        if isinstance(config.get(section), dict) and key in config[section]:
            config[section][key] = absolute(config[section][key])
    return config


def stop_dev_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (it leads one), then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
