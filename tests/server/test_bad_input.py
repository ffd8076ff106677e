"""Bad input through the server: HTTP 422 naming what to send, never an error inside a 200."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

pytestmark = pytest.mark.server

BARE_TICKET = {
    "ticket_id": "S-9",
    "customer_id": "C008",
    "subject": "Where is it?",
    "body": "Where is my order ORD-10008?",
    "channel": "chat",
}


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (None, "input is required, got null"),
        ([1, 2, 3], "input must be a JSON object, got a JSON array"),
        ("hello", "input must be a JSON object, got a JSON string"),
        (
            BARE_TICKET,
            'input has no "ticket" or "document" key (keys found: body, channel, customer_id',
        ),
        ({}, 'input has no "ticket" or "document" key (keys found: none)'),
    ],
    ids=["null", "list", "string", "bare-ticket", "empty"],
)
async def test_bad_input_is_422_naming_what_to_send(
    dev_server: str, payload: Any, says: str
) -> None:
    client = get_client(url=dev_server)
    thread = await client.threads.create()
    with pytest.raises(httpx.HTTPStatusError) as caught:
        await client.runs.wait(thread["thread_id"], "support", input=payload)
    assert caught.value.response.status_code == 422
    detail = caught.value.response.json()["detail"]
    assert says in detail
    assert '{"ticket": {"ticket_id", "customer_id", "subject", "body", "channel"}}' in detail
    state = await client.threads.get_state(thread["thread_id"])
    assert not state["values"], "a refused run leaves the thread untouched"


async def test_bad_input_on_a_stateless_run_is_422(dev_server: str) -> None:
    client = get_client(url=dev_server)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        await client.runs.wait(None, "support", input=[1, 2, 3])
    assert "got a JSON array" in caught.value.response.json()["detail"]


async def test_wrapped_ticket_with_bad_fields_is_rejected_by_intake(dev_server: str) -> None:
    client = get_client(url=dev_server)
    result = await client.runs.wait(None, "support", input={"ticket": {"ticket_id": "S-10"}})
    assert result["status"] == "rejected"
    (error,) = result["errors"]
    assert "ticket.customer_id: Field required" in error["message"]
