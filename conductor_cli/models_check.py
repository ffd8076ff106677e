"""`conductor models check`: one probe call per endpoint and structured-output method."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the gateway pulls in langchain: imported when the command runs
    from rich.console import Console
    from rich.table import Table

    from gateway.registry import EndpointConfig, GatewaySettings

PROBE_AGENT = "models_check"
"""The agent name the probes are made (and logged) under."""

PROBE_MAX_TOKENS = 120
"""Output cap of a probe: enough for one IntentClassification."""

PROBE_TICKET = (
    "Subject: Where is my parcel?\n\n"
    "Hello, my order ORD-10042 has not arrived yet. When will it be delivered? Thanks, Ana"
)
"""The probe asks for a real support schema (the simulator and the grammar see a real one)."""


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe of one endpoint with one structured-output method found.

    Attributes:
        endpoint: The endpoint's name.
        tier: Its tier.
        url: Its base URL.
        model: The model id sent.
        method: The structured-output method tried.
        configured: True when `method` is the endpoint's configured method.
        verdict: `works`, `value refused` (schema-shaped JSON, a value out of range: the
            method works, the model erred), `rejected` (the provider refused the request),
            `invalid output` (it answered, not with the schema), `unreachable` (connection,
            timeout, 5xx), `no credential`.
        detail: The provider's error body, or what went wrong; the answer when it works.
        ms: Duration of the probe.
    """

    endpoint: str
    tier: str
    url: str
    model: str
    method: str
    configured: bool
    verdict: str
    detail: str
    ms: float

    @property
    def works(self) -> bool:
        """True when the endpoint answered with a valid instance of the schema."""
        return self.verdict in ("works", "value refused")


def add_models_parser(sub: Any) -> None:
    """Add `models check [--profile P] [--method M]` to the CLI's subparsers."""
    from gateway.registry import STRUCTURED_OUTPUT_METHODS

    models = sub.add_parser("models", help="the model endpoints of a profile")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    check = models_sub.add_parser(
        "check",
        help="probe every endpoint with each structured-output method (one call each)",
    )
    check.add_argument(
        "--profile", default=None, help="registry profile (default CONDUCTOR_MODEL_PROFILE)"
    )
    check.add_argument(
        "--method",
        action="append",
        choices=STRUCTURED_OUTPUT_METHODS,
        default=None,
        help="only this method (repeatable; default every method)",
    )


def settings_for(profile: str | None, environ: Mapping[str, str] | None = None) -> GatewaySettings:
    """The gateway settings of `profile` (default `CONDUCTOR_MODEL_PROFILE`) from the env.

    Raises:
        RegistryError: When the registry or the profile is invalid (a placeholder unset).
    """
    from gateway.registry import PROFILE_ENV, GatewaySettings

    env = dict(os.environ if environ is None else environ)
    if profile:
        env[PROFILE_ENV] = profile
    return GatewaySettings.from_env(env)


def probe_settings(settings: GatewaySettings, endpoint: EndpointConfig, method: str) -> Any:
    """Settings that route the probe agent's tier to `endpoint` alone, asked by `method`.

    One HTTP attempt, no cache, the endpoint's own timeout, the credential of the first
    agent of the endpoint's tier (what a real call of that tier would send).
    """
    from gateway.registry import AgentConfig, RetrySettings, TierConfig

    credential = next(
        (
            a.credential
            for a in settings.agents.values()
            if a.tier == endpoint.tier and a.credential
        ),
        endpoint.credential,
    )
    probed = endpoint.model_copy(update={"structured_output": method})
    profile = settings.profile.model_copy(
        update={
            "endpoints": (probed,),
            "tiers": {endpoint.tier: TierConfig(fallback_order=(endpoint.name,))},
            "retry": RetrySettings(max_attempts=1),
            "agents": {},
        }
    )
    agent = AgentConfig(
        tier=endpoint.tier,
        timeout_s=endpoint.timeout_s,
        budget_s=endpoint.timeout_s + 1.0,
        max_tokens=PROBE_MAX_TOKENS,
        credential=credential,
    )
    return settings.model_copy(
        update={"profile": profile, "agents": {PROBE_AGENT: agent}, "cache_enabled": False}
    )


