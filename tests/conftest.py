"""Shared fixtures: a seeded store, a simulator with chosen faults, a gateway on it, the graph."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

# Tests never reach the network: LangSmith tracing is off unless a test turns it on
# against its own local endpoint.
os.environ["LANGSMITH_TRACING"] = "false"
os.environ.setdefault("CONDUCTOR_LOG_FORMAT", "json")
os.environ.setdefault("CONDUCTOR_LOG_LEVEL", "WARNING")

from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from pg_cluster import create_database, postgres_cluster  # noqa: E402

from gateway.gateway import ModelGateway  # noqa: E402
from gateway.registry import GatewaySettings  # noqa: E402
from nodes.resources import Resources  # noqa: E402
from simulator.engine import Simulator  # noqa: E402
from simulator.error_model import ErrorModel  # noqa: E402
from simulator.faults import FaultSpec  # noqa: E402
from simulator.transport import simulator_transports  # noqa: E402
from store.db import Store  # noqa: E402
from store.seed import seed_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "tickets.jsonl"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A freshly seeded store."""
    path = tmp_path / "conductor.db"
    seed_store(path)
    with Store(path) as opened:
        yield opened


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session (started on first use, then removed)."""
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's cluster."""
    return create_database(postgres_server)


@pytest.fixture
def sim() -> Simulator:
    """A simulator with an ideal error model and no faults (tests set what they need)."""
    return Simulator(error_model=ErrorModel.ideal(), faults=FaultSpec())


def make_gateway(sim: Simulator, tmp_path: Path, **overrides: Any) -> ModelGateway:
    """A gateway on the sim profile, wired in-process to `sim`, with a private cache file."""
    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(tmp_path / "cache.db")})
    if overrides:
        settings = settings.with_overrides(**overrides)
    return ModelGateway.from_settings(settings, transports=simulator_transports(settings, sim))


@pytest.fixture
async def gateway(sim: Simulator, tmp_path: Path) -> AsyncIterator[ModelGateway]:
    """The gateway every node uses during the test."""
    gw = make_gateway(sim, tmp_path)
    yield gw
    await gw.aclose()


@pytest.fixture
def resources(store: Store, gateway: ModelGateway) -> Resources:
    """The test's store and gateway, bound to the graphs built in the test."""
    return Resources(gateway=gateway, store=store)


@pytest.fixture
def graph(resources: Resources) -> Any:
    """The support graph bound to the test's resources, with an in-memory checkpointer."""
    from graphs.support import make_builder

    return make_builder(resources).compile(checkpointer=InMemorySaver(), name="support")
