"""Compile a workflow into annotated stages and the stage graph the scheduler plans (pure).

Why annotations around each stage's submitting calls: with dask/distributed 2026.8.0,
per-layer annotations on dask.array graphs are dropped by default graph optimisation
(dask/dask#7036, #10325), while annotations active around the submitting call
(``with dask.annotate(...): client.persist(x)``) reach the scheduler for every task of that call,
whatever the optimisation settings. So the runner calls each stage's ``run`` inside
``dask.annotate(**step.annotations(run_id))`` (in the stage's own thread: annotations are a
context variable), and every task of the stage carries them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from daskcollab.compile._annotations import stage_annotations
from daskcollab.placement import RunSpec, StageSpec
from daskcollab.workflow import Stage, Workflow


@dataclass(frozen=True)
class CompiledStage:
    """One stage ready to submit: its annotations (without a run id) and the stages it reads."""

    stage: Stage
    base_annotations: Mapping[str, Any]
    inputs: tuple[str, ...]

    def annotations(self, run_id: str | None = None) -> dict[str, Any]:
        """The ``dask.annotate`` keyword arguments for the stage's tasks in run ``run_id``."""
        out = dict(self.base_annotations)
        out["collab"] = {**out["collab"], "run": run_id}
        return out

    def spec(self) -> StageSpec:
        """The stage as the run planner sees it."""
        s = self.stage
        return StageSpec(s.name, s.kind.value, self.inputs, dict(s.resources or {}), s.pool,
                         None if s.cost is None else float(s.cost), s.priority or 0)


@dataclass(frozen=True)
class CompiledWorkflow:
    """A workflow as annotated stages in dependency order (inputs first), and its stage graph.

    Run it with :func:`daskcollab.run`: every stage is submitted as soon as its inputs are
    submitted, and stages with no path between them run at the same time.
    """

    workflow: Workflow
    steps: tuple[CompiledStage, ...]

    def run_spec(self, run_id: str) -> RunSpec:
        """The run's stage graph for the scheduler: stages, edges, resources, pins, cost hints,
        budget and deadline."""
        wf = self.workflow
        return RunSpec(run_id, wf.name, tuple(step.spec() for step in self.steps), wf.budget, wf.deadline)


def compile_workflow(workflow: Workflow) -> CompiledWorkflow:
    """Annotate every stage of ``workflow`` (pure: no cluster needed)."""
    steps = tuple(
        CompiledStage(stage, stage_annotations(workflow.name, stage), tuple(up.name for up in stage.upstream()))
        for stage in workflow.stages
    )
    return CompiledWorkflow(workflow, steps)
