"""Prompt plumbing every workflow shares: delimited sections for untrusted text, retry feedback."""

from __future__ import annotations

import json
import re
from typing import Any

SECTION_NAMES = (
    "ticket",
    "entities",
    "facts",
    "classification",
    "outcome",
    "document",
    "feedback",
)
"""The delimiter vocabulary the prompts and the simulator share (the wire format, not a
workflow's knowledge: a new workflow with a new kind of section adds its name here)."""

_TAG = re.compile(r"</?\s*(" + "|".join(SECTION_NAMES) + r")\s*>", re.IGNORECASE)

RETRY_FEEDBACK = (
    "Your previous answer to this task was rejected by a validation gate for the reasons in "
    "<feedback>. Answer again, correcting them."
)


def strip_delimiters(text: str) -> str:
    """Remove section tags from untrusted text so it cannot close or open a section.

    Args:
        text: Text that came from outside (a ticket's subject or body).

    Returns:
        The text with every `<ticket>`-style tag removed.
    """
    return _TAG.sub("", text)


def render_sections(**sections: Any) -> str:
    """Render the user message: each section inside `<name>` ... `</name>` delimiters.

    Strings are delimited as they are (after `strip_delimiters`); other values are JSON.

    Args:
        **sections: Section name (one of `SECTION_NAMES`) to content.

    Returns:
        The user message.

    Raises:
        ValueError: On a section name the simulator and the prompts do not share.
    """
    parts = []
    for name, content in sections.items():
        if name not in SECTION_NAMES:
            raise ValueError(f"unknown prompt section {name!r}; expected one of {SECTION_NAMES}")
        text = (
            strip_delimiters(content)
            if isinstance(content, str)
            # Model-written strings inside JSON (a summary, a reason) must not open or close
            # a section either: escape the angle brackets, which JSON readers decode back.
            else json.dumps(content, sort_keys=True, default=str)
            .replace("<", "\\u003c")
            .replace(">", "\\u003e")
        )
        parts.append(f"<{name}>\n{text}\n</{name}>")
    return "\n".join(parts)


def with_feedback(messages: list[tuple[str, str]], feedback: list[str]) -> list[tuple[str, str]]:
    """Tell a retry why its previous answer was refused, so it is a new request.

    The system message gains `RETRY_FEEDBACK` and the last user message a `<feedback>`
    section listing the gate's reasons.
    """
    if not feedback:
        return messages
    section = render_sections(feedback="\n".join(f"- {line}" for line in feedback))
    out = []
    for n, (role, content) in enumerate(messages):
        if role == "system":
            content = f"{content} {RETRY_FEEDBACK}"
        if n == len(messages) - 1 and role == "user":
            content = f"{content}\n{section}"
        out.append((role, content))
    return out


def neutralize_delimiters(text: str) -> str:
    """Defuse section tags in untrusted text without moving a character.

    Each `<` and `>` of a tag becomes `‹` and `›`, so offsets into the text stay valid (the
    documents workflow's spans) while the text can no longer open or close a section.
    """
    return _TAG.sub(lambda m: "‹" + m.group(0)[1:-1] + "›", text)


def render_exact(name: str, text: str) -> str:
    """One section whose content is `text` exactly, character for character (tags defused).

    The section reads `<name>`, a newline, the text, a newline, `</name>`: a reader that
    drops exactly those two newlines gets offsets that match the caller's text.
    """
    if name not in SECTION_NAMES:
        raise ValueError(f"unknown prompt section {name!r}; expected one of {SECTION_NAMES}")
    return f"<{name}>\n{neutralize_delimiters(text)}\n</{name}>"
