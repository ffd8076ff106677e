"""Run the benchmark: variants interleaved round by round in one process, then the table."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable
from contextlib import closing
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from bench import fanout
from bench.checkpointers import checkpointer
from bench.documents import documents_fanout
from bench.overload import overload_section
from bench.report import Figures, header_lines, markdown_table
from bench.variants import (
    ConductorGraph,
    PlainLangGraph,
    RawAsyncio,
    Variant,
    conductor_gateway,
    conductor_support,
)
from bench.workload import Workload
from simulator.engine import Simulator
from simulator.error_model import ErrorModel

CHECKPOINTERS = ("none", "memory", "sqlite", "postgres")
LOAD_LATENCY_S = 0.05


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one benchmark run (`quick()` for a smoke, `full()` for the table)."""

    rounds: int
    tickets: int
    latencies: tuple[float, ...]
    load_sizes: tuple[int, ...]
    fanout_sizes: tuple[int, ...]
    fanout_rounds: int
    rss_tickets: int
    mode: str
    overload: int = 0
    """Tickets submitted at once through the CLI batch runner (`bench.overload`); 0: none."""

    @classmethod
    def full(cls) -> BenchConfig:
        """The sizes of `make bench`."""
        return cls(2, 12, (0.0, 0.05), (100, 1000), (10, 100), 2, 50, "full", overload=1000)

    @classmethod
    def quick(cls) -> BenchConfig:
        """Smaller sizes: `conductor bench --quick`."""
        return cls(1, 12, (0.0, 0.05), (20, 50), (10, 100), 1, 20, "quick", overload=100)

    @classmethod
    def tiny(cls) -> BenchConfig:
        """The smallest that produces every row (the test suite's smoke)."""
        return cls(1, 2, (0.0,), (4,), (2,), 1, 2, "tiny", overload=4)


def calibration(runs: int = 10) -> dict[str, Any]:
    """Time a fixed pure-Python loop: how noisy this machine is right now."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        total = 0
        for n in range(200_000):
            total += n * n % 7
        times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    return {
        "median_ms": median,
        "noise_pct": (max(times) - min(times)) / median * 100,
        "runs": runs,
    }


def versions() -> dict[str, str]:
    """Versions of Python and the packages the figures depend on."""
    found = {"python": platform.python_version()}
    for package in ("langgraph", "langchain-core", "langchain-openai", "openai", "httpx"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "?"
    return found


async def supersteps(variant: Variant, thread_id: str) -> int | None:
    """Supersteps of one finished thread: its checkpoints written by the loop."""
    graph = getattr(variant, "graph", None)
    if graph is None or graph.checkpointer is None:
        return None
    config = {"configurable": {"thread_id": thread_id}}
    history = [c async for c in graph.aget_state_history(config)]
    # The loop writes one checkpoint before its first superstep and one after each.
    return sum(1 for c in history if (c.metadata or {}).get("source") == "loop") - 1


def file_bytes(path: Path) -> int:
    """Size of an SQLite database with its WAL."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def stored_bytes(path: Path) -> int:
    """Bytes of the checkpoints and writes AsyncSqliteSaver stored (blobs and metadata).

    The file's size mostly counts pages: every commit writes whole 4 KiB pages to the WAL,
    so it follows the number of commits; this follows what was serialised.
    """
    with closing(sqlite3.connect(path)) as conn:
        checkpoints = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) FROM checkpoints"
        ).fetchone()[0]
        writes = conn.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes").fetchone()[0]
    return int(checkpoints) + int(writes)