async def probe(
    settings: GatewaySettings,
    endpoint: EndpointConfig,
    method: str,
    *,
    transports: Mapping[str, Any] | None = None,
) -> ProbeOutcome:
    """Make one structured call to `endpoint` with `method` and say how it went.

    Args:
        settings: The profile's settings.
        endpoint: The endpoint to probe.
        method: The structured-output method to try.
        transports: httpx transports per endpoint name (the simulator's, for in-process).

    Returns:
        The outcome; never raises for what the provider does.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    from gateway.errors import (
        GatewayError,
        InvalidModelOutput,
        ModelCallFailed,
        ProviderRejected,
        ProviderUnavailable,
    )
    from gateway.gateway import ModelGateway
    from nodes.prompts import render_sections
    from nodes.support.prompts import CLASSIFY_INTENT_PROMPT
    from state.schemas import IntentClassification

    probed = probe_settings(settings, endpoint, method)
    gateway = ModelGateway.from_settings(probed, transports=transports)
    messages = [
        SystemMessage(CLASSIFY_INTENT_PROMPT),
        HumanMessage(render_sections(ticket=PROBE_TICKET)),
    ]
    started = time.monotonic()
    verdict, detail = "works", ""
    try:
        result = await gateway.invoke_structured(
            agent=PROBE_AGENT, schema=IntentClassification, messages=messages, tier=endpoint.tier
        )
        detail = result.output.model_dump_json()
    except ProviderRejected as exc:
        verdict = "no credential" if exc.status is None else "rejected"
        detail = f"HTTP {exc.status}: {exc.detail}" if exc.status is not None else exc.detail
    except InvalidModelOutput as exc:
        # Schema-shaped JSON whose values the schema refuses (a grammar has no numeric
        # ranges: a confidence of 1.5) means the method works and the model erred.
        shaped = "Field required" not in exc.detail and "Error:" not in exc.detail
        verdict = "value refused" if shaped else "invalid output"
        detail = exc.detail
    except ModelCallFailed as exc:
        verdict, detail = "unreachable", exc.cause
    except ProviderUnavailable as exc:
        verdict, detail = "unreachable", "; ".join(exc.reasons.values())
    except GatewayError as exc:
        verdict, detail = "error", str(exc)
    finally:
        await gateway.aclose()
    return ProbeOutcome(
        endpoint=endpoint.name,
        tier=endpoint.tier,
        url=endpoint.base_url,
        model=endpoint.model,
        method=method,
        configured=method == endpoint.structured_output,
        verdict=verdict,
        detail=detail,
        ms=round((time.monotonic() - started) * 1000, 1),
    )


async def check_models(
    settings: GatewaySettings,
    methods: Sequence[str] | None = None,
    *,
    transports: Mapping[str, Any] | None = None,
) -> list[ProbeOutcome]:
    """Probe every endpoint of the profile with each method, one call at a time.

    One at a time: a local server (llama-cpp-python) serves one request at a time, and a
    probe that queued behind another would time out for the wrong reason.
    """
    from gateway.registry import STRUCTURED_OUTPUT_METHODS

    wanted = list(methods or STRUCTURED_OUTPUT_METHODS)
    outcomes = []
    for endpoint in settings.profile.endpoints:
        for method in wanted:
            outcomes.append(await probe(settings, endpoint, method, transports=transports))
    return outcomes


def tiers_without_service(settings: GatewaySettings, outcomes: Sequence[ProbeOutcome]) -> list[str]:
    """Tiers none of whose endpoints (fallbacks included) works with its configured method.

    When the configured method was not probed, any working method counts.
    """
    probed = {(o.endpoint, o.method) for o in outcomes}
    usable = set()
    for outcome in outcomes:
        endpoint = settings.profile.endpoint(outcome.endpoint)
        configured_probed = (endpoint.name, endpoint.structured_output) in probed
        if outcome.works and (outcome.configured or not configured_probed):
            usable.add(outcome.endpoint)
    return [
        tier
        for tier in settings.profile.tiers
        if not any(e.name in usable for e in settings.profile.route(tier))
    ]


def outcomes_table(profile: str, outcomes: Sequence[ProbeOutcome]) -> Table:
    """The probes as a table: endpoint, method, verdict, time and the start of the answer."""
    from rich.table import Table

    table = Table(title=f"model endpoints of profile {profile!r}: one probe per method")
    for column in ("endpoint", "tier", "method", "result", "ms"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail")
    for o in outcomes:
        style = (
            "green"
            if o.verdict == "works"
            else ("yellow" if o.verdict in ("invalid output", "value refused") else "red")
        )
        detail = o.detail if len(o.detail) <= 60 else o.detail[:59] + "…"
        table.add_row(
            o.endpoint,
            o.tier,
            o.method + (" *" if o.configured else ""),
            f"[{style}]{o.verdict}[/{style}]",
            f"{o.ms:.0f}",
            detail,
        )
    table.caption = "* the endpoint's configured structured_output"
    return table


def failure_lines(outcomes: Sequence[ProbeOutcome]) -> list[str]:
    """One line per probe that did not work, with the URL and the provider's whole answer."""
    return [
        f"{o.endpoint} ({o.url}, model {o.model}) {o.method}: {o.verdict}: {o.detail}"
        for o in outcomes
        if o.verdict != "works"
    ]


async def cmd_models(args: argparse.Namespace, *, out: Console, console: Console) -> int:
    """Run `conductor models check`; exit 1 when a tier has no working endpoint."""
    from simulator.transport import simulator_transports

    settings = settings_for(args.profile)
    for problem in _config_problems(settings):
        console.print(f"config: {problem}", style="red", markup=False, soft_wrap=True)
    transports = simulator_transports(settings)
    outcomes = await check_models(settings, args.method, transports=transports)
    out.print(outcomes_table(settings.profile_name, outcomes))
    for line in failure_lines(outcomes):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    hints = _method_hints(settings, outcomes)
    for hint in hints:
        out.print(hint, markup=False, soft_wrap=True)
    missing = tiers_without_service(settings, outcomes)
    if missing:
        console.print(
            f"no working endpoint for tier(s): {', '.join(missing)}",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        return 1
    return 0


def _config_problems(settings: GatewaySettings) -> list[str]:
    """Missing credentials, found without a network call."""
    from gateway.gateway import ModelGateway
    from simulator.transport import simulator_transports

    quiet = settings.with_overrides(cache_enabled=False)
    gateway = ModelGateway.from_settings(quiet, transports=simulator_transports(quiet))
    return gateway.check_config()


def _method_hints(settings: GatewaySettings, outcomes: Sequence[ProbeOutcome]) -> list[str]:
    """A line per endpoint whose configured method fails while another works."""
    hints = []
    for endpoint in settings.profile.endpoints:
        mine = [o for o in outcomes if o.endpoint == endpoint.name]
        configured = next((o for o in mine if o.configured), None)
        working = [o.method for o in mine if o.works]
        if configured is not None and not configured.works and working:
            hints.append(
                f"{endpoint.name}: structured_output = {endpoint.structured_output!r} fails; "
                f"{', '.join(working)} works (set it in models.toml or "
                "CONDUCTOR_STRUCTURED_OUTPUT)"
            )
    return hints
