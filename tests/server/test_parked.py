"""A parked run on the server: `{}` and `{"retry": true}` resume it, and it finishes later."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import start_dev_server
from langgraph_sdk import get_client

pytestmark = [pytest.mark.server, pytest.mark.slow]

QUESTION = {
    "ticket_id": "S-P1",
    "customer_id": "C008",
    "subject": "Where is it?",
    "body": "Where is my order ORD-10008? Tracking has not moved.",
    "channel": "chat",
}


async def test_parked_run_resumes_with_empty_or_retry_payload(tmp_path: Path) -> None:
    with start_dev_server(tmp_path, env={"CONDUCTOR_FAULTS": "down=all"}) as url:
        client = get_client(url=url)
        thread = await client.threads.create()
        tid = thread["thread_id"]
        first = await client.runs.wait(tid, "support", input={"ticket": QUESTION})
        assert first["status"] == "parked"
        state = await client.threads.get_state(tid)
        assert state["next"] == ["park_run"]
        parks = state["values"].get("parks") or 0
        for payload in ({}, {"retry": True}):
            again = await client.runs.wait(tid, "support", command={"resume": payload})
            assert again["status"] == "parked", "still down: parked again, state intact"
            state = await client.threads.get_state(tid)
            assert state["values"]["parks"] == parks + 1, f"{payload} reached the park node"
            parks += 1
    # Restarted without faults: the thread survived the graceful stop; `{}` finishes it.
    with start_dev_server(tmp_path) as url:
        client = get_client(url=url)
        final = await client.runs.wait(tid, "support", command={"resume": {}})
        assert final["status"] == "resolved"
        assert final["reply"]
