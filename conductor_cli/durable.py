"""Durable CLI runs: stable thread ids per batch and item, thread phases, recovery, runs listing.

How a CLI run survives a crash (see README, "Batches, resume and recovery"):

- A batch's thread ids are stable: `{workflow}-{batch_id}-{slug(item_id)}`, the batch id
  derived from the input file's resolved path and content (or given with `--batch`). Running
  the same command again finds each item's thread: finished threads are re-emitted from
  their checkpointed state (no model call), interrupted ones continue from their last
  checkpoint (`graph.ainvoke(None, config)`), new ones start.
- Every CLI run uses `durability="sync"` (`RUN_DURABILITY`): LangGraph saves a step's
  checkpoint before the next step starts, and each finished task's writes as it finishes.
  After a SIGKILL at any point, only the tasks in flight at the kill run again. The one side
  effect (the ledger write) is idempotent by key and its node reconciles with the ledger
  before writing (a replay finds its own record and reports it issued, `replayed: true`),
  so the ledger and the checkpointed state agree whichever side of the write the kill fell.
- The runs table records a thread `running` (with its input) before it runs and its final
  status after; `conductor recover` finishes every thread a crash left `running`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from langgraph.types import Durability

RUN_DURABILITY: Durability = "sync"
"""Durability of CLI runs: each step's checkpoint is saved before the next step starts.

Why not "async" (LangGraph's default): it saves a step's checkpoint while the next step
runs, so the ledger write can reach the disk before the checkpoint of the step that decided
it; a kill then loses that step, and the resume redoes its work and its model calls. With
"sync" the decision is on disk before the action starts. Neither mode can make the ledger
write and the checkpoint one transaction; what makes them agree is the action's idempotency
key (a replay finds its own record and reports it issued, `replayed: true`) and context
gathering counting that record as the ticket's own refund. Sync bounds the replay to the
tasks in flight. Its CPU cost per ticket is measured
by `tests/crash/durability_cost.py` (README, "Batches, resume and recovery").
"""

Phase = Literal["new", "interrupted", "finished"]
"""Where a thread stands: never checkpointed; stopped mid-way (a crash); at its end or at an
interrupt (a review, a parked run)."""


def batch_id_for(input_path: Path, data: bytes) -> str:
    """A batch's id: from the input file's resolved path and a hash of its content.

    The same file with the same content is the same batch (a rerun resumes it); an edited
    file, or the same content elsewhere, is another batch.
    """
    digest = hashlib.sha256()
    digest.update(str(input_path.resolve()).encode("utf-8"))
    digest.update(b"\0")
    digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:12]


def valid_batch_id(text: str) -> str:
    """A `--batch` id as given, when it is a usable part of a thread id.

    Raises:
        ValueError: When it is empty, too long, or has characters other than `[A-Za-z0-9_.]`.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.]{1,40}", text):
        raise ValueError(f"--batch must be 1-40 characters of [A-Za-z0-9_.], got {text!r}")
    return text


def slug(item_id: str) -> str:
    """The item id as a thread-id part: one slug per id, and no two ids share one.

    A short hash of the id is added when characters were replaced or the id was cut.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", item_id)[:48] or "item"
    if cleaned == item_id:
        return cleaned
    return f"{cleaned}_{hashlib.sha256(item_id.encode('utf-8')).hexdigest()[:6]}"


def thread_id_for(workflow: str, batch_id: str, item_id: str) -> str:
    """The stable thread id of one item of one batch: `{workflow}-{batch_id}-{slug}`."""
    return f"{workflow}-{batch_id}-{slug(item_id)}"


def phase_of(snapshot: Any) -> Phase:
    """Where a thread stands, from its `StateSnapshot` (duck-typed: missing fields = new)."""
    if getattr(snapshot, "created_at", None) is None:
        return "new"
    if getattr(snapshot, "interrupts", ()) or not getattr(snapshot, "next", ()):
        return "finished"
    return "interrupted"


def item_id_of(values: Mapping[str, Any], id_fields: tuple[str, ...]) -> str:
    """The item id a run's state names (the first of `id_fields` it holds)."""
    for name in id_fields:
        if values.get(name):
            return str(values[name])
    return ""
