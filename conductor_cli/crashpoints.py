"""Test-only crash points: SIGKILL this process when a named graph node starts, calls, or ends.

`CONDUCTOR_CRASH_AT=<node>:<before|during|after>[:<n>]` is read once, at the CLI's
composition root (`crash_callbacks_from_env`), and becomes a LangChain callback handler put
in the run config of every graph run the command makes. Nothing in the graph changes:

- `before`: the node's task starts (its input is checkpointed; nothing of it has run);
- `during`: the node's task starts a chat-model call (the request is about to be sent);
- `after`: the node's task ended (returned, or raised an interrupt) and its writes are not
  yet checkpointed.

`n` (default 1) picks the n-th time the point is reached in this process. The kill is a
real `SIGKILL`: no `finally`, no flush, no atexit — what a power cut or the OOM killer does.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

CRASH_ENV = "CONDUCTOR_CRASH_AT"
WHENS = ("before", "during", "after")


@dataclass(frozen=True)
class CrashPoint:
    """Where to kill the process: a node, a moment of its task, and which occurrence."""

    node: str
    when: str
    nth: int = 1

    @classmethod
    def parse(cls, text: str) -> CrashPoint:
        """Parse `<node>:<before|during|after>[:<n>]`.

        Raises:
            ValueError: On any other shape.
        """
        parts = text.strip().split(":")
        if len(parts) not in (2, 3) or not parts[0] or parts[1] not in WHENS:
            raise ValueError(
                f"{CRASH_ENV}: expected <node>:<before|during|after>[:<n>], got {text!r}"
            )
        nth = int(parts[2]) if len(parts) == 3 else 1
        if nth < 1:
            raise ValueError(f"{CRASH_ENV}: the occurrence must be at least 1, got {nth}")
        return cls(parts[0], parts[1], nth)


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class CrashHandler(BaseCallbackHandler):
    """Kills the process at its crash point (sync and inline, so the kill is immediate)."""

    run_inline = True
    raise_error = True

    def __init__(self, point: CrashPoint) -> None:
        self.point = point
        self.seen = 0
        self._node_runs: set[UUID] = set()

    def _reached(self) -> None:
        self.seen += 1
        if self.seen == self.point.nth:
            _kill()

    def _is_node_task(self, metadata: Mapping[str, Any] | None, name: Any) -> bool:
        return bool(metadata) and metadata.get("langgraph_node") == self.point.node == name  # type: ignore[union-attr]

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A node's task starts: remember it; kill when the point is `before`."""
        if not self._is_node_task(metadata, kwargs.get("name")):
            return
        if kwargs.get("parent_run_id") in self._node_runs:
            return  # the node's own inner runnable, named like it: not a second task
        self._node_runs.add(run_id)
        if self.point.when == "before":
            self._reached()

    def _ended(self, run_id: UUID) -> None:
        if run_id in self._node_runs:
            self._node_runs.discard(run_id)
            if self.point.when == "after":
                self._reached()

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A node's task returned: kill when the point is `after`."""
        self._ended(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A node's task raised (an interrupt, for a review node): as `on_chain_end`."""
        self._ended(run_id)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A chat model is called inside the node: kill when the point is `during`."""
        if self.point.when == "during" and (metadata or {}).get("langgraph_node") == (
            self.point.node
        ):
            self._reached()


def crash_callbacks_from_env(environ: Mapping[str, str] | None = None) -> list[CrashHandler]:
    """The crash handler `CONDUCTOR_CRASH_AT` asks for (none when unset): read once, here.

    Raises:
        ValueError: When the variable is set but malformed.
    """
    env = os.environ if environ is None else environ
    text = env.get(CRASH_ENV)
    return [CrashHandler(CrashPoint.parse(text))] if text else []
