"""A generic fan-out workflow built from `nodes.spec`: one job, `workers` parallel agent calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from graphs.build import build_graph
from nodes.prompts import render_sections
from nodes.resources import Resources
from nodes.router import fanned_results
from nodes.spec import Limits, Messages, ReviewSpec, State, SubtaskSpec, WorkflowSpec
from state.base import BaseState, OrchestrationContext

AGENT = "bench_worker"
"""The fan-out's agent, registered in the bench's gateway (`AGENT_SETTINGS`)."""

AGENT_SETTINGS: dict[str, Any] = {"tier": "small", "timeout_s": 10, "cacheable": False}


class Job(BaseModel):
    """The input: how many workers to fan out to."""

    job_id: str
    workers: int = Field(ge=1)


class PieceSummary(BaseModel):
    """One worker's answer (the simulator answers an unknown schema with a minimal instance)."""

    summary: str = Field(description="One line about the piece.")


class FanoutState(BaseState, total=False):
    """The base orchestration state plus the job and the count of pieces done."""

    job: dict[str, Any]
    done: int


class FanoutInput(TypedDict):
    """What a caller passes."""

    job: dict[str, Any]


class FanoutOutput(TypedDict, total=False):
    """What a caller gets back."""

    status: str
    done: int


@dataclass(kw_only=True)
class FanoutContext(OrchestrationContext):
    """No run settings of its own (the core's budgets only)."""


class NoReview(BaseModel):
    """Never asked: the bench's workflow has no trigger."""

    decision: str = "approve"


def _pieces(state: State, limits: Limits) -> list[dict[str, Any]]:
    return [{"n": n} for n in range(int(state["job"]["workers"]))]


def _prompt(state: State, item: Mapping[str, Any] | None, limits: Limits) -> Messages:
    n = (item or {}).get("n")
    return [
        ("system", "Summarise the piece in one line."),
        ("user", render_sections(document=f"piece {n}")),
    ]


def _output(state: State) -> dict[str, Any]:
    return {"done": len(fanned_results(state, "summarise"))}


FANOUT = WorkflowSpec(
    name="bench_fanout",
    input_key="job",
    input_model=Job,
    schema_version=1,
    state_schema=FanoutState,
    input_schema=FanoutInput,
    output_schema=FanoutOutput,
    context_schema=FanoutContext,
    subtasks=(
        SubtaskSpec(
            id="summarise",
            agent=AGENT,
            output=PieceSummary,
            prompt=_prompt,
            fanout=_pieces,
        ),
    ),
    review=ReviewSpec(
        packet=lambda state: {},
        resume_model=NoReview,
        check=lambda decision, state, settings: None,
        settles=lambda review, state: (),
        refusal=lambda review: False,
    ),
    output=_output,
)
"""One subtask fanned out over `job.workers` items; no gate (a trusted answer), no action."""


def make_builder(resources: Resources) -> Any:
    """The fan-out graph's builder bound to `resources`."""
    return build_graph(FANOUT, resources, agent_budgets={AGENT: 30.0})
