"""The resources a run's nodes use outside its state: model gateway and store, bound explicitly.

A graph is built for one `Resources` (`graphs.build.build_graph(spec, resources)`): the CLI,
tests and evals pass their own; the server binds `server_resources()`, which opens the store
and the gateway from the environment on first use (at server start).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from store.db import Store
from store.factory import store_from_env

if TYPE_CHECKING:
    from gateway.gateway import ModelGateway

DEFAULT_DB = Path("var/conductor.db")


def store_path_from_env() -> Path:
    """The store's path: `CONDUCTOR_DB`, else `var/conductor.db` (read once, at the edge)."""
    return Path(os.environ.get("CONDUCTOR_DB") or DEFAULT_DB)


class Resources:
    """The gateway and the store of the runs of one graph, each given or built once on demand."""

    def __init__(
        self,
        *,
        gateway: ModelGateway | None = None,
        store: Store | None = None,
        gateway_factory: Callable[[], ModelGateway] | None = None,
        store_factory: Callable[[], Store] | None = None,
    ) -> None:
        """Bind resources, or factories that build them on first use.

        Args:
            gateway: The model gateway every agent node calls.
            store: The store (customers, orders, ledger) tools and actions use.
            gateway_factory: Builds the gateway when none is given.
            store_factory: Opens the store when none is given.
        """
        self._gateway = gateway
        self._store = store
        self._gateway_factory = gateway_factory
        self._store_factory = store_factory
        self._lock = threading.Lock()  # nodes reach the store from worker threads

    @property
    def gateway(self) -> ModelGateway:
        """The model gateway (built on first use when a factory was given)."""
        with self._lock:
            if self._gateway is None:
                if self._gateway_factory is None:
                    raise RuntimeError("no model gateway was bound to this graph")
                self._gateway = self._gateway_factory()
            return self._gateway

    @property
    def store(self) -> Store:
        """The store (opened on first use when a factory was given)."""
        with self._lock:
            if self._store is None:
                if self._store_factory is None:
                    raise RuntimeError("no store was bound to this graph")
                self._store = self._store_factory()
            return self._store

    def known_agents(self) -> set[str] | None:
        """Agents of the model registry, to validate a spec against (None when unknown)."""
        with self._lock:
            gateway = self._gateway
        if gateway is None:
            from gateway.registry import GatewaySettings

            return set(GatewaySettings.from_env().agents)
        return set(gateway.settings.agents)

    async def aclose(self) -> None:
        """Close what this object built (not what it was given)."""
        with self._lock:
            gateway, built = self._gateway, self._gateway_factory is not None
            self._gateway = None if built else gateway
        if built and gateway is not None:
            await gateway.aclose()


def _open_store_from_env() -> Store:
    """The store the env names: `DATABASE_URL` (PostgreSQL), else `CONDUCTOR_DB` (SQLite)."""
    return store_from_env()


def gateway_from_environment() -> ModelGateway:
    """Build the gateway the environment describes (the composition root of a process).

    In-process endpoints are served by the process-wide simulator; while `CONDUCTOR_FAULTS`
    injects faults into it, the response cache is off.

    Raises:
        RegistryError: When the registry or the chosen profile is invalid.
    """
    from gateway.factory import gateway_from_env
    from simulator.transport import simulator_env, simulator_transports

    return gateway_from_env(simulator_env(os.environ), transports=simulator_transports)


_server: Resources | None = None
_server_lock = threading.Lock()


def server_resources() -> Resources:
    """The process's resources for the graphs `langgraph.json` serves, built from the env."""
    global _server
    with _server_lock:
        if _server is None:
            _server = Resources(
                gateway_factory=gateway_from_environment, store_factory=_open_store_from_env
            )
        return _server
