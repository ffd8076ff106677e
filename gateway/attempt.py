"""One HTTP attempt of a model call, and how each of its outcomes maps to a result or error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import openai
import structlog
from langchain_core.exceptions import ModelRefusalError, OutputParserException
from langchain_core.runnables import RunnableConfig
from pydantic import ValidationError

from gateway.breaker import Permit
from gateway.call import CallState, EndpointState, Failure
from gateway.clients import ANSWER_USAGE, StructuredModel, last_seen_usage
from gateway.errors import InvalidModelOutput, ModelCallFailed, ProviderRejected
from gateway.looptime import LagAwareTimeout
from gateway.ratelimit import parse_retry_after
from gateway.registry import TIER_RANK, GatewaySettings
from gateway.result import ModelResult
from telemetry.logging import get_logger
from telemetry.metrics import COST_USD, MODEL_CALLS, TOKENS
from telemetry.tracing import model_call_config

log = get_logger("conductor.gateway")

PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 422})
"""Provider answers that no retry fixes: the request, key, URL or model is wrong."""

FORMAT_REFUSED = re.compile(
    r"response_format|json_schema|json_object|tool_choice|structured output", re.IGNORECASE
)
"""An error body saying the request format is refused (llama-cpp-python answers 500)."""

ERROR_BODY_CHARS = 300
"""How much of a provider's error body an error message keeps."""

_INVALID_ANSWER = (
    ValidationError,
    json.JSONDecodeError,
    OutputParserException,
    ModelRefusalError,
    openai.LengthFinishReasonError,
    openai.ContentFilterFinishReasonError,
)


