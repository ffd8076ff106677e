"""Running the simulator as a standalone HTTP server (for load tests and other processes)."""

from __future__ import annotations

import uvicorn

from simulator.app import create_app
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: str | None = None,
    *,
    error_model: ErrorModel | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the simulator with uvicorn until interrupted.

    Args:
        host: Interface to bind.
        port: Port to bind.
        faults: Fault spec (e.g. "error_rate=0.1,seed=1"); when None the process-wide
            simulator is served, with its faults from `CONDUCTOR_FAULTS`.
        error_model: Error model of a simulator built for `faults`; the default when None.
        log_level: Uvicorn's log level.

    Raises:
        ValueError: On a bad fault spec (the message names the key).
    """
    sim = Simulator(FaultSpec.parse(faults), error_model) if faults is not None else None
    uvicorn.run(create_app(sim), host=host, port=port, log_level=log_level, access_log=False)
