"""A dev server killed with SIGKILL: its checkpoints survive, `recover` reattaches the threads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dev_servers import kill_dev_server, run_dev_server
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError

from conductor_cli.server_recover import recover_threads
from store.db import Store

pytestmark = [pytest.mark.server, pytest.mark.slow]

CONDUCTOR = str(Path(sys.executable).parent / "conductor")

LARGE_REFUND = {
    "ticket_id": "K-1",
    "customer_id": "C002",
    "subject": "Refund",
    "body": "Order ORD-10002 headphones are bad. Refund the $120.00 please.",
    "channel": "web",
}


def interrupts_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for task in state.get("tasks") or [] for i in task.get("interrupts") or []]


async def test_escalation_survives_a_kill_and_resumes_once(tmp_path: Path) -> None:
    checkpoints = tmp_path / "server-checkpoints.db"
    with run_dev_server(tmp_path) as first:
        client = get_client(url=first.url)
        thread = await client.threads.create()
        tid = thread["thread_id"]
        await client.runs.wait(tid, "support", input={"ticket": LARGE_REFUND})
        before = await client.threads.get_state(tid)
        assert before["values"]["status"] == "escalated"
        kill_dev_server(first.proc)
    assert checkpoints.is_file()

    with run_dev_server(tmp_path, seed=False) as second:
        client = get_client(url=second.url)
        with pytest.raises(NotFoundError):
            await client.threads.get(tid)  # the in-memory runtime forgot the thread

        report = await recover_threads(second.url, checkpoints)
        assert report.recovered == [tid]
        again = subprocess.run(  # the CLI's `recover`: nothing left to do
            [CONDUCTOR, "--log-file", "-", "recover", "--server", second.url,
             "--checkpoints", str(checkpoints)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert "recovered 0 thread(s), 1 already known" in again.stdout

        state = await client.threads.get_state(tid)
        assert state["values"] == before["values"]
        assert state["next"] == ["escalate_to_human"]
        (pending,) = interrupts_of(state)
        assert pending["value"]["reason"] == "refund_above_auto_limit"
        assert pending["value"]["proposed_refund"]["amount"] == 120.0

        final = await client.runs.wait(tid, "support", command={"resume": {"decision": "approve"}})
        assert final["status"] == "resolved"
        assert final["refund"]["issued"] is True and final["refund"]["amount"] == 120.0

    with Store(tmp_path / "conductor.db") as store:
        refunds = store.refunds_for_order("ORD-10002")
        assert len(refunds) == 1 and refunds[0]["amount"] == 120.0
        assert store.count_refunds() == 1
