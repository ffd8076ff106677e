"""CPU per ticket of `durability="sync"` vs `"async"` (and `"exit"`) on SQLite checkpoints.

Run: `.venv/bin/python tests/crash/durability_cost.py [--tickets 36] [--rounds 3]`.

Every example ticket goes through the support graph, one at a time, against the in-process
simulator (ideal error model, response cache off) with a fresh AsyncSqliteSaver file per
round and mode; the modes alternate round by round. Reported: process CPU time (user+sys,
this process: graph, checkpointer, simulator, store) per ticket, and wall time per ticket.
The simulator's own CPU is in every mode alike, so the difference is the checkpointing's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from graphs.support import make_builder
from nodes.resources import Resources
from simulator.engine import get_default_simulator
from simulator.error_model import ErrorModel
from simulator.transport import simulator_transports
from state.support import SupportContext
from store.db import Store
from store.seed import seed_store

ROOT = Path(__file__).resolve().parents[2]
MODES = ("sync", "async", "exit")


async def one_round(
    mode: str, tickets: list[dict[str, Any]], tmp: Path, n: int
) -> tuple[float, float]:
    """CPU and wall seconds per ticket of one pass over `tickets` in `mode`."""
    db = tmp / f"store-{mode}-{n}.db"
    seed_store(db, seed=7)
    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE": "off"})
    gateway = ModelGateway(settings, transports=simulator_transports(settings))
    try:
        async with AsyncSqliteSaver.from_conn_string(str(tmp / f"ck-{mode}-{n}.db")) as saver:
            await saver.setup()
            with Store(db) as store:
                graph = make_builder(Resources(gateway=gateway, store=store)).compile(
                    checkpointer=saver
                )
                context = SupportContext()
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for i, ticket in enumerate(tickets):
                    config = {"configurable": {"thread_id": f"{mode}-{n}-{i}"}}
                    await graph.ainvoke(
                        {"ticket": ticket}, config, context=context, durability=mode
                    )
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await gateway.aclose()
    return cpu / len(tickets), wall / len(tickets)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=36)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lines = (ROOT / "examples" / "tickets.jsonl").read_text().splitlines()
    tickets = [json.loads(line) for line in lines if line.strip()][: args.tickets]
    get_default_simulator().set_error_model(ErrorModel.ideal())
    cpu: dict[str, list[float]] = {m: [] for m in MODES}
    wall: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        await one_round("async", tickets[:4], Path(tmp), -1)  # warm-up: imports, caches
        for n in range(args.rounds):
            for mode in MODES if n % 2 == 0 else reversed(MODES):
                c, w = await one_round(mode, tickets, Path(tmp), n)
                cpu[mode].append(c)
                wall[mode].append(w)
    print(f"{len(tickets)} tickets x {args.rounds} rounds, sequential, SQLite checkpoints")
    print(f"{'durability':<10} {'CPU ms/ticket (median, min-max)':>34} {'wall ms/ticket':>15}")
    for mode in MODES:
        c = [x * 1000 for x in cpu[mode]]
        w = statistics.median(wall[mode]) * 1000
        spread = f"{statistics.median(c):.1f} ({min(c):.1f}-{max(c):.1f})"
        print(f"{mode:<10} {spread:>34} {w:>15.1f}")
    base = statistics.median(cpu["async"])
    extra = (statistics.median(cpu["sync"]) - base) * 1000
    print(f"sync - async: {extra:+.2f} ms CPU per ticket ({extra / (base * 1000) * 100:+.1f}%)")
    paired = sorted((s - a) * 1000 for s, a in zip(cpu["sync"], cpu["async"], strict=True))
    quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else [paired[0]] * 3
    print(
        f"sync - async, paired by round: median {statistics.median(paired):+.2f} ms, "
        f"quartiles {quartiles[0]:+.2f} / {quartiles[2]:+.2f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
