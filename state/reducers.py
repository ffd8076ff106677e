"""Reducers for channels that parallel workers write: merges, never overwrites of a shared value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

V = TypeVar("V")


def merge_dicts(left: Mapping[str, V] | None, right: Mapping[str, V] | None) -> dict[str, V]:
    """Merge two keyed maps; on the same key the newer write wins.

    Args:
        left: The channel's current value.
        right: One node's write.

    Returns:
        A new dict holding both.
    """
    merged = dict(left or {})
    merged.update(right or {})
    return merged


def merge_pending(
    left: Mapping[str, V] | None, right: Mapping[str, V | None] | None
) -> dict[str, V]:
    """Merge keyed maps like `merge_dicts`, except that a `None` write removes its key.

    The supervisor writes `None` for a proposal once its gate admitted it into the results,
    so the channel holds only what is still pending or was refused.
    """
    merged = dict(left or {})
    for key, value in (right or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def add_counts(left: Mapping[str, int] | None, right: Mapping[str, int] | None) -> dict[str, int]:
    """Add per-key counters (e.g. failed attempts per subtask) written by parallel nodes."""
    merged = dict(left or {})
    for key, value in (right or {}).items():
        merged[key] = merged.get(key, 0) + value
    return merged


def add_usage(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> dict[str, Any]:
    """Sum token usage and cost, per model call; keeps a per-agent breakdown.

    A usage value looks like `{"input_tokens": int, "output_tokens": int, "cost_usd": float,
    "calls": int, "by_agent": {agent: {"input_tokens", "output_tokens", "cost_usd", "calls"}}}`.
    """
    total: dict[str, Any] = {
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "calls": 0,
        "by_agent": {},
    }
    for part in (left or {}, right or {}):
        for key in ("input_tokens", "output_tokens", "calls"):
            total[key] += int(part.get(key, 0))
        total["cost_usd"] = round(total["cost_usd"] + float(part.get("cost_usd", 0.0)), 8)
        for agent, figures in (part.get("by_agent") or {}).items():
            mine = total["by_agent"].setdefault(
                agent, {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "calls": 0}
            )
            for key in ("input_tokens", "output_tokens", "calls"):
                mine[key] += int(figures.get(key, 0))
            mine["cost_usd"] = round(mine["cost_usd"] + float(figures.get("cost_usd", 0.0)), 8)
    return total


def bump(left: int | None, right: int | None) -> int:
    """Add a node's version increment to the state's version counter."""
    return (left or 0) + (right or 0)
