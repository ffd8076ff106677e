"""Fault specification of the simulator: which faults to inject, how often, with which seed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal

FAULTS_ENV_VAR = "CONDUCTOR_FAULTS"
"""Environment variable holding the fault spec of the process-wide simulator."""

DownTier = Literal["small", "large", "all"]

RATE_KEYS = (
    "error_rate",
    "rate_limit_rate",
    "timeout_rate",
    "garbage_rate",
    "implausible_rate",
    "duplicate_rate",
)
"""Keys whose values are probabilities, in the order the fault draw tests them."""

_DOWN_VALUES = ("small", "large", "all")


@dataclass(frozen=True, kw_only=True)
class FaultSpec:
    """Faults the simulator injects; rates are per request and must sum to at most 1.

    Attributes:
        error_rate: Share of requests answered with HTTP 500 or 503.
        error_status: 500 or 503 to inject only that status; None mixes both evenly.
        rate_limit_rate: Share answered with HTTP 429 and a `Retry-After` header.
        retry_after: Seconds sent in `Retry-After`.
        timeout_rate: Share that hang `hang_seconds` before answering.
        hang_seconds: How long a hang lasts.
        garbage_rate: Share answered 200 OK with content (or tool arguments) that is not JSON.
        implausible_rate: Share answered with schema-valid but wrong values.
        duplicate_rate: Share answered with the previous body sent for the same schema.
        down: A tier ("small", "large" or "all") whose every request gets 503.
        seed: Seed of every draw.
    """

    error_rate: float = 0.0
    error_status: int | None = None
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    timeout_rate: float = 0.0
    hang_seconds: float = 30.0
    garbage_rate: float = 0.0
    implausible_rate: float = 0.0
    duplicate_rate: float = 0.0
    down: DownTier | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for key in RATE_KEYS:
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {key}={value!r}: a rate must be between 0 and 1")
        total = sum(getattr(self, key) for key in RATE_KEYS)
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates sum to {total:.3f} (> 1): " + ", ".join(RATE_KEYS))
        if self.retry_after < 0:
            raise ValueError(f"fault retry_after={self.retry_after!r}: must be >= 0 seconds")
        if self.hang_seconds < 0:
            raise ValueError(f"fault hang_seconds={self.hang_seconds!r}: must be >= 0 seconds")
        if self.error_status not in (None, 500, 503):
            raise ValueError(f"fault error_status={self.error_status!r}: expected 500 or 503")
        if self.down is not None and self.down not in _DOWN_VALUES:
            raise ValueError(f"fault down={self.down!r}: expected one of {_DOWN_VALUES}")

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        """Parse a spec such as "error_rate=0.2,garbage_rate=0.1,seed=1".

        Args:
            spec: Comma-separated `key=value` pairs; None or blank means no faults.

        Returns:
            The fault spec.

        Raises:
            ValueError: On an unknown key, a repeated key or a bad value; the message names
                the key.
        """
        if spec is None or not spec.strip():
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, raw = item.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep:
                raise ValueError(f"fault spec item {item!r}: expected key=value")
            if key not in known:
                raise ValueError(f"unknown fault key {key!r}; expected one of {sorted(known)}")
            if key in values:
                raise ValueError(f"fault key {key!r} given twice")
            values[key] = _convert(key, raw)
        try:
            return cls(**values)  # type: ignore[arg-type]
        except TypeError as exc:  # pragma: no cover - every key is checked above
            raise ValueError(f"bad fault spec {spec!r}: {exc}") from exc

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultSpec:
        """Read the spec from `CONDUCTOR_FAULTS` (no faults when unset).

        Args:
            environ: Environment to read; defaults to `os.environ`.

        Returns:
            The fault spec.
        """
        env = os.environ if environ is None else environ
        return cls.parse(env.get(FAULTS_ENV_VAR))

    def with_changes(self, **changes: object) -> FaultSpec:
        """Return a copy with some fields replaced (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_spec(self) -> str:
        """Render the spec string that `parse` reads back to an equal `FaultSpec`."""
        default = FaultSpec()
        parts = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return ",".join(parts)

    @property
    def active(self) -> bool:
        """True when any fault can be injected."""
        return self.down is not None or any(getattr(self, key) > 0 for key in RATE_KEYS)


def _convert(key: str, raw: str) -> object:
    """Convert the text value of `key` to its field type, naming the key on failure."""
    try:
        if key in RATE_KEYS or key == "hang_seconds":
            return float(raw)
        if key in ("retry_after", "seed"):
            return int(raw)
        if key == "error_status":
            return None if raw.lower() in ("", "none", "mixed") else int(raw)
    except ValueError as exc:
        raise ValueError(f"fault {key}={raw!r}: not a number") from exc
    if key == "down":
        value = raw.lower()
        if value in ("", "none"):
            return None
        if value not in _DOWN_VALUES:
            raise ValueError(f"fault down={raw!r}: expected one of {_DOWN_VALUES}")
        return value
    raise ValueError(f"unknown fault key {key!r}")  # pragma: no cover
