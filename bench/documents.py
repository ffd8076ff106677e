"""The `documents` workflow's per-chunk fan-out in the benchmark, beside its two floors.

A document of N chunks runs `classify_document`, then `extract_document_entities` and
`extract_relationships` on every chunk at once (2N workers), each through the gateway, with
SQLite checkpoints. The floors run the same calls (same messages, same schemas, same
simulated endpoint): raw asyncio (`asyncio.gather` of the openai SDK's calls) and plain
LangGraph (classify, then one `Send` per chunk and extractor, `AsyncSqliteSaver`), so that
the efficiency of each says what its orchestration adds per worker.
"""

from __future__ import annotations

import asyncio
import json
import operator
import time
from pathlib import Path
from typing import Annotated, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel
from typing_extensions import TypedDict

from bench.checkpointers import checkpointer
from bench.variants import PlainLangGraph, RawAsyncio, conductor_gateway
from nodes.documents.prompts import classify_prompt, entities_prompt, relations_prompt
from nodes.documents.rules import chunks
from nodes.spec import Limits, Messages
from state.documents import (
    DocumentClassification,
    DocumentsContext,
    ExtractedEntities,
    ExtractedRelationships,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "documents.jsonl"
BLOCK_OF = "doc-cv-001"
"""The example document repeated once per chunk (a resume: classified with confidence, no
review trigger fires, so every run ends `resolved`)."""

EXTRACTORS: tuple[type[BaseModel], ...] = (ExtractedEntities, ExtractedRelationships)


def chunked_document(n: int, doc_id: str) -> tuple[dict[str, Any], DocumentsContext]:
    """A document of exactly `n` chunks, and the run settings that cut it so.

    The example is repeated `n` times, each copy with a reference line of its own (no two
    chunks, in this run or another, ask the same question: the response cache serves none)
    and padded to one block length; the chunk size is that block and the overlap 0, so every
    chunk holds one whole copy (no entity is cut).
    """
    by_id = {
        d["document_id"]: d
        for d in (json.loads(line) for line in EXAMPLES.read_text().splitlines() if line)
    }
    base = by_id[BLOCK_OF]
    blocks = [f"{base['text'].rstrip()}\n\nReference: {doc_id}/{k:05d}\n\n" for k in range(n)]
    size = max(len(block) for block in blocks)
    document = {
        "document_id": doc_id,
        "title": base["title"],
        "text": "".join(block.ljust(size) for block in blocks),
    }
    return document, DocumentsContext(chunk_chars=size, chunk_overlap=0)


def _messages(pairs: Messages) -> list[BaseMessage]:
    kinds = {"system": SystemMessage, "user": HumanMessage}
    return [kinds[role](content) for role, content in pairs]


def _calls(
    document: dict[str, Any], settings: DocumentsContext
) -> tuple[Messages, list[tuple[type[BaseModel], Messages]]]:
    """The classifier's prompt, then every chunk's two extraction prompts (as Conductor's)."""
    state = {"document": document}
    limits = Limits(settings=settings)
    extractions = [
        (schema, prompt(state, item, limits))
        for item in chunks(state, limits)
        for schema, prompt in zip(EXTRACTORS, (entities_prompt, relations_prompt), strict=True)
    ]
    return classify_prompt(state, None, limits), extractions


async def raw_floor(raw: RawAsyncio, document: dict[str, Any], settings: DocumentsContext) -> None:
    """Raw asyncio: classify, then every extraction at once."""
    classify, extractions = _calls(document, settings)
    await raw.ask_messages("small", DocumentClassification, classify)
    await asyncio.gather(*(raw.ask_messages("small", schema, msgs) for schema, msgs in extractions))


class FanState(TypedDict, total=False):
    """The plain graph's state: the calls to make and the answers."""

    document: dict[str, Any]
    chunk_chars: int
    classification: dict[str, Any]
    answers: Annotated[list[dict[str, Any]], operator.add]


def _settings(state: FanState) -> DocumentsContext:
    return DocumentsContext(chunk_chars=state["chunk_chars"], chunk_overlap=0)


def plain_fanout_builder(plain: PlainLangGraph) -> StateGraph[Any, Any, Any, Any]:
    """Plain LangGraph: classify, one `Send` per chunk and extractor, a join; no gates."""
    model = plain.models["small"]
    schemas: tuple[type[BaseModel], ...] = (DocumentClassification, *EXTRACTORS)
    ask: dict[type[BaseModel], Any] = {
        schema: model.with_structured_output(schema, method="json_schema") for schema in schemas
    }

    async def classify(state: FanState) -> dict[str, Any]:
        pairs, _ = _calls(state["document"], _settings(state))
        answer = await ask[DocumentClassification].ainvoke(_messages(pairs))
        return {"classification": answer.model_dump()}

    def fan(state: FanState) -> list[Send]:
        _, extractions = _calls(state["document"], _settings(state))
        return [
            Send("extract", {"schema": EXTRACTORS.index(schema), "messages": msgs})
            for schema, msgs in extractions
        ]

    async def extract(task: Any) -> dict[str, Any]:
        answer = await ask[EXTRACTORS[task["schema"]]].ainvoke(_messages(task["messages"]))
        return {"answers": [answer.model_dump()]}

    def join(state: FanState) -> dict[str, Any]:
        return {}

    builder = StateGraph(FanState)
    builder.add_node("classify", classify)
    builder.add_node("extract", extract)  # type: ignore[arg-type]  # a Send payload, not FanState
    builder.add_node("join", join)
    builder.add_edge(START, "classify")
    builder.add_conditional_edges("classify", fan, ["extract"])
    builder.add_edge("extract", "join")
    builder.add_edge("join", END)
    return builder


async def documents_fanout(bench: Any, latency: float) -> None:
    """Fan-out efficiency of the documents workflow and of plain LangGraph at N chunks.

    For each N in `bench.config.fanout_sizes` (and 1, for the fixed overhead): the raw
    floor's wall, Conductor's `documents` run and plain LangGraph's Send fan-out, both on
    AsyncSqliteSaver. Efficiency = (raw wall at N + the variant's fixed overhead) ÷ its wall
    at N, the fixed overhead being its wall at one chunk minus raw's.
    """
    from graphs.documents import make_builder
    from nodes.resources import Resources

    raw, plain = bench.variants[latency][0], bench.variants[latency][1]
    sub = bench.workdir / "gw-documents"
    sub.mkdir(exist_ok=True)
    gateway = conductor_gateway(bench.sims[latency], sub)
    conductor = make_builder(Resources(gateway=gateway, store=bench.work.store))
    flat = plain_fanout_builder(plain)
    sizes = (1, *bench.config.fanout_sizes)
    try:
        # Round 0 is a warm-up at one chunk (first calls build clients and schemas).
        for rnd in range(-1, bench.config.fanout_rounds):
            walls: dict[tuple[str, int], float] = {}
            cpus: dict[tuple[str, int], float] = {}
            for n in sizes if rnd >= 0 else (1,):
                document, settings = chunked_document(n, f"doc-{rnd}-{n}")
                started, cpu = time.perf_counter(), time.process_time()
                await raw_floor(raw, document, settings)
                walls["raw asyncio", n] = time.perf_counter() - started
                cpus["raw asyncio", n] = time.process_time() - cpu
                config: Any = {"configurable": {"thread_id": document["document_id"]}}
                async with checkpointer("sqlite", bench._path("docs")) as saver:
                    graph = conductor.compile(checkpointer=saver)
                    started, cpu = time.perf_counter(), time.process_time()
                    out = await graph.ainvoke({"document": document}, config, context=settings)
                    walls[CONDUCTOR, n] = time.perf_counter() - started
                    cpus[CONDUCTOR, n] = time.process_time() - cpu
                    if rnd >= 0:
                        bench.statuses[f"{CONDUCTOR}: {out.get('status')}"] += 1
                async with checkpointer("sqlite", bench._path("docs")) as saver:
                    graph = flat.compile(checkpointer=saver)
                    started, cpu = time.perf_counter(), time.process_time()
                    await graph.ainvoke(
                        {"document": document, "chunk_chars": settings.chunk_chars}, config
                    )
                    walls[PLAIN, n] = time.perf_counter() - started
                    cpus[PLAIN, n] = time.process_time() - cpu
            for n in bench.config.fanout_sizes if rnd >= 0 else ():
                label = f"{n} chunks ({2 * n} workers), sqlite, {latency * 1000:g} ms"
                for name in (CONDUCTOR, PLAIN):
                    fixed = max(walls[name, 1] - walls["raw asyncio", 1], 0.0)
                    ideal = walls["raw asyncio", n] + fixed
                    bench.figures.add(
                        "fan-out efficiency", name, label, "%", ideal / walls[name, n] * 100
                    )
                for name in ("raw asyncio", PLAIN, CONDUCTOR):
                    bench.figures.add("fan-out wall", name, label, "ms", walls[name, n] * 1000)
                    bench.figures.add("fan-out CPU", name, label, "ms", cpus[name, n] * 1000)
    finally:
        await gateway.aclose()


CONDUCTOR = "conductor documents"
PLAIN = "plain LangGraph"
