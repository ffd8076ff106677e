"""API keys, thread ownership and roles on a real `langgraph dev`, through langgraph-sdk."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from dev_servers import AuthServer
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

pytestmark = pytest.mark.server

LARGE_REFUND = {
    "ticket_id": "A-1",
    "customer_id": "C002",
    "subject": "Refund",
    "body": "Order ORD-10002 headphones are bad. Refund the $120.00 please.",
    "channel": "web",
}
QUESTION = {
    "ticket_id": "A-2",
    "customer_id": "C008",
    "subject": "Where is it?",
    "body": "Where is my order ORD-10008? Tracking has not moved.",
    "channel": "chat",
}


def client_for(server: AuthServer, user: str | None, *, key: str | None = None) -> LangGraphClient:
    """A client sending `user`'s key (or `key`, or none at all)."""
    return get_client(url=server.url, api_key=key if user is None else server.keys[user])


async def status_of(call: Callable[[], Awaitable[Any]]) -> tuple[int, str]:
    """The HTTP status and body the server refused `call` with (fails if it succeeded)."""
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await call()
    response = refused.value.response
    print(f"{response.request.method} {response.request.url.path} -> {response.status_code}")
    print(f"  {response.text}")
    return response.status_code, response.text


async def drain(stream: Any) -> list[Any]:
    if inspect.isawaitable(stream):  # threads.join_stream is a coroutine of an iterator
        stream = await stream
    return [part async for part in stream]


def interrupts_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for task in state.get("tasks") or [] for i in task.get("interrupts") or []]


async def test_missing_or_wrong_key_is_401(auth_server: AuthServer) -> None:
    anonymous = client_for(auth_server, None)
    code, body = await status_of(lambda: anonymous.threads.search())
    assert code == 401 and "missing API key" in body
    forged = client_for(auth_server, None, key="cdk_not-a-real-key")
    code, body = await status_of(lambda: forged.threads.create())
    assert code == 401 and "invalid API key" in body
    code, _ = await status_of(lambda: forged.assistants.search(graph_id="support"))
    assert code == 401


async def test_studio_passthrough_header_is_not_a_key(auth_server: AuthServer) -> None:
    """`langgraph dev` lets `x-auth-scheme: langsmith` in as a Studio user: it has no role."""
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        for method, path, body in [
            ("POST", "/threads/search", {}),
            ("POST", "/threads", {}),
            ("POST", "/assistants/search", {"graph_id": "support"}),
        ]:
            response = await http.request(
                method, path, json=body, headers={"x-auth-scheme": "langsmith"}
            )
            assert response.status_code == 401, (path, response.text)