class Bench:
    """One benchmark run: the simulators, the variants on each, the workload and the figures."""

    def __init__(self, config: BenchConfig, workdir: Path) -> None:
        """Build everything that is not measured: simulators, clients, graphs, the store."""
        self.config = config
        self.workdir = workdir
        self.work = Workload.open(workdir)
        self.figures = Figures()
        self.statuses: Counter[str] = Counter()
        self.notes: list[str] = []
        self.sections: dict[str, float] = {}
        self.sims = {
            lat: Simulator(error_model=ErrorModel.ideal(), latency_s=lat)
            for lat in {*config.latencies, LOAD_LATENCY_S}
        }
        self.variants: dict[float, list[Variant]] = {
            lat: self._variants(sim, lat) for lat, sim in self.sims.items()
        }
        self._runs = 0

    def _variants(self, sim: Simulator, lat: float) -> list[Variant]:
        store = self.work.store
        sub = self.workdir / f"gw-{lat}"
        sub.mkdir(exist_ok=True)
        return [
            RawAsyncio(sim, store),
            PlainLangGraph(sim, store),
            conductor_support(sim, store, sub),
        ]

    def _path(self, what: str) -> Path:
        self._runs += 1
        return self.workdir / f"{what}-{self._runs}.db"

    async def _batch(self, variant: Variant, tickets: list[dict[str, Any]]) -> list[float]:
        """Run tickets all at once; return each one's latency (s) from submission."""
        started = time.perf_counter()

        async def one(ticket: dict[str, Any]) -> float:
            status = await variant.handle(ticket, ticket["ticket_id"])
            self.statuses[f"{variant.name}: {status}"] += 1
            return time.perf_counter() - started

        return list(await asyncio.gather(*(one(t) for t in tickets)))

    async def warm_up(self) -> None:
        """One small batch per variant and latency (first calls build clients and schemas)."""
        for lat in self.config.latencies:
            for variant in self.variants[lat]:
                variant.compile(None)
                await self._batch(variant, self.work.tickets(2, f"warm{lat}-{variant.name}"))
        self.statuses.clear()

    async def cpu_round(self, rnd: int, kinds: tuple[str, ...]) -> None:
        """CPU and wall per ticket, supersteps and checkpoint bytes, for every configuration."""
        n = self.config.tickets
        for lat in self.config.latencies:
            for kind in kinds:
                for variant in self.variants[lat]:
                    if kind != "none" and not variant.uses_checkpointer:
                        continue
                    path = self._path("ck")
                    tickets = self.work.tickets(n, f"r{rnd}-{self._runs}")
                    async with checkpointer(kind, path) as saver:
                        variant.compile(saver)
                        gc.collect()
                        cpu0, wall0 = time.process_time(), time.perf_counter()
                        await self._batch(variant, tickets)
                        cpu = (time.process_time() - cpu0) / n * 1000
                        wall = (time.perf_counter() - wall0) * 1000
                        config = f"{kind}, {lat * 1000:g} ms"
                        self.figures.add("CPU per ticket", variant.name, config, "ms", cpu)
                        self.figures.add("wall per batch", variant.name, config, "ms", wall)
                        if saver is not None:
                            steps = await supersteps(variant, tickets[0]["ticket_id"])
                            if steps:
                                self.figures.add(
                                    "supersteps per ticket", variant.name, kind, "", steps
                                )
                                self.figures.add(
                                    "CPU per superstep", variant.name, config, "ms", cpu / steps
                                )
                        if kind == "sqlite":
                            size = file_bytes(path) / n / 1024
                            self.figures.add(
                                "checkpoint bytes per ticket", variant.name, kind, "KiB", size
                            )
                            data = stored_bytes(path) / n / 1024
                            self.figures.add(
                                "checkpoint data per ticket", variant.name, kind, "KiB", data
                            )

    async def load(self) -> None:
        """Throughput and p50/p95 with N tickets submitted at once (50 ms latency).

        Conductor's own run at the overload section's size is that section's (the same
        tickets at once, in memory, 50 ms, through the CLI batch runner), not run twice.
        """
        for size in self.config.load_sizes:
            for variant in self.variants[LOAD_LATENCY_S]:
                if size == self.config.overload and isinstance(variant, ConductorGraph):
                    self.notes.append(
                        f"load: {variant.name} at {size} at once is the overload section's run"
                    )
                    continue
                variant.compile(InMemorySaver() if variant.uses_checkpointer else None)
                tickets = self.work.tickets(size, f"load{size}-{self._runs}")
                self._runs += 1
                gc.collect()
                started = time.perf_counter()
                latencies = sorted(await self._batch(variant, tickets))
                wall = time.perf_counter() - started
                config = f"{size} at once, memory"
                self.figures.add("throughput", variant.name, config, "tickets/s", size / wall)
                p50 = latencies[len(latencies) // 2] * 1000
                p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] * 1000
                self.figures.add("latency p50", variant.name, config, "ms", p50)
                self.figures.add("latency p95", variant.name, config, "ms", p95)

    async def fanout(self) -> None:
        """Fan-out efficiency at N workers with SQLite checkpoints: ideal ÷ measured wall.

        Ideal: the orchestration adds nothing per worker, i.e. the raw-asyncio wall of the same
        N calls on the same endpoint, plus the run's fixed overhead (Conductor's wall with one
        worker minus raw asyncio's with one call).
        """
        raw = self.variants[LOAD_LATENCY_S][0]
        assert isinstance(raw, RawAsyncio)
        sim = self.sims[LOAD_LATENCY_S]
        sub = self.workdir / "gw-fanout"
        sub.mkdir(exist_ok=True)
        gateway = conductor_gateway(sim, sub, **{fanout.AGENT: fanout.AGENT_SETTINGS})
        graph = ConductorGraph(
            "conductor fan-out",
            fanout.make_builder,
            gateway,
            self.work.store,
            lambda job: {"job": job},
        )
        try:
            for rnd in range(self.config.fanout_rounds):
                walls: dict[int, float] = {}
                floors: dict[int, float] = {}
                for size in (1, *self.config.fanout_sizes):
                    started = time.perf_counter()
                    await raw.fan(fanout.PieceSummary, size)
                    floors[size] = time.perf_counter() - started
                    async with checkpointer("sqlite", self._path("fan")) as saver:
                        graph.compile(saver)
                        job: dict[str, Any] = {"job_id": f"fan-{rnd}-{size}", "workers": size}
                        started = time.perf_counter()
                        status = await graph.handle(job, job["job_id"])
                        walls[size] = time.perf_counter() - started
                        self.statuses[f"{graph.name}: {status}"] += 1
                fixed = max(walls[1] - floors[1], 0.0)
                for size in self.config.fanout_sizes:
                    config = f"{size} workers, sqlite, 50 ms"
                    ideal = floors[size] + fixed
                    self.figures.add(
                        "fan-out efficiency", graph.name, config, "%", ideal / walls[size] * 100
                    )
                    self.figures.add("fan-out wall", graph.name, config, "ms", walls[size] * 1000)
                    self.figures.add(
                        "fan-out wall", "raw asyncio", config, "ms", floors[size] * 1000
                    )
        finally:
            await graph.aclose()
        await self._documents_fanout()

    async def _documents_fanout(self) -> None:
        """The `documents` workflow's per-chunk fan-out beside raw asyncio and plain LangGraph."""
        await documents_fanout(self, LOAD_LATENCY_S)

    async def memory(self) -> None:
        """Peak traced memory per in-flight ticket (tracemalloc), no checkpointer, 50 ms."""
        n = self.config.rss_tickets
        for variant in self.variants[LOAD_LATENCY_S]:
            variant.compile(None)
            await self._batch(variant, self.work.tickets(2, f"warm-{variant.name}"))
            tickets = self.work.tickets(n, f"mem-{self._runs}")
            self._runs += 1
            gc.collect()
            tracemalloc.start()
            try:
                base, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                await self._batch(variant, tickets)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            self.figures.add(
                "peak memory per in-flight ticket",
                variant.name,
                f"{n} at once, none",
                "KiB",
                (peak - base) / n / 1024,
            )

    async def timed(self, name: str, section: Awaitable[object]) -> None:
        """Run one section of the benchmark, its wall time kept in `sections`."""
        started = time.perf_counter()
        await section
        self.sections[name] = time.perf_counter() - started

    async def aclose(self) -> None:
        """Close every client and the store."""
        for variants in self.variants.values():
            for variant in variants:
                await variant.aclose()
        self.work.close()


