"""The simulator's ASGI app: OpenAI-compatible routes plus admin routes for faults and stats."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from simulator.engine import SimResponse, Simulator, get_default_simulator
from simulator.faults import FaultSpec
from simulator.protocol import error_body, model_list


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


async def _read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _to_http(response: SimResponse) -> Response:
    if response.chunks is None:
        return _json(response.body, response.status, response.headers)

    async def events() -> AsyncIterator[bytes]:
        for chunk in response.chunks or []:
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=response.headers)


def create_app(sim: Simulator | None = None) -> Starlette:
    """Build the simulator's ASGI app.

    Routes: POST /v1/chat/completions, GET /v1/models, GET /healthz, POST /admin/faults
    (`{"spec": "error_rate=0.1,..."}` replaces the faults), GET /admin/stats and
    POST /admin/stats/reset.

    Args:
        sim: The simulator to serve; the process-wide one (`get_default_simulator`) when None.

    Returns:
        The Starlette app; `app.state.simulator` is the simulator it serves.
    """
    simulator = sim if sim is not None else get_default_simulator()

    async def chat_completions(request: Request) -> Response:
        payload = await _read_json(request)
        if payload is None:
            return _json(error_body("the body is not valid JSON", "invalid_request_error"), 400)
        return _to_http(await simulator.complete(payload))

    async def models(request: Request) -> Response:
        return _json(model_list(simulator.models))

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok", "faults": simulator.faults.to_spec()})

    async def set_faults(request: Request) -> Response:
        payload = await _read_json(request)
        spec = payload.get("spec") if isinstance(payload, dict) else None
        if spec is not None and not isinstance(spec, str):
            return JSONResponse({"error": "'spec' must be a string"}, status_code=400)
        try:
            faults = FaultSpec.parse(spec)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        simulator.set_faults(faults)
        return _json({"faults": faults.to_spec()})

    async def stats(request: Request) -> Response:
        return _json(simulator.stats())

    async def reset_stats(request: Request) -> Response:
        simulator.reset_stats()
        return _json(simulator.stats())

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/admin/faults", set_faults, methods=["POST"]),
            Route("/admin/stats", stats, methods=["GET"]),
            Route("/admin/stats/reset", reset_stats, methods=["POST"]),
        ]
    )
    app.state.simulator = simulator
    return app
