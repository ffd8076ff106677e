"""httpx transports that serve the gateway's in-process endpoints from a simulator."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from gateway.registry import CACHE_ENV, GatewaySettings
from simulator.app import create_app
from simulator.engine import Simulator, get_default_simulator
from simulator.faults import FaultSpec


def simulator_transports(
    settings: GatewaySettings, sim: Simulator | None = None
) -> dict[str, httpx.AsyncBaseTransport]:
    """An ASGI transport onto `sim`'s app for each in-process endpoint of the profile.

    Args:
        settings: The gateway's settings; only endpoints with `in_process = true` get one.
        sim: The simulator to serve them; the process-wide `get_default_simulator()` when None.

    Returns:
        Endpoint name → transport (all onto one app; the request's host names the endpoint).
    """
    in_process = [e.name for e in settings.profile.endpoints if e.in_process]
    if not in_process:
        return {}
    app = create_app(sim or get_default_simulator())
    return {name: httpx.ASGITransport(app=app) for name in in_process}


def simulator_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the response cache off when `CONDUCTOR_FAULTS` injects faults.

    A fault-injection run must reach the simulator on every call and leave no answers
    behind in the cache.

    Raises:
        ValueError: When `CONDUCTOR_FAULTS` holds a bad spec.
    """
    found = dict(env)
    if FaultSpec.from_env(found).active:
        found[CACHE_ENV] = "off"
    return found
