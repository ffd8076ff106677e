"""A checkpoint written by the previous support schema loads, migrates, and runs to the end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from graphs.support import make_builder
from nodes.common import migrate_state
from nodes.resources import Resources
from state.migrations import support_v1_to_v2
from state.support import SCHEMA_VERSION
from store.db import Store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "support_v1_escalated.sqlite"
"""Written by the support graph at schema version 1: ticket T-V1 ($120.00 on ORD-10002)
waiting on a reviewer (`refund_above_auto_limit`)."""


async def test_a_v1_checkpoint_resumes_to_the_end(
    tmp_path: Path, resources: Resources, store: Store
) -> None:
    checkpoints = tmp_path / "checkpoints.sqlite"
    shutil.copy(FIXTURE, checkpoints)
    config = {"configurable": {"thread_id": "v1-escalated"}}
    async with AsyncSqliteSaver.from_conn_string(str(checkpoints)) as saver:
        graph = make_builder(resources).compile(checkpointer=saver, name="support")
        before = await graph.aget_state(config)
        assert before.values["schema_version"] == 1
        assert before.interrupts[0].value["reason"] == "refund_above_auto_limit"

        await graph.ainvoke(Command(resume={"decision": "approve"}), config)
        after = (await graph.aget_state(config)).values
    assert after["schema_version"] == SCHEMA_VERSION
    assert after["status"] == "resolved"
    assert after["refund"]["amount"] == 120.0 and after["refund"]["issued"] is True
    assert "120" in after["reply"]
    assert store.count_refunds() == 1


def test_migrations_run_in_order_and_refuse_the_unknown() -> None:
    v1 = {
        "schema_version": 1,
        "plan": {"classify": {"agent": "classify_intent", "tier": "small", "depends_on": []}},
        "refund": {"issued": True},
    }
    view, writes = migrate_state(v1, 2, {1: support_v1_to_v2})
    assert writes["schema_version"] == 2 and view["plan"]["classify"]["subtask"] == "classify"
    assert writes["action_results"] == {"issue_refund": {"issued": True}}
    assert migrate_state({"schema_version": 2}, 2, {}) == ({"schema_version": 2}, {})
    with pytest.raises(ValueError, match="no migration from schema_version 1"):
        migrate_state({"schema_version": 1}, 2, {})
    with pytest.raises(ValueError, match="newer than this code"):
        migrate_state({"schema_version": 3}, 2, {})
