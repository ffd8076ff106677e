"""A quick reachability probe of the model endpoints, run when a command or server starts.

A configuration mistake (nothing listening at the base URL, a refused key, a model the
provider does not serve) is reported once, at start, naming the endpoint and its URL, rather
than surfacing as every run parking with "provider unavailable".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from gateway.errors import SecretError
from gateway.registry import EndpointConfig
from gateway.secrets import SecretProvider
from telemetry.logging import get_logger

log = get_logger("conductor.gateway")

PROBE_TIMEOUT_S = 2.0
"""How long the probe waits for each endpoint's `GET {base_url}/models`."""

NO_MODELS_ROUTE = (404, 405, 501)
"""Statuses that mean the server has no `/models` route: nothing can be concluded."""

NO_KEY_PLACEHOLDER = "EMPTY"


@dataclass
class ProbeReport:
    """What the probe found.

    Attributes:
        problems: One line per endpoint that cannot serve (the command should stop).
        warnings: One line per doubt that does not stop a command (e.g. a keyless server
            that lists other model names but may accept any).
    """

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def probe_endpoint(
    endpoint: EndpointConfig,
    secrets: SecretProvider,
    report: ProbeReport,
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Probe one endpoint with `GET {base_url}/models`; add what is wrong to `report`."""
    where = f"endpoint {endpoint.name} ({endpoint.base_url})"
    try:
        key = await asyncio.to_thread(secrets.get, endpoint.credential)
    except SecretError:
        if endpoint.api_key_required:
            return  # reported by check_config, naming the variable to set
        key = NO_KEY_PLACEHOLDER
    url = endpoint.base_url.rstrip("/") + "/models"
    try:
        async with httpx.AsyncClient(timeout=timeout_s, transport=transport) as client:
            response = await client.get(url, headers={"Authorization": f"Bearer {key}"})
    except httpx.ReadTimeout:
        # Connected, but no answer yet: a busy single-slot server (llama-cpp-python holds
        # its model lock, /models included, while it generates) answers after its queue.
        report.warnings.append(
            f"{where}: connected, but GET /models gave no answer within {timeout_s:g} s "
            "(busy? calls will wait for it)"
        )
        return
    except httpx.TimeoutException:
        report.problems.append(f"{where}: not reachable: no answer within {timeout_s:g} s")
        return
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        report.problems.append(f"{where}: not reachable: {type(exc).__name__}: {detail}")
        return
    status = response.status_code
    if status in (401, 403):
        report.problems.append(
            f"{where}: GET /models answered HTTP {status}: the API key "
            f"(credential {endpoint.credential!r}) was refused"
        )
        return
    if status in NO_MODELS_ROUTE:
        return
    if status >= 400:
        report.problems.append(f"{where}: GET /models answered HTTP {status}")
        return
    try:
        listed = [str(m["id"]) for m in response.json().get("data") or []]
    except (ValueError, TypeError, KeyError, AttributeError):
        return  # not an OpenAI-style listing: nothing to compare with
    if not listed or endpoint.model in listed:
        return
    shown = ", ".join(sorted(listed)[:5]) + (", ..." if len(listed) > 5 else "")
    line = f"{where}: model {endpoint.model!r} is not among the models it lists ({shown})"
    # A hosted API refuses unknown models; a keyless local server (llama.cpp) may serve
    # whatever it loaded under any name.
    (report.problems if endpoint.api_key_required else report.warnings).append(line)


async def probe_endpoints(
    endpoints: list[EndpointConfig],
    secrets: SecretProvider,
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> ProbeReport:
    """Probe every endpoint that is not served in-process, concurrently.

    Args:
        endpoints: The profile's endpoints.
        secrets: Where their credentials come from.
        timeout_s: Per-endpoint timeout.
        transports: httpx transports by endpoint name (tests).
    """
    probed = [e for e in endpoints if not e.in_process]
    reports = [ProbeReport() for _ in probed]
    await asyncio.gather(
        *(
            probe_endpoint(
                e, secrets, r, timeout_s=timeout_s, transport=(transports or {}).get(e.name)
            )
            for e, r in zip(probed, reports, strict=True)
        )
    )
    # In the profile's order, whichever answered first.
    return ProbeReport(
        problems=[line for r in reports for line in r.problems],
        warnings=[line for r in reports for line in r.warnings],
    )


def log_probe_report(report: ProbeReport, profile: str) -> None:
    """Log each problem (error) and each doubt (warning) the probe found, one line each."""
    for problem in report.problems:
        log.error("model_endpoint_unusable", profile=profile, problem=problem)
    for warning in report.warnings:
        log.warning("model_endpoint_doubt", profile=profile, problem=warning)
