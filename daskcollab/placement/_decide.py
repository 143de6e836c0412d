"""What the placement plugin does with newly submitted tasks: a pure function of plain data.

The plugin turns scheduler tasks into :class:`TaskView` objects and the cluster into a
:class:`ClusterView`, calls :func:`decide`, and applies the returned :class:`Decisions`:

* ``restrict``: ``{key: pool}``: restrict the task to that pool's label (``None``: no pool label);
* ``fail``: ``{key: (reason, message)}``: err the task (``"unplaceable"`` or ``"budget"``);
* ``records``: the :class:`~daskcollab.placement._ledger.Decision` rows for the ledger;
* ``plan``: the task-level plan made for an ad-hoc submission (for slippage learning);
* ``order``: ``{key: rank}``: the rank of each planned task's start in the plan, so that workers
  run queued tasks in the plan's order (it becomes the last element of the task's Dask priority).

Tasks of a registered run are placed by the run's plan (:mod:`._runplan`): every task of a stage
goes to the stage's pool, or is left to Dask's balancing when the plan spreads the stage over all
pools. Other annotated tasks (hand-written ``dask.annotate(collab=...)`` submissions) are planned
per submission with the task-level policy (:func:`~daskcollab.placement._planning.plan`).
A task only a declared pool without live workers can run waits for it (restricted to that pool;
the plugin's watchdog bounds the wait by ``no-worker-timeout``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from daskcollab._errors import stage_message
from daskcollab.placement._cost_model import CostModel
from daskcollab.placement._feasibility import Verdict, feasibility, unplaceable_message
from daskcollab.placement._ledger import Decision
from daskcollab.placement._planning import Mode, Objective, Plan, Pool, TaskSpec, coarsen, plan
from daskcollab.placement._runplan import RunPlan


@dataclass(frozen=True)
class TaskView:
    """One new task as the policy sees it."""

    key: Hashable
    stage: str | None
    workflow: str | None = None
    run: str | None = None
    resources: Mapping[str, float] = field(default_factory=dict)  # user resources, no pool label
    pool: str | None = None  # pinned by the stage
    work: float = 1.0  # seconds at speed 1.0 (ad-hoc planning only)
    dependencies: tuple[Hashable, ...] = ()  # among the tasks of this call
    priority: int = 0
    mode: str | None = None
    tradeoff: float | None = None
    budget: float | None = None
    deadline: float | None = None


@dataclass(frozen=True)
class ClusterView:
    """What the policy knows about the cluster when it decides."""

    live: Mapping[str, Pool]
    declared: Mapping[str, Pool] = field(default_factory=dict)
    unpooled: Sequence[Pool] = ()
    mode: Mode = Mode.BALANCED
    tradeoff: float | None = None
    min_work: float = 0.005
    task_overhead: float = 0.0
    slippage: float = 1.0
    elastic: bool = False  # an elastic controller scales the pools: one live pool now may be one of several soon

    @property
    def restrict(self) -> bool:
        """Restrictions matter only when there is a choice (two pools, or unpooled workers beside one;
        with elastic pools, two pools live or declared: a task planned on the one live now must not
        drift to another one's workers when they join)."""
        if self.elastic and len({*self.live, *self.declared}) > 1:
            return True
        return len(self.live) > 1 or (bool(self.unpooled) and bool(self.live))

    def feasibility_pools(self) -> tuple[list[Pool], list[Pool]]:
        live = [*self.live.values(), *self.unpooled]
        declared = [p for name, p in self.declared.items() if name not in self.live]
        return live, declared


@dataclass
class Decisions:
    restrict: dict[Hashable, str | None] = field(default_factory=dict)
    fail: dict[Hashable, tuple[str, str]] = field(default_factory=dict)
    records: list[Decision] = field(default_factory=list)
    plan: Plan | None = None
    planned_keys: list[Hashable] = field(default_factory=list)
    budget_miss: str | None = None  # the ad-hoc plan misses its budget or deadline (message)
    order: dict[Hashable, int] = field(default_factory=dict)  # rank of each task's planned start


def _unplaceable(tasks: Sequence[TaskView], cluster: ClusterView, out: Decisions, now: float) -> list[TaskView]:
    """Fail what no current or declared pool can run; return the rest."""
    live, declared = cluster.feasibility_pools()
    keep = []
    for t in tasks:
        if not t.resources and t.pool is None:
            keep.append(t)  # any worker can run it (the common case)
            continue
        verdict = feasibility(t.resources, t.pool, live, declared)
        if verdict.verdict is Verdict.NEVER:
            message = unplaceable_message(t.stage, t.resources, t.pool, verdict.missing, [*live, *declared])
            out.fail[t.key] = ("unplaceable", message)
            out.records.append(Decision(now, t.workflow, t.stage, None, 1, "unplaceable", message=message,
                                        run=t.run))
        else:
            keep.append(t)
    return keep


def decide(tasks: Sequence[TaskView], cluster: ClusterView, runs: Mapping[str, RunPlan], now: float) -> Decisions:
    """Decisions for newly submitted annotated tasks (see the module docstring); ``now`` (unix
    seconds) dates the decisions."""
    out = Decisions()
    tasks = _unplaceable(tasks, cluster, out, now)
    by_run = [t for t in tasks if t.run is not None and t.run in runs and t.stage in runs[t.run].stages]
    ad_hoc = [t for t in tasks if not (t.run is not None and t.run in runs and t.stage in runs[t.run].stages)]
    if by_run:
        _decide_by_run_plan(by_run, cluster, runs, out, now)
    if ad_hoc:
        _decide_submission(ad_hoc, cluster, out, now)
    return out


def _decide_by_run_plan(tasks: Sequence[TaskView], cluster: ClusterView, runs: Mapping[str, RunPlan],
                        out: Decisions, now: float) -> None:
    counts: dict[tuple[str, str, str | None, str], list] = {}
    for t in tasks:
        run = runs[t.run]
        stage_plan = run.stages[t.stage]
        pool = t.pool if t.pool is not None else run.pool_of(t.stage)
        reason = "pinned" if t.pool is not None else ("wait" if stage_plan.waits else "run-plan")
        if pool is not None and (cluster.restrict or pool not in cluster.live):
            out.restrict[t.key] = pool
        key = (t.run, t.stage, stage_plan.pool if t.pool is None else t.pool, reason)
        c = counts.setdefault(key, [0, t.workflow, run])
        c[0] += 1
    for (run_id, stage, pool, reason), (n, workflow, run) in counts.items():
        p = run.stages[stage]
        out.records.append(Decision(now, workflow, stage, pool, n, reason, mode=run.objective.mode.value,
                                    estimated_work=p.estimate.work, estimated_makespan=run.makespan,
                                    estimated_cost=run.cost, run=run_id))


def _decide_submission(tasks: Sequence[TaskView], cluster: ClusterView, out: Decisions, now: float) -> None:
    """Plan one ad-hoc submission with the task-level policy."""
    live_pools = list(cluster.live.values())
    if not live_pools:
        return  # nothing to choose from yet (tasks wait; the watchdog looks later)
    live_names = set(cluster.live)

    def runnable_now(t: TaskView) -> bool:
        if t.pool is not None:
            return t.pool in live_names
        return not t.resources or feasibility(t.resources, None, live_pools).verdict is Verdict.NOW

    waiting = [t for t in tasks if not runnable_now(t)]
    for t in waiting:  # only a declared pool can run it: restrict to it and let it wait
        if t.pool is not None:
            out.restrict[t.key] = t.pool
    ok = {t.key for t in tasks} - {t.key for t in waiting}
    specs = [TaskSpec(t.key, t.work, tuple(d for d in t.dependencies if d in ok), dict(t.resources), t.priority,
                      t.stage, t.pool) for t in tasks if t.key in ok]
    if not specs:
        return
    objective = _objective(tasks, cluster)
    planned, bundle_of = coarsen(specs)
    slip = cluster.slippage
    if objective.deadline is not None and slip > 1.0:  # runs take longer than planned: aim earlier
        objective = dataclasses.replace(objective, deadline=float(objective.deadline) / slip)
    result = plan(planned, live_pools, objective, task_overhead=cluster.task_overhead)
    out.plan = result
    out.planned_keys = [s.key for s in specs]
    if result.meets_budget is False or result.meets_deadline is False:
        miss = _budget_miss(result, specs, objective, now)
        out.records.append(miss)
        out.budget_miss = miss.message
    by_key = {t.key: t for t in tasks}
    # workers run their queued tasks in the plan's order (earliest planned start first), not in
    # Dask's graph order: the plan's makespan assumes its own order within each pool
    # (tasks below min-work are left to Dask: their order cannot matter and holding them would cost more)
    starts = {spec.key: result.assignments[bundle_of.get(spec.key, spec.key)].start for spec in specs
              if spec.work >= cluster.min_work or spec.pool is not None}
    out.order = {key: rank for rank, key in enumerate(sorted(starts, key=starts.__getitem__))}
    counts: dict[tuple[str | None, str, str], list] = {}
    for spec in specs:
        t = by_key[spec.key]
        pool = result.pool_of(bundle_of.get(spec.key, spec.key))
        why = "pinned" if spec.pool is not None else "plan"
        if spec.pool is None and spec.work < cluster.min_work:
            # too small for its place to matter, and a restriction costs Dask more per task than it runs
            why = "below min-work"
        elif spec.pool is None and cluster.restrict:
            out.restrict[spec.key] = pool
        c = counts.setdefault((spec.stage, pool, why), [0, 0.0, t.workflow])
        c[0] += 1
        c[1] += spec.work
    for (stage, pool, why), (n, work, workflow) in counts.items():
        out.records.append(Decision(now, workflow, stage, pool, int(n), why, mode=objective.mode.value,
                                    estimated_work=work, estimated_makespan=result.makespan * slip,
                                    estimated_cost=result.cost))


def _objective(tasks: Sequence[TaskView], cluster: ClusterView) -> Objective:
    mode, budget, deadline, tradeoff = cluster.mode, None, None, cluster.tradeoff
    for t in tasks:
        if t.mode:
            mode = Mode(t.mode)
        if t.tradeoff is not None:
            tradeoff = float(t.tradeoff)
        budget = t.budget if budget is None else budget
        deadline = t.deadline if deadline is None else deadline
        if t.mode or budget is not None or deadline is not None:
            break
    return Objective(mode=mode, budget=budget, deadline=deadline, tradeoff=tradeoff)


def _budget_miss(result: Plan, specs: Sequence[TaskSpec], objective: Objective, now: float) -> Decision:
    problems = []
    if result.meets_budget is False:
        problems.append(f"budget ${objective.budget!r} but the {objective.mode.value} plan costs ${result.cost:.4f}")
    if result.meets_deadline is False:
        problems.append(f"deadline {objective.deadline!r} s but the {objective.mode.value} plan takes {result.makespan:.1f} s")
    stages = sorted({str(s.stage) for s in specs})
    message = stage_message(
        stages[0] if len(stages) == 1 else ",".join(stages),
        "budget" if result.meets_budget is False else "deadline",
        "; ".join(problems),
        "raise the budget/deadline, add workers to a pool, or choose another mode (fastest|cheapest|balanced)",
    )
    return Decision(now, None, stages[0] if stages else None, None, len(specs), "budget",
                    mode=objective.mode.value, estimated_makespan=result.makespan, estimated_cost=result.cost,
                    message=message)


def ad_hoc_work(annotation: Mapping[str, Any], prefix: str | None, stage_tasks: int, prefix_average: float | None,
                default_work: float, model: CostModel) -> float:
    """Work (seconds at speed 1.0) of an ad-hoc task: its stage's ``cost`` shared by the stage's
    ``stage_tasks`` tasks of the submission, else Dask's average for its task prefix, else
    ``default_work``, refined by what the cost model learned.

    Examples
    --------
    >>> ad_hoc_work({"stage": "fit", "cost": 8.0}, "x", 4, None, 1.0, CostModel())
    2.0
    """
    cost = annotation.get("cost")
    if cost is not None:
        work = float(cost) / stage_tasks
    else:
        work = prefix_average if prefix_average is not None and prefix_average > 0 else default_work
    return model.estimate(annotation.get("stage"), prefix, None, float(work), workflow=annotation.get("workflow"))
