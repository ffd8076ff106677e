"""Per-endpoint rate limits: token buckets for requests (rps) and tokens (tpm), and Retry-After.

Why not langchain-core's `InMemoryRateLimiter`: it counts requests only (weight 1), starts
with an empty bucket (the first request waits), waits by polling every
`check_every_n_seconds` instead of computing the wait, reads `time.monotonic` directly, and
cannot say how long a request would have to wait, which the gateway needs to decide whether
the wait fits in an agent's time budget or whether to move to another endpoint. The
`TokenBucket` below does both kinds (requests and tokens) with one exact computation.

A 429 is never retried blindly: `EndpointLimiter.hold_until` records the Retry-After as a
not-before time, and `wait_time` includes it, so no request goes to that endpoint (or to the
endpoints sharing its quota) before it. Not thread-safe: use from one event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime


class TokenBucket:
    """A token bucket: `capacity` tokens, refilled at `rate_per_s`, starting full."""

    def __init__(
        self, rate_per_s: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create a full bucket.

        Args:
            rate_per_s: Tokens added per second.
            capacity: Most tokens the bucket holds (the burst).
            clock: Monotonic clock in seconds.
        """
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError("a token bucket needs a positive rate and capacity")
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    @property
    def tokens(self) -> float:
        """Tokens available now (negative after a debit beyond the balance)."""
        self._refill()
        return self._tokens

    def delay(self, amount: float) -> float:
        """Seconds until `amount` tokens are available (0 when they are now)."""
        self._refill()
        missing = min(amount, self.capacity) - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate_per_s

    def take(self, amount: float) -> None:
        """Take `amount` tokens now (callers check `delay` first; the balance may go negative)."""
        self._refill()
        self._tokens -= min(amount, self.capacity)

    def adjust(self, amount: float) -> None:
        """Debit (positive) or credit (negative) tokens after the fact, e.g. real usage."""
        self._refill()
        self._tokens = min(self.capacity, self._tokens - amount)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate_per_s)
            self._updated = now


class EndpointLimiter:
    """The limits of one quota (an endpoint, or endpoints sharing `rate_limit_group`)."""

    def __init__(
        self,
        *,
        rps: float | None,
        tpm: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the buckets.

        Args:
            rps: Requests per second (burst of one second); None for no cap.
            tpm: Tokens per minute (burst of one minute); None for no cap.
            clock: Monotonic clock in seconds.
        """
        self._clock = clock
        self.requests = TokenBucket(rps, max(1.0, rps), clock) if rps else None
        self.tokens = TokenBucket(tpm / 60.0, float(tpm), clock) if tpm else None
        self.not_before = 0.0
        self.rate_limited = 0

    def wait_time(self, tokens: int) -> float:
        """Seconds before a request of about `tokens` tokens may be sent (0: now)."""
        wait = max(0.0, self.not_before - self._clock())
        if self.requests is not None:
            wait = max(wait, self.requests.delay(1))
        if self.tokens is not None:
            wait = max(wait, self.tokens.delay(tokens))
        return wait

    def acquire(self, tokens: int) -> None:
        """Take one request and `tokens` tokens now (after `wait_time` returned 0)."""
        if self.requests is not None:
            self.requests.take(1)
        if self.tokens is not None:
            self.tokens.take(tokens)

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the token bucket once the real usage of a request is known."""
        if self.tokens is not None and actual != estimated:
            self.tokens.adjust(actual - estimated)

    def hold_until(self, retry_after_s: float) -> None:
        """Send nothing before `retry_after_s` from now (a 429's Retry-After); counts the 429."""
        self.rate_limited += 1
        self.not_before = max(self.not_before, self._clock() + retry_after_s)

    def held_for(self) -> float:
        """Seconds left of the current Retry-After hold (0 when none)."""
        return max(0.0, self.not_before - self._clock())


def parse_retry_after(
    headers: Mapping[str, str], *, wall_clock: Callable[[], float] = time.time
) -> float | None:
    """Read how long to wait from a 429's headers.

    `retry-after-ms` (OpenAI) wins over `retry-after`, which may be seconds or an HTTP date.

    Args:
        headers: Response headers (case-insensitive mapping such as `httpx.Headers`, or a
            dict with lower-case keys).
        wall_clock: Unix time, to turn an HTTP date into seconds.

    Returns:
        Seconds to wait (never negative), or None when the headers give nothing usable.
    """
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000.0)
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - wall_clock())


def _number(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None
