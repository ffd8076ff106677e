"""The HTTP routes the LangGraph server mounts beside the graphs: `/metrics` and `/healthz`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import prometheus_client
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telemetry.metrics import WAITING, expose_in, render_latest, set_circuit_state


async def metrics(request: Request) -> Response:
    """Prometheus text of Conductor's registry.

    (The LangGraph server builds its OpenAPI page from these docstrings: the part after the
    dashes is that page's entry.)

    ---
    summary: Conductor's Prometheus metrics
    responses:
      200:
        description: Prometheus text exposition of Conductor's registry.
    """
    return Response(render_latest(), media_type=CONTENT_TYPE_LATEST)


def circuit_health() -> dict[str, Any]:
    """Each model endpoint's circuit state from the gateway, and whether any tier can serve.

    Returns:
        `{"status": "ok"|"degraded", "endpoints": {name: {...}}, "tiers": {tier: bool},
        "queue": {kind: count}}`; degraded when some tier has no endpoint whose circuit is
        closed or half-open.
    """
    from nodes.resources import server_resources  # lazy: the gateway is heavy

    health = server_resources().gateway.health()
    tiers: dict[str, bool] = {}
    for name, info in health.items():
        state = str(info.get("state", "closed"))
        try:
            set_circuit_state(name, state)
        except ValueError:
            pass  # an unknown state name is reported as is, just not as a gauge value
        tier = info.get("tier")
        if tier is not None:
            tiers[tier] = tiers.get(tier, False) or state != "open"
    return {
        "status": "ok" if all(tiers.values()) else "degraded",
        "endpoints": health,
        "tiers": tiers,
        "queue": WAITING.by_kind(),
    }


async def healthz(request: Request) -> JSONResponse:
    """Circuit state of each endpoint: HTTP 503 when some tier has no provider able to serve.

    Runs that need such a tier park (state intact) until it is back; a load balancer or an
    operator reading 503 knows the server cannot finish them now.

    ---
    summary: Circuit state of each model endpoint
    responses:
      200:
        description: "JSON: status ok, endpoints, tiers, queue."
      503:
        description: "JSON: status degraded (some tier cannot serve), endpoints, tiers, queue."
    """
    health = circuit_health()
    return JSONResponse(health, status_code=200 if health["status"] == "ok" else 503)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """At server start, open the store, build the model gateway and probe its endpoints.

    The line says which endpoints serve each tier and whether they are the simulated
    endpoint (`model_gateway_ready ... simulated=true`). The registry file is read in a
    thread: the server forbids blocking I/O on its event loop.
    """
    from nodes.resources import server_resources

    resources = server_resources()
    # Settings are read here, at the edge, not in a node; the graphs were bound to these.
    gateway = await asyncio.to_thread(lambda: resources.gateway)
    await asyncio.to_thread(lambda: resources.store)
    # A configuration mistake (nothing listening, a refused key, an unknown model) is logged
    # now, naming the endpoint and its URL (missing keys were logged when it was built).
    await gateway.probe()
    try:
        yield
    finally:
        await resources.aclose()


def create_app() -> Starlette:
    """The Starlette app `langgraph.json` mounts (`"http": {"app": ...}`).

    The LangGraph server keeps `/metrics` for itself and serves prometheus_client's default
    registry there, so Conductor's registry is bridged into it: `GET /metrics` on the server
    shows both. `/conductor/metrics` serves Conductor's registry alone.
    """
    expose_in(prometheus_client.REGISTRY)
    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/conductor/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
    )


app = create_app()
"""What the LangGraph server loads from `./telemetry/http_app.py:app`."""
