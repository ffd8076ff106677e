"""Key file handling and the run rules of server/auth.py, without a server."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import Auth

from server.auth import build_auth, check_run_request, is_retry_resume, load_keys_from_env
from server.keys import KEYS_FILE_ENV, KeyFileError, add_key, hash_key, load_key_file


def test_add_key_stores_only_a_hash_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = add_key(path, "alice", "submitter")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert key not in text and hash_key(key) in text
    entry = load_key_file(path).identify(key)
    assert entry is not None and (entry.user, entry.role) == ("alice", "submitter")
    assert load_key_file(path).identify(key + "x") is None
    assert load_key_file(path).identify(None) is None


def test_a_user_keeps_one_role(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    add_key(path, "alice", "submitter")
    add_key(path, "alice", "submitter")  # a second key (rotation) is fine
    with pytest.raises(KeyFileError, match="different roles"):
        add_key(path, "alice", "reviewer")
    assert len(load_key_file(path)) == 2


def test_a_named_but_bad_key_file_stops_the_server(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_keys_from_env({KEYS_FILE_ENV: str(tmp_path / "missing.json")})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"keys": [{"user": "x", "role": "admin", "key_hash": "sha256:0"}]}))
    with pytest.raises(KeyFileError, match="role"):
        load_keys_from_env({KEYS_FILE_ENV: str(bad)})
    assert load_keys_from_env({}) is None


def test_open_mode_only_checks_run_input() -> None:
    auth = build_auth(None)
    assert auth._authenticate_handler is not None
    assert set(auth._handlers) == {("threads", "create_run")} and not auth._global_handlers


def run(**kwargs: Any) -> dict[str, Any]:
    return {"thread_id": "t", "kwargs": {"input": None, "command": None, **kwargs}}


@pytest.mark.parametrize(
    ("role", "value", "refused"),
    [
        ("submitter", run(input={"ticket": {}}), None),
        ("submitter", run(command={"resume": {}}), None),
        ("submitter", run(command={"resume": {"retry": True}}), None),
        ("submitter", run(command={"resume": {"i1": {"retry": True}}}), None),
        ("submitter", run(command={"resume": {"decision": "approve"}}), "answer a review"),
        ("submitter", run(command={"resume": {"i1": {"decision": "edit"}}}), "answer a review"),
        ("submitter", run(command={"resume": "approve"}), "answer a review"),
        ("submitter", run(command={"update": {"review": {}}, "goto": "act"}), "update and goto"),
        ("submitter", run(input={}, context={"auto_approve_limit": 1e6}), "run settings"),
        ("reviewer", run(command={"resume": {"decision": "approve"}}), None),
        ("reviewer", run(input={"ticket": {}}), "cannot create tickets"),
        ("reviewer", run(), "only resume"),
        ("reviewer", {**run(command={"resume": {}}), "thread_id": None}, "existing thread"),
    ],
)
def test_run_rules(role: Any, value: dict[str, Any], refused: str | None) -> None:
    if refused is None:
        check_run_request(role, value)
        return
    with pytest.raises(Auth.exceptions.HTTPException, match=refused) as exc:
        check_run_request(role, value)
    assert exc.value.status_code == 403


def test_retry_resume_is_never_a_decision() -> None:
    assert is_retry_resume({}) and is_retry_resume({"retry": True})
    assert not is_retry_resume({"retry": True, "decision": "approve"})
    assert not is_retry_resume({"retry": False}) and not is_retry_resume(None)
