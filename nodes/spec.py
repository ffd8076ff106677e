"""A workflow as data: subtasks, gates, triggers, actions, review and output (knows no workflow)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from state.base import Violation

State = Mapping[str, Any]
"""A run's state as the hooks read it (a plain mapping; see `state.base.BaseState`)."""

Messages = list[tuple[str, str]]
"""A prompt: (role, content) pairs, plain values so that a `Send` payload stays serialisable."""

TIERS = ("small", "large")
"""Model tiers from weakest to strongest; a retry goes one step up."""


@dataclass(frozen=True)
class Limits:
    """The run settings the router reads: generic budgets plus the workflow's own settings.

    Attributes:
        retry_budget: Failed attempts of one subtask before a human is asked.
        park_cap: Times a run may park on unavailable providers before a human is asked.
        settings: The workflow's run settings (its `Context`), for its hooks; plain values.
    """

    retry_budget: int = 3
    park_cap: int = 3
    settings: Any = None


@dataclass(frozen=True)
class GateInput:
    """What a gate may check an output against: the run's state with this pass's results."""

    state: State
    results: Mapping[str, Any]
    """Every passed result, this pass's included (instance id to JSON output)."""
    item: Mapping[str, Any] | None
    """The fan-out item of the instance being gated, if any."""
    settings: Any
    """The run settings (the workflow's `Context`)."""


GateFn = Callable[[Mapping[str, Any], GateInput], tuple[dict[str, Any] | None, list[Violation]]]
"""A gate: raw output and its input in; the validated output's JSON form (None when refused)
and the violations out."""


@dataclass(frozen=True)
class SubtaskSpec:
    """One kind of work: an agent (a model behind the gateway) or a tool (no model).

    Attributes:
        id: Subtask id, unique in the workflow.
        agent: Node name; for a model subtask also the agent name in the model registry.
        output: Pydantic model of the agent's structured output (None for a tool).
        prompt: Builds the messages of one attempt from (state, item, limits).
        tool: Coroutine (resources, tool_input, settings) -> output, for a tool subtask.
        tool_input: Builds the tool's input from (state, item).
        gate: The subtask's gate; None means its output is trusted data (a tool's).
        tier: A tier name, or a rule (state, limits) -> tier.
        depends_on: Subtask ids that must be done first (every instance of a fan-out).
        needed: Whether the run needs this subtask, from its state; always when None.
        stage: `work` runs before the decision point; `respond` after triggers and actions.
        fanout: Items to run one instance each for (e.g. chunks), from (state, limits).
    """

    id: str
    agent: str
    output: type[BaseModel] | None = None
    prompt: Callable[[State, Mapping[str, Any] | None, Limits], Messages] | None = None
    tool: Callable[[Any, dict[str, Any], Any], Awaitable[dict[str, Any]]] | None = None
    tool_input: Callable[[State, Mapping[str, Any] | None], dict[str, Any]] | None = None
    gate: GateFn | None = None
    tier: str | Callable[[State, Limits], str] = "small"
    depends_on: tuple[str, ...] = ()
    needed: Callable[[State], bool] | None = None
    stage: Literal["work", "respond"] = "work"
    fanout: Callable[[State, Limits], Sequence[dict[str, Any]]] | None = None

    @property
    def is_tool(self) -> bool:
        """True for a tool subtask (no model, no gate by default)."""
        return self.tool is not None


@dataclass(frozen=True)
class CrossGate:
    """A check across two subtasks; on a violation the `target` result is withdrawn and retried.

    Instances of two fanned-out subtasks are paired by item index; a single-instance `source`
    is paired with every instance of `target`.
    """

    name: str
    target: str
    source: str
    check: Callable[[Mapping[str, Any], Mapping[str, Any], GateInput], list[Violation]]


