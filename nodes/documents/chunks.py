"""Chunking a long document with overlap: never a silent truncation."""

from __future__ import annotations

from typing import Any


def chunk_spans(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Cut `[0, length)` into windows of at most `size` characters, neighbours sharing `overlap`.

    Args:
        length: The text's length.
        size: The largest chunk.
        overlap: Characters two neighbouring chunks share (an entity cut by one chunk's end
            is whole in the next one's start).

    Returns:
        `(start, end)` windows covering every character, in order; one window when the text
        fits.

    Raises:
        ValueError: When `size` is not positive or `overlap` is not in `[0, size)`.
    """
    if size <= 0:
        raise ValueError(f"chunk size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be in [0, {size}), got {overlap}")
    if length <= size:
        return [(0, length)]
    spans, start = [], 0
    while True:
        end = min(start + size, length)
        spans.append((start, end))
        if end == length:
            return spans
        start = end - overlap


def chunk_items(text: str, size: int, overlap: int) -> list[dict[str, Any]]:
    """The fan-out items of a document: each chunk's offset, length and position."""
    spans = chunk_spans(len(text), size, overlap)
    return [
        {"index": n, "of": len(spans), "offset": start, "length": end - start}
        for n, (start, end) in enumerate(spans)
    ]


def merge_entities(per_chunk: list[tuple[int, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Shift each chunk's entities to whole-document spans and drop the overlap's duplicates.

    Args:
        per_chunk: `(chunk offset, entities with spans in the chunk)` pairs.

    Returns:
        Entities with spans in the whole document, in order, each (kind, start, end) once.
    """
    seen: dict[tuple[str, int, int], dict[str, Any]] = {}
    for offset, entities in per_chunk:
        for entity in entities:
            shifted = {**entity, "start": entity["start"] + offset, "end": entity["end"] + offset}
            seen.setdefault((shifted["kind"], shifted["start"], shifted["end"]), shifted)
    return sorted(seen.values(), key=lambda e: (e["start"], e["end"], e["kind"]))


def merge_relationships(per_chunk: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every chunk's relationships, each (kind, source, target) once, in first-seen order."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for relationships in per_chunk:
        for rel in relationships:
            seen.setdefault((rel["kind"], rel["source"], rel["target"]), rel)
    return list(seen.values())
