"""Migrations of checkpointed state: each upgrades a workflow's state by one schema version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def support_v1_to_v2(state: Mapping[str, Any]) -> dict[str, Any]:
    """Support 1 → 2: plan entries name their subtask; the refund moves to `action_results`.

    Version 1 kept the store's facts both in `results["context"]` and `facts`, and the
    refund in `refund`; its plan entries carried a tier the router now derives.
    """
    plan = {
        sid: {"id": sid, "subtask": sid, "agent": p["agent"], "depends_on": list(p["depends_on"])}
        for sid, p in (state.get("plan") or {}).items()
    }
    writes: dict[str, Any] = {"plan": plan, "parks": int(state.get("parks") or 0)}
    if state.get("refund") is not None:
        writes["action_results"] = {"issue_refund": state["refund"]}
    if state.get("facts") is not None and (state.get("results") or {}).get("context") is None:
        writes["results"] = {"context": state["facts"]}
    return writes
