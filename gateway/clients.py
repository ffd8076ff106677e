"""HTTP clients, credentials and structured-output runnables of the endpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.output_parsers import PydanticOutputParser
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from gateway.cache import schema_json
from gateway.call import CallState
from gateway.errors import GatewayError, ProviderRejected, SecretError, SecretNotFound
from gateway.registry import EndpointConfig, GatewaySettings
from gateway.secrets import (
    ChainedSecretProvider,
    EnvSecretProvider,
    FileSecretStore,
    SecretProvider,
    SimSecretProvider,
)
from telemetry.logging import get_logger, register_secret

log = get_logger("conductor.gateway")

NO_KEY_PLACEHOLDER = "EMPTY"
"""Key sent to endpoints with `api_key_required = false` when no credential is configured."""

JSON_MODE_INSTRUCTION = "Answer with one JSON object matching this JSON schema: "
"""Start of the system message that states the schema to a `json_mode` endpoint."""

ANSWER_USAGE: ContextVar[list[dict[str, int]] | None] = ContextVar(
    "conductor_answer_usage", default=None
)
"""Usage of the HTTP answers seen during the current attempt (see `note_usage`)."""


@dataclass(frozen=True)
class StructuredModel:
    """How to ask one endpoint for one schema on behalf of one agent.

    Attributes:
        runnable: Messages in, a validated schema instance out (or an exception).
        suffix: Messages appended to the prompt (the schema, for `json_mode`).
    """

    runnable: Runnable[Any, Any]
    suffix: tuple[BaseMessage, ...] = ()

    def prompt(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        """The messages to send."""
        return [*messages, *self.suffix] if self.suffix else messages


def default_secrets(settings: GatewaySettings) -> SecretProvider:
    """The credential provider the profile's `secrets` setting names."""
    if settings.profile.secrets == "sim":
        return SimSecretProvider()
    return ChainedSecretProvider(
        FileSecretStore(settings.secrets_dir), EnvSecretProvider(settings.secret_env)
    )


