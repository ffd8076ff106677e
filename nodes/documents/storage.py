"""The documents workflow's one side effect: storing the accepted extraction, once."""

from __future__ import annotations

import asyncio
from typing import Any

from nodes.documents.rules import content_hash
from nodes.resources import Resources
from nodes.spec import State
from telemetry.logging import get_logger

log = get_logger("conductor.actions")


async def store_extraction(
    resources: Resources, state: State, due: dict[str, Any]
) -> dict[str, Any]:
    """Store the extraction under `extraction:<document id>:<content hash>`.

    Running again (retry, resume, crash) or sending the same document again stores nothing
    new: the store keeps the first record under the key and reports `created: False`.
    """
    document = state["document"]
    digest = content_hash(document["text"])
    key = f"extraction:{document['document_id']}:{digest}"
    record, created = await asyncio.to_thread(
        resources.store.store_extraction, key, document["document_id"], digest, due
    )
    log.info("extraction_stored", idempotency_key=key, created=created)
    stored = {"idempotency_key": key, "created": created, "stored_at": record["stored_at"]}
    return {
        "action_results": {"store_extraction": stored},
        "actions": [
            {"kind": "extraction", "idempotency_key": key, "created": created, "detail": stored}
        ],
    }
