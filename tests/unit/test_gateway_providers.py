"""The gateway against scripted providers: request bodies, permanent errors, configuration."""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from gateway.errors import (
    GatewayError,
    InvalidModelOutput,
    ModelCallFailed,
    ProviderRejected,
    ProviderUnavailable,
    RegistryError,
)
from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from gateway.secrets import EnvSecretProvider
from state.schemas import IntentClassification

ROOT = Path(__file__).resolve().parents[2]
ANSWER = {
    "intent": "refund_request",
    "confidence": 0.9,
    "legal_threat": False,
    "summary": "A refund.",
}
USAGE = {"prompt_tokens": 123, "completion_tokens": 45, "total_tokens": 168}


class Provider:
    """A scripted OpenAI-compatible provider behind an httpx transport; records each request."""

    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.status = status
        self.body = body
        self.requests: list[dict[str, Any]] = []
        self.hosts: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        self.hosts.append(request.url.host)
        if self.status != 200:
            return httpx.Response(self.status, json=self.body)
        content = json.dumps(self.body if self.body is not None else ANSWER)
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": "test-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": USAGE,
            },
        )

    def transports(self, settings: GatewaySettings) -> dict[str, httpx.AsyncBaseTransport]:
        return {e.name: httpx.MockTransport(self.handle) for e in settings.profile.endpoints}


def settings_for(tmp_path: Path, **env: str) -> GatewaySettings:
    return GatewaySettings.from_env(
        {"CONDUCTOR_CACHE_DB": str(tmp_path / "cache.db"), "CONDUCTOR_CACHE": "off", **env}
    )


Build = Callable[..., ModelGateway]


@pytest.fixture
async def build(tmp_path: Path) -> AsyncIterator[Build]:
    made: list[ModelGateway] = []

    def factory(provider: Provider, settings: GatewaySettings | None = None) -> ModelGateway:
        settings = settings or settings_for(tmp_path)
        gw = ModelGateway.from_settings(settings, transports=provider.transports(settings))
        made.append(gw)
        return gw

    yield factory
    for gw in made:
        await gw.aclose()


def messages() -> list[BaseMessage]:
    return [SystemMessage("Classify the ticket."), HumanMessage("<ticket>Refund me.</ticket>")]


async def classify(gw: ModelGateway) -> Any:
    return await gw.invoke_structured(
        agent="classify_intent", schema=IntentClassification, messages=messages()
    )


# --- request bodies --------------------------------------------------------------------------


async def test_json_schema_body_carries_max_tokens_and_usage_comes_from_the_http_answer(
    build: Build,
) -> None:
    provider = Provider()
    result = await classify(build(provider))
    assert result.output == IntentClassification(**ANSWER)
    assert result.usage == {"input_tokens": 123, "output_tokens": 45}
    (body,) = provider.requests
    assert body["response_format"]["type"] == "json_schema"
    assert body["max_tokens"] == 512
    assert "max_completion_tokens" not in body


async def test_max_tokens_is_per_agent(build: Build, tmp_path: Path) -> None:
    provider = Provider()
    settings = settings_for(tmp_path).with_agent("classify_intent", max_tokens=64)
    await classify(build(provider, settings))
    assert provider.requests[0]["max_tokens"] == 64


async def test_json_object_schema_sends_the_schema_in_response_format(
    build: Build, tmp_path: Path
) -> None:
    provider = Provider()
    settings = settings_for(tmp_path).with_endpoint(
        "sim-small-a", structured_output="json_object_schema"
    )
    result = await classify(build(provider, settings))
    assert result.output == IntentClassification(**ANSWER)
    assert result.usage == {"input_tokens": 123, "output_tokens": 45}
    (body,) = provider.requests
    assert body["response_format"] == {
        "type": "json_object",
        "schema": IntentClassification.model_json_schema(),
    }
    assert body["max_tokens"] == 512
    assert [m["content"] for m in body["messages"]] == [m.content for m in messages()]


async def test_json_mode_states_the_schema_in_the_prompt(build: Build, tmp_path: Path) -> None:
    provider = Provider()
    settings = settings_for(tmp_path).with_endpoint("sim-small-a", structured_output="json_mode")
    result = await classify(build(provider, settings))
    assert result.output == IntentClassification(**ANSWER)
    (body,) = provider.requests
    assert body["response_format"] == {"type": "json_object"}
    *prompt, stated = body["messages"]
    assert [m["content"] for m in prompt] == [m.content for m in messages()]
    assert stated["role"] == "system"
    prefix = "Answer with one JSON object matching this JSON schema: "
    assert stated["content"].startswith(prefix)
    assert json.loads(stated["content"][len(prefix) :]) == IntentClassification.model_json_schema()


async def test_json_mode_answer_off_the_schema_is_invalid_output(
    build: Build, tmp_path: Path
) -> None:
    provider = Provider(body={"intent": "refund"})
    settings = settings_for(tmp_path).with_endpoint("sim-small-a", structured_output="json_mode")
    with pytest.raises(InvalidModelOutput) as info:
        await classify(build(provider, settings))
    assert len(provider.requests) == 1
    assert info.value.usage == {"input_tokens": 123, "output_tokens": 45}


async def test_the_method_is_overridable_per_profile_by_env(build: Build, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, CONDUCTOR_STRUCTURED_OUTPUT="json_object_schema")
    assert {e.structured_output for e in settings.profile.endpoints} == {"json_object_schema"}
    provider = Provider()
    await classify(build(provider, settings))
    assert provider.requests[0]["response_format"]["type"] == "json_object"
    with pytest.raises(RegistryError, match="CONDUCTOR_STRUCTURED_OUTPUT.*'grammar'"):
        settings_for(tmp_path, CONDUCTOR_STRUCTURED_OUTPUT="grammar")


