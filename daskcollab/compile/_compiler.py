"""Compile a workflow into annotated Dask submissions, and run them.

Why one annotated submission per stage: with dask/distributed 2026.8.0, per-layer annotations on
dask.array graphs are dropped by default graph optimisation (dask/dask#7036, #10325), while
annotations active around the submitting call (``with dask.annotate(...): client.persist(x)``)
reach the scheduler for every task of that call, whatever the optimisation settings. So each
stage builds ordinary Dask collections (dask.array, delayed, xgboost.dask's own tasks) and submits
them inside ``dask.annotate(**step.annotations)``; every task of the stage carries them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dask
from distributed import Client

from daskcollab._errors import UnplaceableError
from daskcollab.compile._annotations import stage_annotations
from daskcollab.models._memory import check_worker_memory
from daskcollab.workflow._context import StageContext
from daskcollab.workflow._stage import Stage
from daskcollab.workflow._workflow import Workflow


@dataclass(frozen=True)
class CompiledStage:
    """One stage ready to submit: its annotations and the names of the stages it reads."""

    stage: Stage
    annotations: Mapping[str, Any]
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class CompiledWorkflow:
    """A workflow as an ordered list of annotated stage submissions (inputs first).

    ``run(client)`` submits each stage's Dask collections inside
    ``dask.annotate(**step.annotations)`` and returns the outputs of every stage by name.
    """

    workflow: Workflow
    steps: tuple[CompiledStage, ...]

    def run(
        self,
        client: Client,
        *,
        show_progress: bool = False,
        on_stage_done: Callable[[CompiledStage, Any, float], None] | None = None,
    ) -> dict[str, Any]:
        check_worker_memory(client)
        outputs: dict[str, Any] = {}
        for i, step in enumerate(self.steps, 1):
            check_placeable(client, step)
            stage = step.stage
            if show_progress:
                print(f"[{i}/{len(self.steps)}] {stage.name} ({stage.kind.value}) ...", flush=True)
            ctx = StageContext(client, self.workflow.name, stage.name, show_progress)
            start = time.perf_counter()
            with dask.annotate(**step.annotations), client.as_current():
                outputs[stage.name] = stage.run(ctx, *(outputs[name] for name in step.inputs))
            elapsed = time.perf_counter() - start
            if show_progress:
                print(f"[{i}/{len(self.steps)}] {stage.name} done in {elapsed:.1f} s", flush=True)
            if on_stage_done is not None:
                on_stage_done(step, outputs[stage.name], elapsed)
        return outputs


def compile_workflow(workflow: Workflow) -> CompiledWorkflow:
    """Annotate every stage of ``workflow`` (pure: no cluster needed)."""
    steps = tuple(
        CompiledStage(
            stage,
            stage_annotations(workflow.name, stage, budget=workflow.budget, deadline=workflow.deadline),
            tuple(up.name for up in stage.upstream()),
        )
        for stage in workflow.stages
    )
    return CompiledWorkflow(workflow, steps)


def check_placeable(client: Client, step: CompiledStage) -> None:
    """Fail before submitting when no worker has every resource the stage requests.

    A Dask task whose resources no worker offers waits forever; this turns that into an
    immediate :class:`UnplaceableError` naming the stage, the resource and what workers offer.
    """
    needed = step.annotations.get("resources") or {}
    if not needed:
        return
    workers = client.scheduler_info(n_workers=-1)["workers"]
    offered = [dict(w.get("resources") or {}) for w in workers.values()]
    if any(all(res.get(k, 0) >= v for k, v in needed.items()) for res in offered):
        return
    missing = sorted({k for k, v in needed.items() if not any(res.get(k, 0) >= v for res in offered)})
    available = sorted({f"{k}={v:g}" for res in offered for k, v in res.items()}) or ["none"]
    raise UnplaceableError(
        f"stage {step.stage.name!r}, field 'resources': no worker offers {missing!r} "
        f"(requested {dict(needed)!r}; {len(offered)} workers offer: {', '.join(available)}). "
        "Fix: start workers with these resources (e.g. `dask worker --resources GPU=1`, or a "
        "pool of daskcollab.placement), or remove the request from the stage"
    )
