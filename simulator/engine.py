"""The simulator engine: answers chat-completion requests with heuristics, errors and faults."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.corruptions import corrupt
from simulator.draws import Draws, request_digest
from simulator.error_model import ErrorModel
from simulator.faults import RATE_KEYS, FaultSpec
from simulator.heuristics import HEURISTICS
from simulator.protocol import (
    ChatRequest,
    RequestError,
    completion_body,
    error_body,
    parse_request,
    stream_chunks,
)
from simulator.schema_instance import minimal_instance
from simulator.sections import PromptContext, parse_prompt
from simulator.stats import Outcome, SimStats

DEFAULT_MODELS = ("sim-small", "sim-large")
"""Model ids `/v1/models` lists; any name is served ("small" in it means the small tier)."""

_TEXT_KEY = "<text>"


MAX_TRACKED_REQUESTS = 100_000
"""How many distinct requests the simulator remembers for arrival counts and Retry-After."""


@dataclass(frozen=True)
class SimResponse:
    """An answer of the engine, for the web layer to send.

    Attributes:
        status: HTTP status.
        body: JSON body (a `chat.completion` or an error).
        headers: Extra headers (e.g. `Retry-After`).
        chunks: Server-sent-event chunks when the request asked to stream a 200 answer.
    """

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[dict[str, Any]] | None = None


class Simulator:
    """An OpenAI-compatible model with deterministic heuristics, an error model and faults.

    Every draw comes from sha256(seed, purpose, request digest, n) where n counts earlier
    arrivals of the same digest, so a retry can draw differently while a rerun of the whole
    process is identical.
    """

    def __init__(
        self,
        faults: FaultSpec | None = None,
        error_model: ErrorModel | None = None,
        *,
        models: tuple[str, ...] = DEFAULT_MODELS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        latency_s: float = 0.0,
    ) -> None:
        """Create a simulator.

        Args:
            faults: Faults to inject; none by default.
            error_model: Worker quality per tier and schema; `ErrorModel()` defaults when None.
            models: Model ids listed by `/v1/models`.
            clock: Monotonic clock (seconds) used to detect early retries after a 429.
            wall_clock: Unix time for the `created` field.
            sleep: Coroutine function used for hangs and the added latency.
            latency_s: Fixed delay before every answer (a provider's service time), e.g.
                0.05 for benchmarks; none by default.

        Raises:
            ValueError: When `latency_s` is negative.
        """
        if latency_s < 0:
            raise ValueError(f"latency_s={latency_s!r}: must be >= 0 seconds")
        self.latency_s = latency_s
        self.models = models
        self._faults = faults or FaultSpec()
        self._error_model = error_model or ErrorModel()
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._stats = SimStats()
        # Arrival counts per request digest, oldest first; bounded so that a long-running
        # `conductor sim serve` does not grow without end (a digest unseen for
        # MAX_TRACKED_REQUESTS newer ones starts counting again from zero).
        self._arrivals: OrderedDict[str, int] = OrderedDict()
        self._retry_deadlines: OrderedDict[str, float] = OrderedDict()
        self._last_body: dict[str, dict[str, Any]] = {}

    # --- configuration ---------------------------------------------------------------------

    @property
    def faults(self) -> FaultSpec:
        """The faults in force."""
        return self._faults

    def set_faults(self, faults: FaultSpec) -> None:
        """Replace the faults in force (takes effect on the next request)."""
        self._faults = faults

    @property
    def error_model(self) -> ErrorModel:
        """The error model in force."""
        return self._error_model

    def set_error_model(self, error_model: ErrorModel) -> None:
        """Replace the error model (takes effect on the next request)."""
        self._error_model = error_model

    # --- stats -----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Return the counters (see `SimStats.snapshot`) with the fault spec in force."""
        return {**self._stats.snapshot(), "faults": self._faults.to_spec()}

    def reset_stats(self) -> None:
        """Zero the counters (the arrival history that seeds draws is kept)."""
        self._stats = SimStats()

    def reset(self) -> None:
        """Forget everything: counters, arrival counts, pending Retry-Afters, last bodies."""
        with self._lock:
            self._stats = SimStats()
            self._arrivals.clear()
            self._retry_deadlines.clear()
            self._last_body.clear()

    # --- serving ---------------------------------------------------------------------------

    async def complete(self, payload: Any) -> SimResponse:
        """Answer one `/v1/chat/completions` request body.

        Args:
            payload: The decoded JSON body.

        Returns:
            The response to send.
        """
        if self.latency_s > 0:
            await self._sleep(self.latency_s)
        try:
            request = parse_request(payload)
        except RequestError as exc:
            model = payload.get("model") if isinstance(payload, dict) else None
            self._stats.record(str(model or "<none>"), "bad_request")
            return SimResponse(400, error_body(str(exc), "invalid_request_error", param=exc.param))
        digest = request_digest(request.messages, request.model, request.schema_name)
        faults = self._faults
        now = self._clock()
        with self._lock:
            n = self._arrivals.pop(digest, 0)
            self._arrivals[digest] = n + 1
            if len(self._arrivals) > MAX_TRACKED_REQUESTS:
                self._arrivals.popitem(last=False)
            deadline = self._retry_deadlines.pop(digest, None)
        if deadline is not None and now < deadline:
            self._stats.record_early_retry()
        draws = Draws(faults.seed, digest, n)

        if faults.down in (request.tier, "all"):
            return self._fail(request, "down", 503, f"the {request.tier} tier is down (simulated)")
        fault = _pick_fault(faults, draws)
        if fault == "error_rate":
            if faults.error_status == 500 or (
                faults.error_status is None and draws.uniform("error_kind") < 0.5
            ):
                return self._fail(request, "error_500", 500, "internal server error (simulated)")
            return self._fail(request, "error_503", 503, "service unavailable (simulated)")
        if fault == "rate_limit_rate":
            with self._lock:
                self._retry_deadlines[digest] = now + faults.retry_after
                if len(self._retry_deadlines) > MAX_TRACKED_REQUESTS:
                    self._retry_deadlines.popitem(last=False)
            response = self._fail(
                request,
                "rate_limited",
                429,
                "rate limit reached (simulated)",
                "rate_limit_exceeded",
            )
            response.headers["Retry-After"] = str(faults.retry_after)
            return response
        if fault == "timeout_rate":
            self._stats.record(request.model, "hang")
            await self._sleep(faults.hang_seconds)
            return self._answer(request, draws, digest, None, record=False)
        if fault == "duplicate_rate":
            with self._lock:
                previous = self._last_body.get(request.schema_name or _TEXT_KEY)
            if previous is not None:
                return self._send(request, previous, "duplicate")
        return self._answer(request, draws, digest, fault)

    def _answer(
        self,
        request: ChatRequest,
        draws: Draws,
        digest: str,
        fault: str | None,
        *,
        record: bool = True,
    ) -> SimResponse:
        ctx = parse_prompt(request.messages)
        output, outcome = self._output(request, ctx, draws, fault)
        ids = hashlib.sha256(f"{digest}|{draws.n}".encode()).hexdigest()
        body = completion_body(
            completion_id=f"chatcmpl-sim{ids[:24]}",
            created=int(self._wall_clock()),
            request=request,
            output=output,
            tool_call_id=f"call_{ids[24:48]}",
        )
        with self._lock:
            self._last_body[request.schema_name or _TEXT_KEY] = body
        # A hang is recorded when it starts; its answer is not counted twice.
        return self._send(request, body, outcome if record else None)

    def _output(
        self, request: ChatRequest, ctx: PromptContext, draws: Draws, fault: str | None
    ) -> tuple[str, Outcome]:
        if request.mode == "text":
            text = _plain_answer(request, ctx)
            if fault == "garbage_rate":
                return "\ufffd\ufffd}{ ::garbled:: \x7f[[", "garbage"
            return text, "ok"
        value: Any
        outcome: Outcome = "ok"
        if request.schema_name in HEURISTICS:
            value = HEURISTICS[request.schema_name](ctx)
            value, errors = self._error_model.apply(
                request.schema_name, request.tier, value, ctx, draws
            )
            self._stats.record_model_errors(request.model, list(errors))
        elif request.schema is not None:
            value = minimal_instance(request.schema)
        else:
            value = {"reply": _plain_answer(request, ctx)}
        if fault == "implausible_rate":
            corrupted = corrupt(request.schema_name or "", "implausible", value, ctx, draws)
            if corrupted is not None:
                value, outcome = corrupted, "implausible"
        output = json.dumps(value, ensure_ascii=False)
        if fault == "garbage_rate":
            return _garbage(output, draws), "garbage"
        return output, outcome

    def _send(
        self, request: ChatRequest, body: dict[str, Any], outcome: Outcome | None
    ) -> SimResponse:
        if outcome is not None:
            self._stats.record(request.model, outcome)
        self._stats.record_usage(body.get("usage") or {})
        chunks = stream_chunks(body, request.include_usage) if request.stream else None
        return SimResponse(200, body, {}, chunks)

    def _fail(
        self,
        request: ChatRequest,
        outcome: Outcome,
        status: int,
        message: str,
        code: str | None = None,
    ) -> SimResponse:
        self._stats.record(request.model, outcome)
        kind = "requests" if status == 429 else "server_error"
        return SimResponse(status, error_body(message, kind, code), {})


def _pick_fault(faults: FaultSpec, draws: Draws) -> str | None:
    """Pick at most one fault: one uniform draw against the cumulative rates."""
    if not faults.active:
        return None
    u = draws.uniform("fault")
    cumulative = 0.0
    for key in RATE_KEYS:
        cumulative += getattr(faults, key)
        if u < cumulative:
            return key
    return None


def _plain_answer(request: ChatRequest, ctx: PromptContext) -> str:
    words = len(ctx.text.split())
    return (
        f"This is the Conductor simulator ({request.tier} tier). "
        f"I read your message of {words} words; I only answer structured requests in earnest."
    )


def _garbage(output: str, draws: Draws) -> str:
    """Return text that is not valid JSON, in one of a few realistic shapes."""
    shape = draws.choice("garbage", ("truncated", "chatty", "refusal"))
    if shape == "truncated":
        return output[: max(1, len(output) // 2)]
    if shape == "chatty":
        return f"Sure! Here is the JSON you asked for:\n```json\n{output}\n"
    return "I'm sorry, but I can't help with that request."


_default: Simulator | None = None
_default_lock = threading.Lock()


def get_default_simulator() -> Simulator:
    """Return the process-wide simulator; its faults come from `CONDUCTOR_FAULTS`, read once.

    Returns:
        The shared simulator.

    Raises:
        ValueError: When `CONDUCTOR_FAULTS` holds a bad spec (the message names the key).
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = Simulator(FaultSpec.from_env())
        return _default
