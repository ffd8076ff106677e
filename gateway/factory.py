"""Building the gateway from the environment, once, at a process's composition root."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.gateway import ModelGateway, Transports
from gateway.registry import GatewaySettings
from telemetry.logging import get_logger

log = get_logger("conductor.gateway")


def gateway_from_env(
    env: Mapping[str, str] | None = None,
    *,
    transports: Transports | Callable[[GatewaySettings], Transports] | None = None,
) -> ModelGateway:
    """Build a gateway from environment variables, read once; log what it serves and lacks.

    Args:
        env: The variables (the process's when None); see `GatewaySettings.from_env`.
        transports: An httpx transport per endpoint name, or a function of the settings
            that returns them (e.g. `simulator.transport.simulator_transports`).

    Raises:
        RegistryError: When the registry or the chosen profile is invalid.
        GatewayError: When an in-process endpoint gets no transport.
    """
    settings = GatewaySettings.from_env(env)
    given = transports(settings) if callable(transports) else transports
    gateway = ModelGateway.from_settings(settings, transports=given)
    log.info(
        "model_gateway_ready",
        profile=settings.profile_name,
        simulated=settings.profile.simulated,
        models_file=str(settings.models_file),
        endpoints=[
            f"{e.name} ({e.tier}, {e.model}"
            + (", simulated in-process)" if e.in_process else f", {e.base_url})")
            for e in settings.profile.endpoints
        ],
        cache=str(settings.cache_path) if settings.cache_enabled else "off",
    )
    for problem in gateway.check_config():
        log.error("model_gateway_config_problem", problem=problem)
    return gateway
