"""The support graph's topology, pinned: a change of nodes or edges must be deliberate."""

from __future__ import annotations

import os
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("support_topology.mmd")
UPDATE_ENV = "CONDUCTOR_UPDATE_SNAPSHOTS"
REGENERATE = (
    f"If the change is intended, regenerate the snapshot and commit it:\n"
    f"    {UPDATE_ENV}=1 .venv/bin/pytest tests/graph/test_topology.py\n"
    f'(or: .venv/bin/python -c "from graphs.support import graph; '
    f"open('{SNAPSHOT.relative_to(SNAPSHOT.parents[2])}', 'w')"
    f'.write(graph.get_graph().draw_mermaid())")'
)


def test_support_topology_matches_the_snapshot() -> None:
    from graphs.support import graph

    drawn = graph.get_graph().draw_mermaid()
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.write_text(drawn, encoding="utf-8")
    stored = SNAPSHOT.read_text(encoding="utf-8")
    assert drawn == stored, (
        f"The support graph's topology differs from {SNAPSHOT.name}.\n{REGENERATE}"
    )


def test_the_snapshot_shows_every_route_of_the_supervisor() -> None:
    """The supervisor's `Command` destinations are visible edges (what Studio draws)."""
    from graphs.support import SUPPORT

    stored = SNAPSHOT.read_text(encoding="utf-8")
    workers = [s.agent for s in SUPPORT.subtasks]
    targets = [*workers, *(a.name for a in SUPPORT.actions)]
    routes = (*targets, "escalate_to_human", "park_run", "finalize_run")
    for target in routes:
        assert f"supervise -.-> {target};" in stored, target
    # A node that runs alone takes the supervisor's step itself: it may route anywhere the
    # supervisor may, and to `supervise` (where a parallel fan-out joins).
    for node in (*targets, "escalate_to_human", "park_run", "accept_input"):
        assert f"{node} -.-> supervise;" in stored, node
        for target in routes:
            if target != node:
                assert f"{node} -.-> {target};" in stored, (node, target)
