"""The model gateway: every model call of Conductor goes through `invoke_structured`."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ValidationError

from gateway.attempt import AttemptRunner
from gateway.breaker import CircuitBreaker
from gateway.cache import GatedCache, cache_key
from gateway.call import CallState, build_endpoints, endpoint_health
from gateway.clients import EndpointClients, default_secrets
from gateway.errors import GatewayError, ProviderUnavailable
from gateway.probe import PROBE_TIMEOUT_S, ProbeReport, log_probe_report, probe_endpoints
from gateway.registry import TIER_RANK, AgentConfig, GatewaySettings
from gateway.result import ModelResult, cached_result
from gateway.routing import Router, estimate_tokens
from gateway.secrets import SecretProvider
from telemetry.logging import get_logger

__all__ = ["ModelGateway", "ModelResult", "Transports"]

log = get_logger("conductor.gateway")

Transports = Mapping[str, httpx.AsyncBaseTransport]
"""An httpx transport per endpoint name (required for in-process endpoints)."""


class ModelGateway:
    """Routes structured model calls to endpoints, guarded by breakers, limits and timeouts.

    It knows endpoints only by their settings and the httpx transports it is handed: what
    serves an endpoint (a provider, a local server, an in-process app) is the composition
    root's business. It is meant for one event loop: the breakers and buckets are plain
    state that no await interrupts.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        transports: Transports | None = None,
        secrets: SecretProvider | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """Build the gateway (no connection is opened until the first call).

        Args:
            settings: The settings (profile, agents, cache, secrets).
            transports: An httpx transport per endpoint name; an endpoint without one uses
                httpx's network transport. Every `in_process` endpoint needs one.
            secrets: Credential provider; from the profile's `secrets` setting when None.
            clock: Monotonic clock for breakers, buckets and budgets.
            sleep: Coroutine function used for every wait.
            rng: Source of backoff jitter.

        Raises:
            GatewayError: When an endpoint is in-process but no transport was given for it.
        """
        self.settings = settings
        self.profile = settings.profile
        self._transports = dict(transports or {})
        self._given_secrets = secrets
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._secrets = secrets or default_secrets(settings)
        self._clients = EndpointClients(
            settings, transports=self._transports, secrets=self._secrets
        )
        self._router = Router(settings.profile.retry, clock=clock, sleep=sleep, rng=self._rng)
        self._attempts = AttemptRunner(settings, clock=clock)
        self._endpoints = build_endpoints(settings.profile, clock)
        self._cache = (
            GatedCache(settings.cache_path, database_url=settings.cache_database_url)
            if settings.cache_enabled
            else None
        )
        self._warned_agents: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        settings: GatewaySettings,
        *,
        transports: Transports | None = None,
        secrets: SecretProvider | None = None,
    ) -> ModelGateway:
        """Build a gateway from settings.

        Args:
            settings: Usually `GatewaySettings.from_env()`.
            transports: An httpx transport per endpoint name; every in-process endpoint
                needs one (`simulator.transport.simulator_transports` builds them).
            secrets: Credential provider overriding the profile's.

        Raises:
            GatewayError: When an endpoint is in-process but no transport was given for it.
        """
        return cls(settings, transports=transports, secrets=secrets)

    def with_settings(self, settings: GatewaySettings) -> ModelGateway:
        """A new gateway on `settings` with this one's transports, secrets, clock and sleep.

        For a caller that changes a setting for a while, e.g. turns the cache off for a
        fault-injection run (`gw.with_settings(gw.settings.with_overrides(cache_enabled=False))`).
        Circuit and bucket state start afresh.
        """
        return ModelGateway(
            settings,
            transports=self._transports,
            secrets=self._given_secrets,
            clock=self._clock,
            sleep=self._sleep,
            rng=self._rng,
        )

    # --- the call ----------------------------------------------------------------------------

    async def invoke_structured(
        self,
        *,
        agent: str,
        schema: type[BaseModel],
        messages: list[BaseMessage],
        tier: str | None = None,
    ) -> ModelResult:
        """Ask a model of `tier` for an instance of `schema`.

        Args:
            agent: The calling agent (its registry entry gives tier, timeout, cacheability,
                output cap and credential); it names the LangSmith run.
            schema: The pydantic model of the answer.
            messages: The prompt.
            tier: "small" or "large"; the agent's registry tier when None.

        Returns:
            The answer with its usage, cost and where it came from. Whether the call may
            be served from or enter the response cache is the agent's registry `cacheable`
            flag (and the settings' `cache_enabled`). A fresh cacheable answer is not
            written yet: it is held pending under `result.cache_key` until `confirm_cached`
            (its gate passed) or `discard_cached` (it failed), so an answer its gate
            refuses is never replayed.

        Raises:
            ProviderUnavailable: No endpoint of the tier or its fallback tier can serve now.
            ModelCallFailed: The bounded retries on server errors and timeouts are exhausted,
                or the endpoint refused the request with another 4xx.
            ProviderRejected: The provider refused the request as made (HTTP 400, 401, 403,
                404, 422, a refused request format) or the credential is missing: a
                configuration error, raised at once without retry.
            InvalidModelOutput: The answer is not valid JSON for the schema.
            GatewayError: The agent is unknown and no tier was given, or the tier is unknown.
            Each error carries in `usage` and `cost_usd` what the failed call spent, as far
            as known (see `GatewayError`).
        """
        started = self._clock()
        if tier is not None and tier not in TIER_RANK:
            raise GatewayError(f"unknown tier {tier!r} (expected 'small' or 'large')")
        agent_config, credential_ref = self._agent_config(agent, tier)
        requested = tier or agent_config.tier
        route = [self._endpoints[c.name] for c in self.profile.route(requested)]
        if not route:
            raise ProviderUnavailable(requested, {"*": "the profile defines no such tier"})
        keys = (
            [cache_key(e.name, e.config.model, messages, schema) for e in route]
            if self._cache is not None and agent_config.cacheable
            else []
        )
        if keys:
            hit = await self._from_cache(agent, schema, requested, keys, started)
            if hit is not None:
                return hit
        call = CallState(
            agent=agent,
            agent_config=agent_config,
            credential_ref=credential_ref,
            requested_tier=requested,
            schema=schema,
            messages=list(messages),
            started=started,
            # The budget starts after the cache lookup (a queue of our own under load).
            deadline=self._clock() + agent_config.total_budget_s,
            estimated_tokens=estimate_tokens(messages, schema),
        )
        try:
            result = await self._router.serve(call, route, self._clients, self._attempts)
        except GatewayError as exc:
            exc.usage = dict(call.usage)
            exc.cost_usd = call.cost_usd
            raise
        if keys and self._cache is not None:
            key = keys[[e.name for e in route].index(result.endpoint)]
            token = self._cache.hold(
                key,
                agent=agent,
                endpoint=result.endpoint,
                model=result.model,
                output=result.output,
                usage=result.usage,
            )
            result = dataclasses.replace(result, cache_key=token)
        return result

    def _agent_config(self, agent: str, tier: str | None) -> tuple[AgentConfig, str | None]:
        """The agent's registry entry and credential reference (None: the endpoint's)."""
        config = self.settings.agent(agent)
        if config is not None:
            return config, config.credential or agent
        if tier is None:
            raise GatewayError(
                f"agent {agent!r} is not in the model registry and no tier was given"
            )
        if agent not in self._warned_agents:
            self._warned_agents.add(agent)
            log.warning("agent_not_in_registry", agent=agent, tier=tier)
        return AgentConfig(tier=tier), None  # type: ignore[arg-type]

    # --- cache -------------------------------------------------------------------------------

    async def confirm_cached(self, key: str) -> None:
        """Write the pending answer of `key` (a `ModelResult.cache_key`) to the cache.

        Call it once the answer passed its deterministic gate. The entry is forgotten
        afterwards; an unknown (already confirmed, discarded or evicted) key is a no-op.
        A cache that cannot be written is logged, never raised.
        """
        if self._cache is not None:
            await self._cache.confirm(key)

    def discard_cached(self, key: str) -> None:
        """Forget the pending answer of `key` (its gate failed); unknown keys are a no-op."""
        if self._cache is not None:
            self._cache.discard(key)

    async def _from_cache(
        self,
        agent: str,
        schema: type[BaseModel],
        requested: str,
        keys: Sequence[str],
        started: float,
    ) -> ModelResult | None:
        assert self._cache is not None
        hit = await self._cache.lookup(keys)
        if hit is None or hit.endpoint not in self._endpoints:
            return None
        try:
            output = schema.model_validate_json(hit.output_json)
        except ValidationError:
            log.warning("cache_entry_stale", agent=agent, endpoint=hit.endpoint)
            return None
        duration_ms = round((self._clock() - started) * 1000, 2)
        endpoint = self._endpoints[hit.endpoint].config
        return cached_result(output, endpoint, agent=agent, requested=requested, ms=duration_ms)

    # --- state -------------------------------------------------------------------------------

    def check_config(self) -> list[str]:
        """Problems that will make calls fail, found without any network call.

        Returns:
            One line per problem, naming the endpoint, its URL and what is missing (e.g.
            `endpoint openai-gpt-4o (https://api.openai.com/v1): credential 'decide_refund'
            unavailable: … (set CONDUCTOR_SECRET_DECIDE_REFUND or OPENAI_API_KEY)`); empty
            when the configuration looks usable.
        """
        return self._clients.check_config()

    async def probe(self, timeout_s: float = PROBE_TIMEOUT_S) -> ProbeReport:
        """Ask each endpoint not served in-process for `GET {base_url}/models`, concurrently.

        Returns:
            The problems (unreachable, key refused, model not served by a hosted API) and
            warnings, one line each, naming the endpoint and its URL.
        """
        report = await probe_endpoints(
            list(self.settings.profile.endpoints),
            self._secrets,
            timeout_s=timeout_s,
            transports=self._transports,
        )
        log_probe_report(report, self.settings.profile_name)
        return report

    def health(self) -> dict[str, dict[str, Any]]:
        """Per endpoint: tier, model, circuit state, failures, Retry-After hold.

        Returns:
            Endpoint name → `tier`, `model`, `state` ("closed", "half_open", "open"),
            `failures` (consecutive), `open_for_s` (until trials), `not_before` (Unix time
            before which nothing is sent, or None), `held_for_s`, `rate_limited` (429s seen
            on its quota) and `simulated`.
        """
        return endpoint_health(self._endpoints.values())

    def breaker(self, endpoint: str) -> CircuitBreaker:
        """The circuit breaker of `endpoint` (for tests and the health report)."""
        return self._endpoints[endpoint].breaker

    async def aclose(self) -> None:
        """Close the HTTP clients and the cache; the gateway can be used again afterwards."""
        await self._clients.aclose()
        if self._cache is not None:
            await self._cache.aclose()
