"""Studio's input form: every served graph exposes non-null input, output and context schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = sorted(json.loads((ROOT / "langgraph.json").read_text())["graphs"])


@pytest.mark.parametrize("graph_id", GRAPHS)
async def test_every_graph_has_its_schemas_through_the_server(
    dev_server: str, graph_id: str
) -> None:
    client = get_client(url=dev_server)
    assistants = await client.assistants.search(graph_id=graph_id)
    assert assistants, f"the server serves {graph_id}"
    schemas: dict[str, Any] = await client.assistants.get_schemas(assistants[0]["assistant_id"])
    for key in ("input_schema", "output_schema", "context_schema", "state_schema"):
        assert schemas.get(key), f"{graph_id}: {key} is {schemas.get(key)!r}"
        assert schemas[key].get("properties"), f"{graph_id}: {key} has no properties"
