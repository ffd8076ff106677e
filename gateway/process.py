"""The process's gateway, for code that does not receive one yet (a shim, going away).

# composition shim, removed when nodes take resources explicitly
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.gateway import ModelGateway, gateway_from_env

_gateway: ModelGateway | None = None
_gateway_lock = threading.Lock()


def get_gateway() -> ModelGateway:
    """Return the process's gateway, built on first use from the environment.

    In-process endpoints are served by the process-wide simulator; while `CONDUCTOR_FAULTS`
    injects faults into it, the response cache is off.

    Raises:
        RegistryError: When the registry or the chosen profile is invalid.
    """
    global _gateway
    with _gateway_lock:
        if _gateway is None:
            # composition shim, removed when nodes take resources explicitly
            from simulator.transport import simulator_env, simulator_transports

            _gateway = gateway_from_env(simulator_env(os.environ), transports=simulator_transports)
        return _gateway


@contextmanager
def use_gateway(gateway: ModelGateway) -> Iterator[ModelGateway]:
    """Make `gateway` the process's gateway inside the block (tests, the CLI)."""
    global _gateway
    with _gateway_lock:
        previous, _gateway = _gateway, gateway
    try:
        yield gateway
    finally:
        with _gateway_lock:
            _gateway = previous