class EndpointClients:
    """Builds and keeps the clients of each endpoint: httpx, ChatOpenAI per agent, runnables."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None,
        secrets: SecretProvider,
    ) -> None:
        """Check that every in-process endpoint has a transport; open nothing yet.

        Raises:
            GatewayError: When an endpoint is in-process but no transport was given for it.
        """
        self._transports = dict(transports or {})
        for config in settings.profile.endpoints:
            if config.in_process and config.name not in self._transports:
                raise GatewayError(
                    f"endpoint {config.name} is in-process but no transport was given "
                    "(pass transports={name: httpx.AsyncBaseTransport}, e.g. "
                    "simulator.transport.simulator_transports(settings))"
                )
        self._settings = settings
        self._secrets = secrets
        self._http: dict[str, httpx.AsyncClient] = {}
        self._models: dict[tuple[str, str], ChatOpenAI] = {}
        self._structured: dict[tuple[str, str, type[BaseModel]], StructuredModel] = {}

    async def structured(self, call: CallState, endpoint: EndpointConfig) -> StructuredModel:
        """The structured-output model of (agent, endpoint, schema), built on first use.

        Raises:
            ProviderRejected: When the credential cannot be read (no request is sent).
        """
        key = (call.agent, endpoint.name, call.schema)
        found = self._structured.get(key)
        if found is not None:
            return found
        model = self._models.get((call.agent, endpoint.name))
        if model is None:
            api_key = await self._api_key(call, endpoint)
            register_secret(api_key)  # redacted from every log line from now on
            # Concurrent first calls may all have waited for the key: build one client.
            model = self._models.get((call.agent, endpoint.name)) or ChatOpenAI(
                model=endpoint.model,
                base_url=endpoint.base_url,
                api_key=SecretStr(api_key),
                max_retries=0,
                timeout=endpoint.timeout_s,
                http_async_client=self._http_client(endpoint),
                # `max_tokens` as such: ChatOpenAI's own field goes out as
                # `max_completion_tokens`, which OpenAI-compatible servers may ignore.
                extra_body={"max_tokens": call.agent_config.max_tokens},
            )
            self._models[(call.agent, endpoint.name)] = model
        found = self._structured.get(key)
        if found is None:
            found = _structured_model(model, call.schema, endpoint.structured_output)
            self._structured[key] = found
        return found

    def check_config(self) -> list[str]:
        """One line per credential the profile's endpoints need and cannot get (no network)."""
        refs = [config.credential or agent for agent, config in self._settings.agents.items()]
        problems: list[str] = []
        for endpoint in self._settings.profile.endpoints:
            if not endpoint.api_key_required:
                continue
            for ref in dict.fromkeys(refs or [endpoint.credential]):
                try:
                    self._secrets.get(ref)
                except SecretError as exc:
                    problems.append(
                        f"endpoint {endpoint.name} ({endpoint.base_url}): credential {ref!r} "
                        f"unavailable: {exc}"
                    )
        return problems

    async def aclose(self) -> None:
        """Close the HTTP clients; they are built again on the next call."""
        clients, self._http = list(self._http.values()), {}
        self._models.clear()
        self._structured.clear()
        for client in clients:
            await client.aclose()

    async def _api_key(self, call: CallState, endpoint: EndpointConfig) -> str:
        ref = call.credential_ref or endpoint.credential
        try:
            return await asyncio.to_thread(self._secrets.get, ref)
        except SecretNotFound as exc:
            if not endpoint.api_key_required:
                return NO_KEY_PLACEHOLDER
            error: SecretError = exc
        except SecretError as exc:
            error = exc
        log.error(
            "credential_unavailable",
            agent=call.agent,
            endpoint=endpoint.name,
            credential=ref,
            error=str(error),
        )
        raise ProviderRejected(
            call.agent,
            endpoint.name,
            endpoint.base_url,
            status=None,
            detail=f"credential {ref!r} unavailable: {error}",
        )

    def _http_client(self, config: EndpointConfig) -> httpx.AsyncClient:
        client = self._http.get(config.name)
        if client is None:
            client = httpx.AsyncClient(
                transport=self._transports.get(config.name),
                timeout=config.timeout_s,
                event_hooks={"response": [note_usage]},
            )
            self._http[config.name] = client
        return client


def _structured_model(model: ChatOpenAI, schema: type[BaseModel], method: str) -> StructuredModel:
    """The runnable asking `model` for `schema` by `method` (see `EndpointConfig`)."""
    if method == "json_object_schema":
        # llama-cpp-python's form: json_object constrained by a schema (a grammar).
        response_format = {"type": "json_object", "schema": json.loads(schema_json(schema))}
        bound = model.bind(response_format=response_format)
        return StructuredModel(bound | PydanticOutputParser(pydantic_object=schema))
    if method == "json_mode":
        # json_object alone constrains nothing but the syntax: the prompt states the schema.
        stated = SystemMessage(JSON_MODE_INSTRUCTION + schema_json(schema))
        return StructuredModel(model.with_structured_output(schema, method="json_mode"), (stated,))
    return StructuredModel(model.with_structured_output(schema, method=method))  # type: ignore[arg-type]


async def note_usage(response: httpx.Response) -> None:
    """HTTP response hook: note the `usage` of a chat-completion answer for the attempt.

    The gateway's token usage comes from here, not from the parsed message (asking
    LangChain for the raw message costs 1.2–1.7 ms of CPU a call). It also keeps what an
    answer the openai client then fails to parse spent. Best effort: an unreadable body
    notes nothing.
    """
    seen = ANSWER_USAGE.get()
    if (
        seen is None
        or response.status_code != 200
        or not response.url.path.endswith("/chat/completions")
        or "event-stream" in response.headers.get("content-type", "")
    ):
        return
    try:
        await response.aread()
        usage = json.loads(response.content).get("usage") or {}
        seen.append(
            {
                "input_tokens": int(usage.get("prompt_tokens") or 0),
                "output_tokens": int(usage.get("completion_tokens") or 0),
            }
        )
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return


def last_seen_usage() -> dict[str, int] | None:
    """The usage of the last answer of the current attempt, if the hook saw one."""
    seen = ANSWER_USAGE.get()
    return seen[-1] if seen else None