@dataclass(frozen=True)
class ActionSpec:
    """A side effect, performed once per run through an idempotent ledger.

    Attributes:
        name: Action name; also the node that performs it.
        due: The action's payload when the run should perform it, else None.
        perform: Coroutine (resources, state, payload) -> result; must be idempotent (it
            derives its idempotency key from the run's input) and record `idempotency_key`
            and `created` in its result.
    """

    name: str
    due: Callable[[State], dict[str, Any] | None]
    perform: Callable[[Any, State, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ReviewSpec:
    """How a human reviews a run: the packet shown, the answer accepted, what it settles.

    Attributes:
        packet: What the reviewer is shown, from the state.
        resume_model: The pydantic model a resume payload must validate against.
        check: Why a well-formed answer cannot be carried out (None when it can).
        settles: Subtask ids the decision covers (not run after it).
        refusal: True when the decision refuses the request (status `denied`).
    """

    packet: Callable[[State], dict[str, Any]]
    resume_model: type[BaseModel]
    check: Callable[[BaseModel, State, Any], str | None]
    settles: Callable[[Mapping[str, Any], State], Collection[str]]
    refusal: Callable[[Mapping[str, Any]], bool]


Trigger = Callable[[State, Limits], str | None]
"""A reason to ask a human before anything is done, or None."""

Migration = Callable[[State], dict[str, Any]]
"""Upgrade writes that turn a state of one schema version into the next."""


@dataclass(frozen=True)
class WorkflowSpec:
    """Everything the core needs to run one workflow; validated when its graph is built."""

    name: str
    input_key: str
    input_model: type[BaseModel]
    schema_version: int
    state_schema: type[Any]
    input_schema: type[Any]
    output_schema: type[Any]
    context_schema: type[Any]
    subtasks: tuple[SubtaskSpec, ...]
    review: ReviewSpec
    output: Callable[[State], dict[str, Any]]
    cross_gates: tuple[CrossGate, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    migrations: Mapping[int, Migration] = field(default_factory=dict)
    progress: Callable[[State], dict[str, Any]] | None = None
    """Output fields readable while the run is under way (written on each supervisor pass)."""
    describe_input: str = ""
    """What a caller must send, named in intake's error (e.g. `{"ticket": {...}}`)."""

    def limits(self, context: Any) -> Limits:
        """The router's limits from a run's settings (the context schema's defaults if none).

        The context schema extends `state.base.OrchestrationContext`, whose budgets the router
        reads; the whole context reaches the workflow's hooks as `Limits.settings`.
        """
        settings = context if isinstance(context, self.context_schema) else self.context_schema()
        return Limits(
            retry_budget=settings.retry_budget, park_cap=settings.park_cap, settings=settings
        )

    def subtask(self, sid: str) -> SubtaskSpec:
        """The spec of a subtask by id.

        Raises:
            KeyError: For an unknown id.
        """
        for subtask in self.subtasks:
            if subtask.id == sid:
                return subtask
        raise KeyError(f"workflow {self.name!r} has no subtask {sid!r}")

    def validate(self, known_agents: Collection[str] | None = None) -> None:
        """Check the spec is coherent; called when its graph is built.

        Args:
            known_agents: Agents of the model registry; model subtasks must name one.

        Raises:
            ValueError: On a duplicate or unknown subtask, an unknown agent, a `depends_on`
                cycle, a gate for an unknown subtask, or a subtask with neither model nor tool.
        """
        ids = [s.id for s in self.subtasks]
        duplicates = sorted({sid for sid in ids if ids.count(sid) > 1})
        if duplicates:
            raise ValueError(f"{self.name}: duplicate subtasks {duplicates}")
        for s in self.subtasks:
            if s.is_tool == (s.prompt is not None) or (not s.is_tool and s.output is None):
                raise ValueError(f"{self.name}.{s.id}: give either a tool, or a prompt and output")
            if not s.is_tool and known_agents is not None and s.agent not in known_agents:
                raise ValueError(
                    f"{self.name}.{s.id}: unknown agent {s.agent!r}; "
                    f"the model registry knows {sorted(known_agents)}"
                )
            unknown = sorted(set(s.depends_on) - set(ids))
            if unknown:
                raise ValueError(f"{self.name}.{s.id}: depends on unknown subtasks {unknown}")
        for gate in self.cross_gates:
            for sid in (gate.target, gate.source):
                if sid not in ids:
                    raise ValueError(
                        f"{self.name}: gate {gate.name!r} names unknown subtask {sid!r}"
                    )
        _check_acyclic(self.name, {s.id: s.depends_on for s in self.subtasks})
        names = [a.name for a in self.actions] + [s.agent for s in self.subtasks]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: node names must be unique, got {sorted(names)}")


def _check_acyclic(workflow: str, edges: Mapping[str, Sequence[str]]) -> None:
    """Raise ValueError when `depends_on` has a cycle (depth-first, three colours)."""
    colour: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        colour[node] = 1
        for dep in edges.get(node, ()):
            if colour.get(dep) == 1:
                cycle = " -> ".join([*path[path.index(dep) :], dep])
                raise ValueError(f"{workflow}: depends_on cycle {cycle}")
            if colour.get(dep) is None:
                visit(dep, [*path, dep])
        colour[node] = 2

    for node in edges:
        if colour.get(node) is None:
            visit(node, [node])
