"""Running the simulator as a standalone HTTP server (for load tests and other processes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn

from simulator.app import create_app
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls `on_ready(url)` once it listens (the bound port, even 0)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if not self.started or self.should_exit:
            return
        port = self.config.port
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                port = sock.getsockname()[1]
                break
        self._on_ready(f"http://{self.config.host}:{port}")


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: str | None = None,
    *,
    error_model: ErrorModel | None = None,
    log_level: str = "warning",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the simulator with uvicorn until interrupted.

    Args:
        host: Interface to bind.
        port: Port to bind.
        faults: Fault spec (e.g. "error_rate=0.1,seed=1"); when None the process-wide
            simulator is served, with its faults from `CONDUCTOR_FAULTS`.
        error_model: Error model of a simulator built for `faults`; the default when None.
        log_level: Uvicorn's log level.
        on_ready: Called with the base URL (`http://HOST:PORT`) once the server listens.

    Raises:
        ValueError: On a bad fault spec (the message names the key).
    """
    sim = Simulator(FaultSpec.parse(faults), error_model) if faults is not None else None
    config = uvicorn.Config(
        create_app(sim), host=host, port=port, log_level=log_level, access_log=False
    )
    if on_ready is None:
        uvicorn.Server(config).run()
    else:
        _AnnouncingServer(config, on_ready).run()
