"""Counters of what the simulator answered: outcomes per model, early retries, tokens, errors."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any, Literal

Outcome = Literal[
    "ok",
    "error_500",
    "error_503",
    "rate_limited",
    "hang",
    "garbage",
    "implausible",
    "duplicate",
    "down",
    "bad_request",
]


class SimStats:
    """Thread-safe counters; `snapshot()` is what `/admin/stats` shows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._early_retries = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0

    def record(self, model: str, outcome: Outcome) -> None:
        """Count one request to `model` answered with `outcome`."""
        with self._lock:
            self._requests[model][outcome] += 1

    def record_model_errors(self, model: str, kinds: list[str]) -> None:
        """Count the error-model corruptions applied to one answer."""
        with self._lock:
            for kind in kinds:
                self._errors[model][kind] += 1

    def record_early_retry(self) -> None:
        """Count a request that arrived again before its Retry-After elapsed."""
        with self._lock:
            self._early_retries += 1

    def record_usage(self, usage: dict[str, Any]) -> None:
        """Add the `usage` of a 200 response to the token totals."""
        with self._lock:
            self._prompt_tokens += int(usage.get("prompt_tokens", 0))
            self._completion_tokens += int(usage.get("completion_tokens", 0))

    def snapshot(self) -> dict[str, Any]:
        """Return the counters as plain JSON-compatible data.

        Returns:
            `requests` (model → outcome → count), `requests_total`, `outcomes` (outcome →
            count over all models), `model_errors` (model → error kind → count),
            `early_retries` and `tokens` (prompt/completion/total).
        """
        with self._lock:
            requests = {m: dict(c) for m, c in self._requests.items()}
            outcomes: dict[str, int] = defaultdict(int)
            for counts in requests.values():
                for outcome, count in counts.items():
                    outcomes[outcome] += count
            return {
                "requests": requests,
                "requests_total": sum(outcomes.values()),
                "outcomes": dict(outcomes),
                "model_errors": {m: dict(c) for m, c in self._errors.items()},
                "early_retries": self._early_retries,
                "tokens": {
                    "prompt": self._prompt_tokens,
                    "completion": self._completion_tokens,
                    "total": self._prompt_tokens + self._completion_tokens,
                },
            }
