"""Reading a chat request's last user message: its delimited sections, parsed by name."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from nodes.prompts import SECTION_NAMES

_NAMES = tuple(dict.fromkeys((*SECTION_NAMES, "document")))
"""The prompts' section names plus `document` (the documents workflow's chunk text)."""

_SECTION = re.compile(
    r"<\s*(" + "|".join(_NAMES) + r")\s*>(.*?)<\s*/\s*\1\s*>",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class PromptContext:
    """What the simulator sees of a request: the sections of the last user message.

    Attributes:
        text: The whole last user message.
        ticket: The `<ticket>` text; the whole message when it has no sections at all.
        entities: The `<entities>` JSON object (TicketEntities shape), if present and valid.
        facts: The `<facts>` JSON object (state.schemas.Facts shape), if present and valid.
        classification: The `<classification>` JSON object, if present and valid.
        outcome: The `<outcome>` JSON object (state.schemas.ReplyOutcome shape), if present.
        document: The `<document>` text exactly as the prompt carries it (only the one newline
            after the opening tag and the one before the closing tag removed), so that offsets
            into it are offsets into the caller's text; None when there is no such section.
    """

    text: str
    ticket: str
    entities: dict[str, Any] | None = None
    facts: dict[str, Any] | None = None
    classification: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    document: str | None = None


def message_text(message: Any) -> str:
    """Return the text of one chat message (string content or a list of text parts)."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(messages: list[Any]) -> str:
    """Return the text of the last message whose role is `user` ("" when there is none)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def parse_prompt(messages: list[Any]) -> PromptContext:
    """Parse the sections (`nodes.prompts.SECTION_NAMES` and `document`) of the last user message.

    Args:
        messages: The request's `messages`.

    Returns:
        The prompt context. A JSON section that does not parse to an object is None.
    """
    text = last_user_text(messages)
    found: dict[str, str] = {}
    document: str | None = None
    for match in _SECTION.finditer(text):
        name = match.group(1).lower()
        if name == "document":
            if document is None:
                document = _unwrap(match.group(2))
            continue
        found.setdefault(name, match.group(2).strip())
    ticket = found.get("ticket", text if not found and document is None else "")
    return PromptContext(
        text=text,
        ticket=ticket,
        entities=_json_object(found.get("entities")),
        facts=_json_object(found.get("facts")),
        classification=_json_object(found.get("classification")),
        outcome=_json_object(found.get("outcome")),
        document=document,
    )


def _unwrap(raw: str) -> str:
    """Remove exactly the one newline after `<document>` and the one before `</document>`."""
    if raw.startswith("\n"):
        raw = raw[1:]
    if raw.endswith("\n"):
        raw = raw[:-1]
    return raw


def _json_object(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