class AttemptRunner:
    """Makes one attempt and accounts for it: breaker verdict, bucket, spend, logs, metrics."""

    def __init__(self, settings: GatewaySettings, *, clock: Callable[[], float]) -> None:
        """Use the settings' profile name and retry defaults, and the gateway's clock."""
        self._settings = settings
        self._clock = clock

    async def run(
        self, call: CallState, endpoint: EndpointState, model: StructuredModel, permit: Permit
    ) -> ModelResult | Failure:
        """Make one HTTP call; turn every outcome into a result, a failure or an error.

        Returns:
            The result, or a `Failure` (5xx, 429, timeout, connection) another attempt may
            retry.

        Raises:
            ProviderRejected: The provider refused the request as made (no retry helps).
            ModelCallFailed: Another 4xx.
            InvalidModelOutput: The answer is not valid JSON for the schema.
        """
        config = endpoint.config
        started = self._clock()
        timeout = min(call.agent_config.timeout_s, config.timeout_s, call.deadline - started)
        seen = ANSWER_USAGE.set([])
        # The timeout measures the provider: the event loop's own lag is left out of it
        # (see gateway.looptime); the router leaves it out of the call's budget.
        guard = LagAwareTimeout(timeout)
        try:
            async with guard:
                parsed = await model.runnable.ainvoke(
                    model.prompt(call.messages), config=self._run_config(call, endpoint)
                )
        except TimeoutError:
            cause = f"no answer in {timeout:.2f} s"
            return self._failed(call, endpoint, permit, started, "timeout", cause)
        except openai.RateLimitError as exc:
            retry_after = parse_retry_after(exc.response.headers)
            default = self._settings.profile.retry.default_retry_after_s
            wait = default if retry_after is None else retry_after
            endpoint.limiter.hold_until(wait)
            cause = f"HTTP 429, retry after {wait:g} s"
            return self._failed(call, endpoint, permit, started, "rate_limited", cause)
        except openai.APITimeoutError:
            return self._failed(call, endpoint, permit, started, "timeout", "HTTP client timeout")
        except openai.APIConnectionError as exc:
            cause = f"connection failed: {short(exc)}"
            return self._failed(call, endpoint, permit, started, "error", cause)
        except openai.APIStatusError as exc:
            status, body = exc.status_code, error_body(exc)
            if status in PERMANENT_STATUSES or FORMAT_REFUSED.search(body):
                endpoint.breaker.release(permit)
                self._log_call(call, endpoint, started, "rejected", error=f"HTTP {status}: {body}")
                raise ProviderRejected(
                    call.agent, config.name, config.base_url, status=status, detail=body
                ) from None
            cause = f"HTTP {status}"
            if status >= 500:
                return self._failed(call, endpoint, permit, started, "error", cause)
            endpoint.breaker.release(permit)
            self._log_call(call, endpoint, started, "error", error=f"{cause}: {body}")
            raise ModelCallFailed(
                call.agent, config.name, f"{cause}: the endpoint refused the request: {body}"
            ) from None
        except _INVALID_ANSWER as exc:
            endpoint.breaker.record_success(permit)
            detail = describe_invalid(exc)
            # A length-limited answer hands its completion over; otherwise the usage is
            # the one the HTTP hook read from the body the client then failed to parse.
            usage = completion_usage(getattr(exc, "completion", None)) or last_seen_usage()
            cost = self.charge(call, endpoint, usage) if usage is not None else 0.0
            self._log_call(call, endpoint, started, "invalid", usage=usage, cost=cost, error=detail)
            raise InvalidModelOutput(call.agent, config.name, detail) from None
        except BaseException:
            # Cancelled (or an unexpected error): no verdict on the endpoint, but a
            # half-open trial slot must not leak.
            endpoint.breaker.release(permit)
            raise
        else:
            usage = last_seen_usage() or {"input_tokens": 0, "output_tokens": 0}
        finally:
            ANSWER_USAGE.reset(seen)
        endpoint.breaker.record_success(permit)
        cost = self.charge(call, endpoint, usage)
        if not isinstance(parsed, call.schema):
            detail = "no structured output in the answer"
            self._log_call(call, endpoint, started, "invalid", usage=usage, cost=cost, error=detail)
            raise InvalidModelOutput(call.agent, config.name, detail)
        self._log_call(call, endpoint, started, "ok", usage=usage, cost=cost)
        return ModelResult(
            output=parsed,
            usage=usage,
            cost_usd=call.cost_usd,
            endpoint=config.name,
            model=config.model,
            tier=config.tier,
            fallback_tier=TIER_RANK[config.tier] > TIER_RANK[call.requested_tier],
            cached=False,
            calls=call.attempts,
            duration_ms=round((self._clock() - call.started) * 1000, 2),
        )

    def charge(self, call: CallState, endpoint: EndpointState, usage: dict[str, int]) -> float:
        """Count an answer's tokens and cost on the call, the bucket and the metrics."""
        config = endpoint.config
        cost = config.cost_usd(usage["input_tokens"], usage["output_tokens"])
        call.cost_usd += cost
        for direction in ("input", "output"):
            call.usage[f"{direction}_tokens"] += usage[f"{direction}_tokens"]
        endpoint.limiter.settle(call.estimated_tokens, sum(usage.values()))
        TOKENS.labels(endpoint=config.name, direction="input").inc(usage["input_tokens"])
        TOKENS.labels(endpoint=config.name, direction="output").inc(usage["output_tokens"])
        COST_USD.labels(agent=call.agent, model=config.model).inc(cost)
        return cost

    def _run_config(self, call: CallState, endpoint: EndpointState) -> RunnableConfig:
        """The LangSmith run of the attempt: named after the agent, tagged with the endpoint."""
        config = endpoint.config
        subtask_attempt = structlog.contextvars.get_contextvars().get("attempt")
        traced = model_call_config(
            agent=call.agent,
            tier=config.tier,
            attempt=subtask_attempt if isinstance(subtask_attempt, int) else None,
            endpoint=config.name,
            model=config.model,
            profile=self._settings.profile_name,
        )
        return {
            "run_name": traced["run_name"],
            "tags": [*traced["tags"], "model_gateway"],
            "metadata": {
                **traced["metadata"],
                "requested_tier": call.requested_tier,
                "http_call": call.attempts,
                "simulated": config.in_process,
            },
        }

    def _failed(
        self,
        call: CallState,
        endpoint: EndpointState,
        permit: Permit,
        started: float,
        outcome: str,
        cause: str,
    ) -> Failure:
        endpoint.breaker.record_failure(permit)
        if outcome != "rate_limited":
            call.failed[endpoint.name] = call.failed.get(endpoint.name, 0) + 1
        self._log_call(call, endpoint, started, outcome, error=cause)
        return Failure(endpoint.name, cause)

    def _log_call(
        self,
        call: CallState,
        endpoint: EndpointState,
        started: float,
        status: str,
        *,
        usage: dict[str, int] | None = None,
        cost: float = 0.0,
        error: str | None = None,
    ) -> None:
        MODEL_CALLS.labels(endpoint=endpoint.name, outcome=status).inc()
        fields: dict[str, Any] = {
            "agent": call.agent,
            "endpoint": endpoint.name,
            "model": endpoint.config.model,
            "tier": endpoint.config.tier,
            "requested_tier": call.requested_tier,
            "call_attempt": call.attempts,
            "duration_ms": round((self._clock() - started) * 1000, 2),
            "token_usage": usage or {"input_tokens": 0, "output_tokens": 0},
            "cost_usd": round(cost, 8),
            "result_status": status,
            "credential": call.credential_ref or endpoint.config.credential,
            "simulated": endpoint.config.in_process,
        }
        if error is not None:
            fields["error"] = error
        if status == "ok":
            log.info("model_call", **fields)
        else:
            log.warning("model_call", **fields)


def error_body(exc: openai.APIStatusError) -> str:
    """The provider's error body in one line, at most `ERROR_BODY_CHARS` characters."""
    try:
        text = exc.response.text
    except (AttributeError, RuntimeError, UnicodeDecodeError):
        text = ""
    text = " ".join((text or str(exc.body or exc.message)).split())
    return text if len(text) <= ERROR_BODY_CHARS else text[: ERROR_BODY_CHARS - 1] + "…"


def completion_usage(completion: Any) -> dict[str, int] | None:
    """The usage of an openai `ChatCompletion`, or None when it has none."""
    usage = getattr(completion, "usage", None)
    if usage is None:
        return None
    return {
        "input_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
        "output_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
    }


def describe_invalid(exc: BaseException) -> str:
    """What was wrong with an answer, in one short line (pydantic's links left out)."""
    cause = exc.__cause__ if isinstance(exc, OutputParserException) else None
    if isinstance(cause, ValidationError):
        exc = cause
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors(include_url=False)[:3]:
            where = ".".join(str(p) for p in error["loc"])
            parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
        more = len(exc.errors()) - len(parts)
        return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return short(exc)


def short(exc: BaseException, limit: int = 300) -> str:
    """`Type: message` of an exception on one line, at most `limit` characters."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