def test_models_toml_selects_the_method_per_endpoint(tmp_path: Path) -> None:
    text = (ROOT / "gateway" / "models.toml").read_text()
    marker = 'name = "sim-small-b"\n'
    assert marker in text
    custom = tmp_path / "models.toml"
    custom.write_text(text.replace(marker, marker + 'structured_output = "json_mode"\n'))
    settings = settings_for(tmp_path, CONDUCTOR_MODELS_FILE=str(custom))
    methods = {e.name: e.structured_output for e in settings.profile.endpoints}
    assert methods == {
        "sim-small-a": "json_schema",
        "sim-small-b": "json_mode",
        "sim-large-a": "json_schema",
    }


# --- permanent provider errors ---------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_a_permanent_error_is_rejected_at_once_with_the_providers_body(
    build: Build, status: int
) -> None:
    provider = Provider(status, {"error": {"message": f"nope {status}", "type": "invalid"}})
    gw = build(provider)
    with pytest.raises(ProviderRejected) as info:
        await classify(gw)
    assert not isinstance(info.value, ProviderUnavailable | ModelCallFailed)
    assert isinstance(info.value, GatewayError)
    assert len(provider.requests) == 1, "no retry, no fallback"
    message = str(info.value)
    assert "sim-small-a" in message and "http://sim-small-a.simulator.invalid/v1" in message
    assert f"HTTP {status}" in message and f"nope {status}" in message
    assert (info.value.endpoint, info.value.status) == ("sim-small-a", status)
    assert gw.health()["sim-small-a"]["failures"] == 0
    assert gw.health()["sim-small-a"]["state"] == "closed"


async def test_a_refused_request_format_is_rejected_even_as_a_500(build: Build) -> None:
    detail = "response_format.type: Input should be 'text' or 'json_object'"
    provider = Provider(500, {"error": {"message": detail, "type": "server_error"}})
    gw = build(provider)
    with pytest.raises(ProviderRejected) as info:
        await classify(gw)
    assert len(provider.requests) == 1
    assert "HTTP 500" in str(info.value) and detail in str(info.value)
    assert gw.health()["sim-small-a"]["failures"] == 0


async def test_a_plain_500_is_still_an_outage_retried_elsewhere(build: Build) -> None:
    provider = Provider(500, {"error": {"message": "internal server error"}})
    with pytest.raises(ModelCallFailed):
        await classify(build(provider))
    assert len(provider.requests) == 3


async def test_the_error_body_is_truncated(build: Build) -> None:
    provider = Provider(400, {"error": {"message": "x" * 5000}})
    with pytest.raises(ProviderRejected) as info:
        await classify(build(provider))
    assert 250 <= len(info.value.detail) <= 300
    assert len(str(info.value)) < 500


# --- configuration ---------------------------------------------------------------------------


def test_check_config_names_the_missing_key_without_network(tmp_path: Path) -> None:
    env = {
        "CONDUCTOR_MODEL_PROFILE": "openai",
        "CONDUCTOR_SECRETS_DIR": str(tmp_path / "no-secrets"),
        "CONDUCTOR_CACHE": "off",
    }
    gw = ModelGateway.from_settings(GatewaySettings.from_env(env))  # no transport: network
    problems = gw.check_config()
    assert problems
    assert any(
        "openai-gpt-4o-mini" in line
        and "https://api.openai.com/v1" in line
        and "'classify_intent'" in line
        and "OPENAI_API_KEY" in line
        for line in problems
    ), problems
    assert {line.split(" ")[1] for line in problems} == {"openai-gpt-4o-mini", "openai-gpt-4o"}
    fine = ModelGateway.from_settings(GatewaySettings.from_env({**env, "OPENAI_API_KEY": "sk-x"}))
    assert fine.check_config() == []
    keyed = ModelGateway.from_settings(
        GatewaySettings.from_env(env), secrets=EnvSecretProvider({"OPENAI_API_KEY": "sk-y"})
    )
    assert keyed.check_config() == []


def test_the_sim_profile_and_keyless_servers_need_no_key(tmp_path: Path) -> None:
    sim = settings_for(tmp_path)
    gw = ModelGateway.from_settings(sim, transports=Provider().transports(sim))
    assert gw.check_config() == []
    compatible = settings_for(
        tmp_path,
        CONDUCTOR_MODEL_PROFILE="compatible",
        CONDUCTOR_COMPATIBLE_SMALL_MODEL="s",
        CONDUCTOR_COMPATIBLE_LARGE_MODEL="l",
        CONDUCTOR_SECRETS_DIR=str(tmp_path / "none"),
    )
    assert ModelGateway.from_settings(compatible).check_config() == []


def test_an_in_process_endpoint_without_transport_fails_at_construction(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with pytest.raises(GatewayError, match="endpoint sim-small-a is in-process but no transport"):
        ModelGateway.from_settings(settings)
    partial = {"sim-small-a": httpx.MockTransport(Provider().handle)}
    with pytest.raises(GatewayError, match="endpoint sim-small-b is in-process"):
        ModelGateway.from_settings(settings, transports=partial)


def test_no_module_of_the_gateway_imports_the_simulator() -> None:
    found: list[str] = []
    for path in sorted((ROOT / "gateway").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name == "simulator" or name.startswith("simulator."):
                    found.append(f"{path.name}: {name}")
    # The composition root (nodes.resources) hands the gateway its transports.
    assert found == [], found
