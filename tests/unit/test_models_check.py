"""`conductor models check` and the `local` profile, against scripted providers (no network)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from conductor_cli.main import main
from conductor_cli.models_check import (
    check_models,
    outcomes_table,
    settings_for,
    tiers_without_service,
)
from gateway.errors import RegistryError
from gateway.registry import DEFAULT_MODELS_FILE, GatewaySettings, load_registry, parse_registry
from simulator.transport import simulator_transports

LOCAL_ENV = {"CONDUCTOR_LOCAL_MODEL_URL": "http://127.0.0.1:9/v1", "CONDUCTOR_CACHE": "off"}
ANSWER = {"intent": "order_status", "confidence": 0.8, "legal_threat": False, "summary": "Where?"}


def completion(content: str | None = None, tool_args: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_args is not None:
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "IntentClassification", "arguments": tool_args},
            }
        ]
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def llama_cpp_python_like(request: httpx.Request) -> httpx.Response:
    """Refuses json_schema the way llama-cpp-python does; serves json_object with a schema."""
    body = json.loads(request.content)
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return httpx.Response(
            500,
            json={"error": {"message": "response_format json_schema is not supported"}},
        )
    if response_format.get("type") == "json_object" and "schema" in response_format:
        return httpx.Response(200, json=completion(json.dumps(ANSWER)))
    if response_format.get("type") == "json_object":
        return httpx.Response(200, json=completion('{"intent": "nonsense"}'))
    if body.get("tools"):
        return httpx.Response(
            400, json={"error": {"message": "tool_choice is not supported by this template"}}
        )
    return httpx.Response(200, json=completion("plain text"))


def mock(handler: Any, settings: GatewaySettings) -> dict[str, httpx.AsyncBaseTransport]:
    return {e.name: httpx.MockTransport(handler) for e in settings.profile.endpoints}


# --- the local profile ---------------------------------------------------------------------


def test_local_profile_points_both_tiers_at_the_local_server() -> None:
    settings = GatewaySettings.from_env({**LOCAL_ENV, "CONDUCTOR_MODEL_PROFILE": "local"})
    endpoints = settings.profile.endpoints
    assert {e.tier for e in endpoints} == {"small", "large"}
    assert {e.base_url for e in endpoints} == {"http://127.0.0.1:9/v1"}
    assert {e.structured_output for e in endpoints} == {"json_object_schema"}
    assert {e.limit_group for e in endpoints} == {"local"}
    assert not any(e.api_key_required for e in endpoints)
    # CPU-sized agents: the profile's overrides, from which the worker-node guard derives.
    for name, agent in settings.agents.items():
        assert agent.timeout_s == 180, name
        assert agent.total_budget_s == 400, name
        assert agent.max_tokens <= 250, name


def test_local_profile_overrides_leave_other_profiles_alone() -> None:
    sim = GatewaySettings.from_env({"CONDUCTOR_CACHE": "off"})
    local = GatewaySettings.from_env(
        {"CONDUCTOR_CACHE": "off", "CONDUCTOR_MODEL_PROFILE": "local",
         "CONDUCTOR_LOCAL_MODEL_URL": "http://127.0.0.1:1/v1"}
    )  # fmt: skip
    registry = load_registry(DEFAULT_MODELS_FILE).agents
    assert sim.agents == registry, "the sim profile keeps the registry's agent settings"
    assert all(local.agents[name] != agent for name, agent in registry.items())


def test_local_profile_without_its_url_names_the_variable() -> None:
    with pytest.raises(RegistryError, match="CONDUCTOR_LOCAL_MODEL_URL"):
        GatewaySettings.from_env({"CONDUCTOR_MODEL_PROFILE": "local"})


def test_a_profile_override_of_an_unknown_agent_is_named() -> None:
    raw = _raw_registry()
    raw["profiles"]["local"]["agents"]["summarise"] = {"timeout_s": 5}
    with pytest.raises(RegistryError, match=r"profiles\.local\.agents\.summarise: unknown agent"):
        parse_registry(raw)


def test_a_profile_override_budget_below_timeout_is_named() -> None:
    raw = _raw_registry()
    raw["profiles"]["local"]["agents"]["draft_reply"] = {"timeout_s": 60, "budget_s": 30}
    with pytest.raises(RegistryError, match=r"agents\.draft_reply\.budget_s: must be at least"):
        parse_registry(raw)


def test_worker_node_guard_follows_the_local_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphs import build

    for key, value in {**LOCAL_ENV, "CONDUCTOR_MODEL_PROFILE": "local"}.items():
        monkeypatch.setenv(key, value)
    budgets = build._budgets_from_registry()
    assert budgets["decide_refund"] == 400
    assert build.NODE_GUARD_FACTOR * budgets["decide_refund"] > 180


def _raw_registry() -> dict[str, Any]:
    import tomllib

    raw = tomllib.loads(DEFAULT_MODELS_FILE.read_text())
    assert load_registry(DEFAULT_MODELS_FILE)  # the checked-in file is valid as is
    return raw


# --- probes --------------------------------------------------------------------------------


async def test_probes_say_which_method_works_with_the_providers_error_body() -> None:
    settings = settings_for("local", LOCAL_ENV)
    outcomes = await check_models(settings, transports=mock(llama_cpp_python_like, settings))
    verdicts = {(o.endpoint, o.method): o.verdict for o in outcomes}
    assert verdicts == {
        (endpoint, method): verdict
        for endpoint in ("local-small", "local-large")
        for method, verdict in {
            "json_schema": "rejected",
            "json_object_schema": "works",
            "json_mode": "invalid output",
            "function_calling": "rejected",
        }.items()
    }
    refused = next(o for o in outcomes if o.method == "json_schema")
    assert "HTTP 500" in refused.detail and "json_schema is not supported" in refused.detail
    assert tiers_without_service(settings, outcomes) == []
    assert all(o.configured == (o.method == "json_object_schema") for o in outcomes)
    table = outcomes_table("local", outcomes)
    assert table.row_count == 8


async def test_a_tier_whose_configured_method_fails_has_no_service() -> None:
    settings = settings_for("local", {**LOCAL_ENV, "CONDUCTOR_STRUCTURED_OUTPUT": "json_schema"})
    outcomes = await check_models(settings, transports=mock(llama_cpp_python_like, settings))
    assert tiers_without_service(settings, outcomes) == ["small", "large"]


async def test_probes_on_the_simulator_work() -> None:
    settings = settings_for("sim", {"CONDUCTOR_CACHE": "off"})
    outcomes = await check_models(
        settings, ["json_schema"], transports=simulator_transports(settings)
    )
    assert [o.verdict for o in outcomes] == ["works"] * 3
    assert tiers_without_service(settings, outcomes) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_reports_an_unreachable_server_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    monkeypatch.setenv("CONDUCTOR_LOCAL_MODEL_URL", url)
    monkeypatch.setenv("CONDUCTOR_CACHE", "off")
    code = main(
        [
            "--log-file",
            "-",  # a log file would leave logging on pytest's capture stream afterwards
            "models",
            "check",
            "--profile",
            "local",
            "--method",
            "json_object_schema",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    text = " ".join((captured.out + captured.err).split())
    assert "local-small" in text and "unreachable" in text
    assert "connection failed" in text
    assert "no working endpoint for tier(s): small, large" in text


def test_cli_reports_a_missing_key_with_endpoint_url_and_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OPENAI_API_KEY", "CONDUCTOR_SECRET_OPENAI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONDUCTOR_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("CONDUCTOR_CACHE", "off")
    code = main(
        [
            "--log-file",
            "-",  # a log file would leave logging on pytest's capture stream afterwards
            "models",
            "check",
            "--profile",
            "openai",
            "--method",
            "json_schema",
        ]
    )
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert code == 1
    assert "endpoint openai-gpt-4o-mini (https://api.openai.com/v1): credential" in text
    assert "no credential" in text


def test_cli_names_an_unset_url_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CONDUCTOR_LOCAL_MODEL_URL", raising=False)
    code = main(["--log-file", "-", "models", "check", "--profile", "local"])
    assert code == 2
    assert "CONDUCTOR_LOCAL_MODEL_URL" in capsys.readouterr().err
