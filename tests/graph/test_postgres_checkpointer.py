"""Durable runs on Postgres (DATABASE_URL): an escalated run survives its process and resumes."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command

from conductor_cli.checkpoints import open_checkpointer
from store.db import Store

LARGE_REFUND = {
    "ticket_id": "PG-1",
    "customer_id": "C002",
    "subject": "Refund",
    "body": "Order ORD-10002 headphones are bad. Refund the $120.00 please.",
    "channel": "email",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port (run as `postgres` under root)."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not on PATH")
    as_user: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="conductor-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to own the cluster")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = workdir / "data", _free_port()
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(workdir / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(workdir, ignore_errors=True)


async def _state(url: str, payload: Any, thread: str, resources: Any) -> Any:
    from graphs.support import make_builder

    config = {"configurable": {"thread_id": thread}}
    async with open_checkpointer(database_url=url) as saver:
        graph = make_builder(resources).compile(checkpointer=saver, name="support")
        await graph.ainvoke(payload, config)
        return await graph.aget_state(config)


async def test_escalated_run_resumes_from_postgres(
    postgres_url: str, store: Store, resources: Any
) -> None:
    first = await _state(postgres_url, {"ticket": LARGE_REFUND}, "pg-thread", resources)
    assert first.values["status"] == "escalated"
    assert first.interrupts[0].value["reason"] == "refund_above_auto_limit"

    # A new connection, as another process would open: the run continues from Postgres.
    done = await _state(
        postgres_url, Command(resume={"decision": "approve"}), "pg-thread", resources
    )
    assert done.values["status"] == "resolved"
    assert done.values["refund"]["amount"] == 120.0
    assert store.count_refunds() == 1
