"""Deterministic pseudo-random draws keyed by seed, purpose, request digest and arrival count."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_SCALE = float(1 << 64)


def request_digest(messages: Any, model: str, schema_name: str | None) -> str:
    """Digest what identifies a request: its messages, its model and its schema name.

    Args:
        messages: The `messages` list of the chat-completions request, as received.
        model: The requested model name.
        schema_name: The structured-output schema name, or None for a plain request.

    Returns:
        A hex sha256 digest, stable across processes (no salted `hash()`).
    """
    canonical = json.dumps(
        {"messages": messages, "model": model, "schema": schema_name},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def draw(seed: int, purpose: str, digest: str, n: int) -> float:
    """Return a uniform number in [0, 1) derived from sha256(seed, purpose, digest, n).

    Args:
        seed: The run's seed.
        purpose: What the draw decides (e.g. "fault", "error:wrong_label"), so that draws
            for different decisions are independent.
        digest: The request digest (see `request_digest`).
        n: How many times the same digest arrived before this request.

    Returns:
        A float in [0, 1).
    """
    key = f"{seed}|{purpose}|{digest}|{n}".encode()
    value = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return value / _SCALE


class Draws:
    """The draws of one request: a seed, a digest and an arrival count bound together."""

    def __init__(self, seed: int, digest: str, n: int) -> None:
        self.seed = seed
        self.digest = digest
        self.n = n

    def uniform(self, purpose: str) -> float:
        """Return the draw in [0, 1) for `purpose`."""
        return draw(self.seed, purpose, self.digest, self.n)

    def chance(self, purpose: str, rate: float) -> bool:
        """Return True with probability `rate` (deterministically for this request)."""
        return rate > 0.0 and self.uniform(purpose) < rate

    def choice(self, purpose: str, options: Sequence[T]) -> T:
        """Pick one of `options` (non-empty) deterministically."""
        if not options:
            raise ValueError(f"no options to choose from for {purpose!r}")
        return options[int(self.uniform(purpose) * len(options)) % len(options)]

    def integer(self, purpose: str, low: int, high: int) -> int:
        """Return an integer in [low, high] deterministically."""
        return low + int(self.uniform(purpose) * (high - low + 1))
