"""The OpenAI chat-completions wire format: reading requests, writing completions and errors."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from simulator.sections import message_text

OutputMode = Literal["text", "json_schema", "json_object", "tool"]


class RequestError(ValueError):
    """A request the endpoint cannot serve (answered with HTTP 400)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat-completions request the simulator uses.

    Attributes:
        model: Requested model name.
        messages: The messages, as received.
        mode: How the answer is expected: plain text, JSON content, or a tool call.
        schema_name: Structured-output schema name (response_format name or function name).
        schema: The JSON schema of the structured output, if any.
        stream: Whether the answer is streamed as server-sent events.
        include_usage: Whether a streamed answer ends with a usage chunk.
    """

    model: str
    messages: list[Any]
    mode: OutputMode
    schema_name: str | None
    schema: dict[str, Any] | None
    stream: bool = False
    include_usage: bool = False

    @property
    def tier(self) -> Literal["small", "large"]:
        """The tier of the requested model: "small" when its name says so, else "large"."""
        return "small" if "small" in self.model.lower() else "large"

    def prompt_chars(self) -> int:
        """Characters of prompt the request carries (messages and schema)."""
        chars = sum(len(message_text(m)) for m in self.messages)
        if self.schema is not None:
            chars += len(json.dumps(self.schema, separators=(",", ":")))
        return chars


def parse_request(payload: Any) -> ChatRequest:
    """Read a chat-completions request body.

    Args:
        payload: The decoded JSON body.

    Returns:
        The request.

    Raises:
        RequestError: When the body lacks `model` or `messages` or is malformed.
    """
    if not isinstance(payload, dict):
        raise RequestError("the request body must be a JSON object")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("you must provide a model parameter", "model")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty array", "messages")
    stream = bool(payload.get("stream"))
    options = payload.get("stream_options")
    include_usage = stream and isinstance(options, dict) and bool(options.get("include_usage"))
    mode, name, schema = _output_mode(payload)
    return ChatRequest(model, messages, mode, name, schema, stream, include_usage)


def _output_mode(payload: dict[str, Any]) -> tuple[OutputMode, str | None, dict[str, Any] | None]:
    tools = payload.get("tools")
    choice = payload.get("tool_choice")
    if isinstance(tools, list) and tools and choice != "none":
        functions = [
            t["function"]
            for t in tools
            if isinstance(t, dict) and isinstance(t.get("function"), dict)
        ]
        wanted = None
        if isinstance(choice, dict):
            wanted = (choice.get("function") or {}).get("name")
        elif isinstance(choice, str) and choice not in ("auto", "required", "any"):
            wanted = choice
        chosen = next((f for f in functions if f.get("name") == wanted), None)
        if chosen is None and functions:
            chosen = functions[0]
        if chosen is not None:
            params = chosen.get("parameters")
            return "tool", str(chosen.get("name")), params if isinstance(params, dict) else {}
    response_format = payload.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema")
            return "json_schema", str(spec.get("name")), schema if isinstance(schema, dict) else {}
        if kind == "json_object":
            return "json_object", None, None
    return "text", None, None


def estimate_tokens(chars: int) -> int:
    """Approximate a token count as characters / 4 (at least 1)."""
    return max(1, math.ceil(chars / 4))


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """Return an OpenAI `usage` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(
    *,
    completion_id: str,
    created: int,
    request: ChatRequest,
    output: str,
    tool_call_id: str,
) -> dict[str, Any]:
    """Build a `chat.completion` body answering `request` with `output`.

    Args:
        completion_id: The completion id.
        created: Unix time of creation.
        request: The request answered.
        output: The content, or the tool-call arguments when the request asked for a tool.
        tool_call_id: Id of the tool call, when there is one.

    Returns:
        The response body.
    """
    if request.mode == "tool":
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": tool_call_id,
                    "type": "function",
                    "function": {"name": request.schema_name, "arguments": output},
                }
            ],
        }
        finish_reason = "tool_calls"
    else:
        message = {"role": "assistant", "content": output, "refusal": None}
        finish_reason = "stop"
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "system_fingerprint": "conductor-simulator",
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": usage(estimate_tokens(request.prompt_chars()), estimate_tokens(len(output))),
    }


def stream_chunks(body: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """Split a `chat.completion` body into `chat.completion.chunk` events.

    Args:
        body: A body built by `completion_body`.
        include_usage: Whether to end with a usage-only chunk.

    Returns:
        The chunks, in order (the caller adds the final `[DONE]`).
    """
    choice = body["choices"][0]
    message = choice["message"]
    head = {k: body[k] for k in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            **head,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
        }

    chunks = [chunk({"role": "assistant", "content": "" if message.get("tool_calls") else None})]
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        arguments = call["function"]["arguments"]
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        for piece in _pieces(arguments):
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        for piece in _pieces(message.get("content") or ""):
            chunks.append(chunk({"content": piece}))
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**head, "choices": [], "usage": body["usage"]})
    return chunks


def _pieces(text: str, size: int = 64) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict:
    """Return an OpenAI-style error body."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def model_list(models: tuple[str, ...]) -> dict[str, Any]:
    """Return the `/v1/models` body for the given model ids."""
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "conductor-simulator"}
            for m in models
        ],
    }
