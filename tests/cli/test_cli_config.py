"""Configuration mistakes stop `conductor run` at start with one line, instead of parking."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from conductor_cli.main import main
from store.db import Store
from telemetry.logging import capture_log_lines

TICKET = {
    "ticket_id": "T-CFG",
    "customer_id": "C008",
    "subject": "Where is it?",
    "body": "Where is my order ORD-10008?",
    "channel": "chat",
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_API_KEY", "CONDUCTOR_SECRETS_DIR", "CONDUCTOR_MODEL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONDUCTOR_SECRETS_DIR", str(tmp_path / "no-secrets"))
    with capture_log_lines(level="WARNING"):  # main's log settings are put back afterwards
        assert main(["seed", "--db", str(tmp_path / "db.sqlite")]) == 0
    (tmp_path / "in.jsonl").write_text(json.dumps(TICKET) + "\n")
    return tmp_path


def run(workdir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    with capture_log_lines(level="WARNING"):  # main's log settings are put back afterwards
        code = main(
            ["run", "support", str(workdir / "in.jsonl"), "--out", str(workdir / "out.jsonl"),
             "--db", str(workdir / "db.sqlite"), "--checkpoints", str(workdir / "ck.db")]
        )  # fmt: skip
    return code, capsys.readouterr().err


def test_openai_without_a_key_names_the_variable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONDUCTOR_MODEL_PROFILE", "openai")
    code, err = run(workdir, capsys)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("error: model profile 'openai' cannot serve: endpoint openai-")
    assert "https://api.openai.com/v1" in line and "OPENAI_API_KEY" in line
    assert not (workdir / "out.jsonl").exists()
    with Store(workdir / "db.sqlite") as store:
        assert store.list_runs() == []


def test_compatible_url_where_nothing_listens(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("CONDUCTOR_MODEL_PROFILE", "compatible")
    monkeypatch.setenv("CONDUCTOR_COMPATIBLE_BASE_URL", url)
    monkeypatch.setenv("CONDUCTOR_COMPATIBLE_SMALL_MODEL", "small")
    monkeypatch.setenv("CONDUCTOR_COMPATIBLE_LARGE_MODEL", "large")
    code, err = run(workdir, capsys)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert f"endpoint compatible-small ({url}): not reachable" in line
    assert not (workdir / "out.jsonl").exists()
