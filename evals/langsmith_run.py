"""The LangSmith side of every evaluation: datasets, the offline client, and the `aevaluate` call.

Offline (the default) is truly offline: a client pointed at a loopback port that is never
contacted, `upload_runs=False`, and no tracing of the pipeline inside the target. With
`upload`, the dataset is created or updated on LangSmith and the experiment recorded there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from langsmith import Client, aevaluate, tracing_context
from langsmith.schemas import Example

DATASET_ID = uuid.UUID("6f1b1d0e-3c55-4c1e-9a57-5c0a1f0e2b11")
"""Namespace of the example ids (LangSmith examples need one; the same id on every upload)."""
DATASET_NAME_PREFIX = "conductor-"
"""LangSmith dataset names: `conductor-support`, `conductor-adversarial`, `conductor-documents`."""
OFFLINE_API_URL = "http://127.0.0.1:9"
"""The offline client's endpoint: loopback discard port, never contacted."""


def langsmith_dataset_name(name: str) -> str:
    """The dataset's name on LangSmith."""
    return f"{DATASET_NAME_PREFIX}{name}"


def upload_dataset(client: Client, name: str, examples: Sequence[Example]) -> str:
    """Create the dataset on LangSmith, or update it (stable ids: a rerun adds no duplicate).

    Missing examples are created, known ones updated.

    Args:
        client: The LangSmith client.
        name: The local dataset's name.
        examples: Its examples.

    Returns:
        The LangSmith dataset's name.
    """
    remote = langsmith_dataset_name(name)
    if client.has_dataset(dataset_name=remote):
        dataset = client.read_dataset(dataset_name=remote)
    else:
        dataset = client.create_dataset(
            remote, description=f"Conductor `{name}` dataset with ground truth (evals/datasets)."
        )
    known = {str(e.id) for e in client.list_examples(dataset_id=dataset.id)}
    fresh = [e for e in examples if str(e.id) not in known]
    stale = [e for e in examples if str(e.id) in known]
    if fresh:
        client.create_examples(
            dataset_id=dataset.id,
            examples=[{"id": e.id, "inputs": e.inputs, "outputs": e.outputs} for e in fresh],
        )
    if stale:
        client.update_examples(
            dataset_id=dataset.id,
            updates=[{"id": e.id, "inputs": e.inputs, "outputs": e.outputs} for e in stale],
        )
    return remote


def offline_client() -> Client:
    """A LangSmith client that cannot reach anyone: loopback URL, no tracing threads."""
    return Client(api_url=OFFLINE_API_URL, api_key="offline", auto_batch_tracing=False)


def untraced_unless(upload: bool) -> AbstractContextManager[Any]:
    """Offline, the pipeline inside the target is not traced at all.

    `aevaluate` keeps its own run "local"; LangChain's tracer would still post the graph's.
    """
    return nullcontext() if upload else tracing_context(enabled=False)


async def evaluate_examples(
    target: Callable[[Mapping[str, Any]], Any],
    examples: Sequence[Example],
    *,
    dataset: str,
    evaluators: Sequence[Any],
    metadata: dict[str, Any],
    prefix: str,
    concurrency: int,
    client: Client | None,
) -> Any:
    """`aevaluate` the target on the examples: on LangSmith when `client` is given, else offline.

    Returns:
        aevaluate's results (an async iterator of rows, and the experiment's name).
    """
    if client is not None:
        data = upload_dataset(client, dataset, examples)
        with tracing_context(enabled=True, client=client):
            return await aevaluate(
                target,
                data=data,
                evaluators=list(evaluators),
                metadata=metadata,
                experiment_prefix=prefix,
                max_concurrency=concurrency,
                client=client,
            )
    with tracing_context(enabled=False):
        return await aevaluate(
            target,
            data=list(examples),
            evaluators=list(evaluators),
            metadata=metadata,
            experiment_prefix=prefix,
            max_concurrency=concurrency,
            client=offline_client(),
            upload_runs=False,
        )