async def test_owner_roles_and_review(auth_server: AuthServer) -> None:
    alice = client_for(auth_server, "alice")
    bob = client_for(auth_server, "bob")
    rita = client_for(auth_server, "rita")

    # Alice files a refund above the auto-approve limit: it waits for a reviewer.
    thread = await alice.threads.create(metadata={"owner": "bob"})  # ownership is not hers to set
    tid = thread["thread_id"]
    assert thread["metadata"]["owner"] == "alice"
    await alice.runs.wait(tid, "support", input={"ticket": LARGE_REFUND})
    state = await alice.threads.get_state(tid)
    assert state["values"]["status"] == "escalated"
    (pending,) = interrupts_of(state)
    assert pending["value"]["reason"] == "refund_above_auto_limit"

    # Bob cannot see, read, stream, change or resume Alice's thread: it does not exist for him.
    assert tid not in {t["thread_id"] for t in await bob.threads.search(limit=100)}
    for name, call in {
        "get": lambda: bob.threads.get(tid),
        "get_state": lambda: bob.threads.get_state(tid),
        "get_history": lambda: bob.threads.get_history(tid),
        "update": lambda: bob.threads.update(tid, metadata={"note": "mine now"}),
        "runs.list": lambda: bob.runs.list(tid),
        "resume": lambda: bob.runs.wait(tid, "support", command={"resume": {"retry": True}}),
        "stream": lambda: drain(
            bob.runs.stream(tid, "support", command={"resume": {}}, stream_mode="updates")
        ),
    }.items():
        code, _ = await status_of(call)
        assert code == 404, name
    # Joining a thread's stream answers 200 and then the server's 404, as the only event.
    (joined,) = await drain(bob.threads.join_stream(tid))
    print(f"GET /threads/{tid}/stream (bob) -> {joined.event}: {joined.data}")
    assert joined.event == "error" and "404" in joined.data["message"]
    # ... and nobody writes thread state directly, Alice included (it could forge a decision).
    for who in (bob, alice):
        code, _ = await status_of(
            lambda who=who: who.threads.update_state(tid, {"status": "resolved"})
        )
        assert code == 403

    # The reviewer creates no tickets.
    code, body = await status_of(lambda: rita.threads.create())
    assert code == 403 and "reviewers cannot create tickets" in body
    code, _ = await status_of(lambda: rita.runs.wait(tid, "support", input={"ticket": QUESTION}))
    assert code == 403
    code, _ = await status_of(lambda: rita.runs.wait(None, "support", input={"ticket": QUESTION}))
    assert code == 403

    # The reviewer lists pending reviews (and only those) and sees Alice's ticket.
    pending_reviews = await rita.threads.search(status="interrupted", limit=100)
    assert tid in {t["thread_id"] for t in pending_reviews}
    code, _ = await status_of(lambda: rita.threads.search(status="idle"))
    assert code == 403
    packet = interrupts_of(await rita.threads.get_state(tid))[0]["value"]
    assert packet["proposed_refund"]["amount"] == 120.0

    # Alice may only ask again: an empty resume decides nothing, the review is still pending.
    await alice.runs.wait(tid, "support", command={"resume": {}})
    again = await alice.threads.get_state(tid)
    (asked_again,) = interrupts_of(again)
    assert again["values"]["status"] == "escalated" and not again["values"].get("review")
    assert asked_again["value"]["reason"] == "refund_above_auto_limit"

    # Alice cannot approve her own refund, nor raise her own limit through run settings.
    code, body = await status_of(
        lambda: alice.runs.wait(tid, "support", command={"resume": {"decision": "approve"}})
    )
    assert code == 403 and "submitters cannot answer a review" in body
    code, _ = await status_of(
        lambda: alice.runs.wait(
            tid, "support", command={"resume": {asked_again["id"]: {"decision": "approve"}}}
        )
    )
    assert code == 403
    code, _ = await status_of(
        lambda: alice.runs.wait(
            None, "support", input={"ticket": LARGE_REFUND}, context={"auto_approve_limit": 1e6}
        )
    )
    assert code == 403
    assert (await alice.threads.get_state(tid))["values"]["status"] == "escalated"

    # The reviewer approves; the refund is issued and Alice sees the result.
    final = await rita.runs.wait(tid, "support", command={"resume": {"decision": "approve"}})
    assert final["status"] == "resolved"
    assert final["refund"]["issued"] is True and final["refund"]["amount"] == 120.0
    assert (await alice.threads.get_state(tid))["values"]["status"] == "resolved"


async def test_submitter_runs_own_threads_and_retries(auth_server: AuthServer) -> None:
    alice = client_for(auth_server, "alice")
    bob = client_for(auth_server, "bob")
    # A run that makes its own thread gives it to its submitter.
    thread = await bob.threads.create()
    nodes: list[str] = []
    async for part in bob.runs.stream(
        thread["thread_id"], "support", input={"ticket": QUESTION}, stream_mode="updates"
    ):
        if part.event == "updates" and isinstance(part.data, dict):
            nodes.extend(part.data)
    assert nodes[-1] == "finalize_run"
    mine = {t["thread_id"] for t in await bob.threads.search(limit=100)}
    assert thread["thread_id"] in mine
    assert thread["thread_id"] not in {t["thread_id"] for t in await alice.threads.search()}
    # Owners annotate their threads, but ownership is the server's to set.
    await bob.threads.update(thread["thread_id"], metadata={"note": "checked"})
    code, _ = await status_of(
        lambda: bob.threads.update(thread["thread_id"], metadata={"owner": "alice"})
    )
    assert code == 403
