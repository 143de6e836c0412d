"""Plan a workflow before running it: one policy task per stage, priced on worker pools."""

from __future__ import annotations

from collections.abc import Sequence

import dask.config

from daskcollab.placement import Pool, TaskSpec, plan_report
from daskcollab.workflow._workflow import Workflow


def workflow_tasks(workflow: Workflow, *, default_work: float | None = None) -> list[TaskSpec]:
    """The workflow as a DAG of stages for the placement policy.

    Each stage is one task whose work is its ``cost`` hint (seconds at speed 1.0), or
    ``default_work`` (config ``collab.placement.default-work``) when it has none; resources and
    pool come from the stage.
    """
    fallback = float(dask.config.get("collab.placement.default-work", 1.0, override_with=default_work))
    return [
        TaskSpec(
            key=stage.name,
            work=float(stage.cost) if stage.cost is not None else fallback,
            dependencies=tuple(up.name for up in stage.upstream()),
            resources=dict(stage.resources or {}),
            priority=stage.priority or 0,
            stage=stage.name,
            pool=stage.pool,
        )
        for stage in workflow.stages
    ]


def workflow_plan_report(workflow: Workflow, pools: Sequence[Pool]) -> str:
    """What each placement mode would do with ``workflow`` on ``pools``, and whether the
    workflow's budget and deadline hold (see :func:`daskcollab.placement.plan_report`)."""
    tasks = workflow_tasks(workflow)
    unhinted = [t.key for t in tasks if workflow[t.key].cost is None]
    lines = [
        f"workflow {workflow.name!r}: {len(tasks)} stages on pools "
        + ", ".join(f"{p.name} ({p.workers} x {p.price_per_hour:g} $/h, speed {p.speed:g}"
                    + (f", {dict(p.resources)}" if p.resources else "") + ")" for p in pools),
        plan_report(tasks, pools, budget=workflow.budget, deadline=workflow.deadline),
    ]
    if unhinted:
        lines.append(f"stages without a cost hint (planned at the default work): {', '.join(unhinted)}")
    return "\n".join(lines)