async def run_bench(config: BenchConfig, workdir: Path | None = None) -> dict[str, Any]:
    """Run the whole benchmark; return the header, the rows and the rendered table."""
    started = time.perf_counter()
    cal = calibration()
    kinds = tuple(k for k in CHECKPOINTERS if k != "postgres" or os.environ.get("DATABASE_URL"))
    with tempfile.TemporaryDirectory(prefix="conductor-bench-") as tmp:
        bench = Bench(config, Path(workdir) if workdir is not None else Path(tmp))
        try:
            timed = bench.timed
            await timed("warm-up", bench.warm_up())
            for rnd in range(config.rounds):
                await timed(f"CPU round {rnd + 1}", bench.cpu_round(rnd, kinds))
            await timed("load", bench.load())
            await timed("fan-out", bench.fanout())
            await timed("memory", bench.memory())
            if config.overload:
                await timed("overload", overload_section(bench))
            bench.notes.append(
                "sections (wall): " + ", ".join(f"{k} {v:.0f} s" for k, v in bench.sections.items())
            )
        finally:
            await bench.aclose()
    rows = bench.figures.rows()
    header = {
        "endpoint": "simulated in-process OpenAI-compatible endpoint (httpx ASGITransport), "
        "ideal error model",
        "machine": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "versions": versions(),
        "calibration": cal,
        "mode": config.mode,
        "rounds": config.rounds,
        "tickets": config.tickets,
        "wall_s": time.perf_counter() - started,
    }
    return {
        "header": header,
        "rows": [r.to_json() for r in rows],
        "statuses": dict(bench.statuses),
        "notes": bench.notes,
        "table": markdown_table(rows),
        "header_text": header_lines(header),
    }


def render(result: dict[str, Any]) -> str:
    """The header, the table, the statuses and the notes, as markdown."""
    statuses = ", ".join(f"{k} ×{v}" for k, v in sorted(result["statuses"].items()))
    notes = "".join(f"\n- {note}" for note in result["notes"])
    return f"{result['header_text']}\n\n{result['table']}\n\n- run statuses: {statuses}{notes}\n"


def write_json(result: dict[str, Any], path: Path) -> None:
    """Write the result as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")


def expected_figures(config: BenchConfig) -> set[tuple[str, str]]:
    """(figure, variant) pairs a run of `config` must produce (for the smoke test)."""
    wanted = {
        ("CPU per ticket", v) for v in ("raw asyncio", "plain LangGraph", "conductor support")
    }
    wanted |= {("supersteps per ticket", v) for v in ("plain LangGraph", "conductor support")}
    wanted |= {("checkpoint bytes per ticket", "conductor support")}
    if any(size != config.overload for size in config.load_sizes):
        wanted |= {("throughput", "conductor support"), ("latency p95", "conductor support")}
    wanted |= {("fan-out efficiency", "conductor fan-out")}
    wanted |= {("fan-out efficiency", v) for v in ("conductor documents", "plain LangGraph")}
    wanted |= {("peak memory per in-flight ticket", "conductor support")}
    if config.overload:
        wanted |= {("overload: runs resolved", "conductor support")}
    return wanted
