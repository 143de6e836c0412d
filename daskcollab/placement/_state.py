"""Everything the placement plugin knows, as plain data with the questions the plugin asks of it (pure).

The plugin (:mod:`._plugin`) reads scheduler events into calls on one :class:`PlacementState` and
applies what comes back; this object ties the concept modules together: the settings
(:mod:`._settings`), the pools (:mod:`._cluster`), the money (:mod:`._ledger`), the runs
(:mod:`._runs`), what the cost model learns (:mod:`._learning`) and the tasks it placed. It needs
no scheduler: tests drive it with plain data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daskcollab._errors import BudgetError, UnplaceableError
from daskcollab._types import RunStatus
from daskcollab.placement._cluster import PoolState
from daskcollab.placement._decide import ClusterView, Decisions, TaskView, decide
from daskcollab.placement._demand import TaskNeed, cluster_demand
from daskcollab.placement._learning import Learner
from daskcollab.placement._ledger import Decision, Ledger
from daskcollab.placement._runplan import RunSpec
from daskcollab.placement._runs import Planner, Runs
from daskcollab.placement._settings import BudgetAction, Settings
from daskcollab.placement._snapshot import placement_snapshot
from daskcollab.placement._spot import Progress, SpotMove, SpotPolicy, spot_moves
from daskcollab.placement._watchdog import Waiting, WatchdogVerdicts, unrunnable_verdicts


@dataclass
class Placement:
    """What :meth:`PlacementState.place` decided for a submission: tasks to err, the decisions to
    apply (None: nothing to decide yet), whether they were refused for their budget, what to log."""

    errors: dict[Hashable, Exception]
    decisions: Decisions | None = None
    rejected: bool = False
    warnings: list[str] = field(default_factory=list)
    drop_pool_labels: bool = False  # a re-placement with one pool left: pool labels placed earlier go


@dataclass
class PlacementState:
    """The placement plugin's state (see the module docstring).

    Examples
    --------
    >>> from daskcollab.placement import CostModel
    >>> state = PlacementState(Settings(), Learner(CostModel()))
    >>> state.worker_joined("tcp://a:1", {"daskcollab": {"pool": "spot", "price_per_hour": 0.1}}, {}, "w", now=0.0)
    'spot'
    >>> sorted(state.cluster_view().live), state.worker_left("tcp://a:1", now=9.0)
    (['spot'], ('spot', "pool 'spot' lost its last worker"))
    """

    settings: Settings
    learner: Learner
    ledger: Ledger = field(default_factory=Ledger)
    pools: PoolState = field(default_factory=PoolState)
    runs: Runs = field(init=False)
    submitted: dict[Hashable, Mapping[str, Any]] = field(default_factory=dict)  # key -> annotation of its latest submission
    placed: dict[Hashable, str | None] = field(default_factory=dict)  # chosen pool of pending/finished annotated tasks
    failing: set[Hashable] = field(default_factory=set)  # being erred (next loop turn)
    holding: set[Hashable] = field(default_factory=set)  # held for one loop turn, to be released in plan order
    overhead: dict[str, float] = field(default_factory=lambda: {
        "hook_seconds": 0.0, "update_graph_seconds": 0.0, "tasks_planned": 0, "tasks_accounted": 0})
    #: (run, stage) -> [tasks submitted, tasks finished, first compute start]: spot stages' progress
    progress: dict[tuple[str, str], list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.runs = Runs(self.ledger)

    def cluster_view(self) -> ClusterView:
        model, overhead = self.learner.model, self.settings.task_overhead
        return self.pools.view(self.settings, model.task_overhead if overhead is None else overhead, model.slippage)

    def planner(self, view: ClusterView | None = None) -> Planner:
        view = view or self.cluster_view()
        pools, declared = self.pools.planning(view)
        return Planner(pools, declared, self.learner.model, self.settings, self.pools.fleet(view))

    def worker_joined(self, address: str, extra: Mapping[str, Any] | None, resources: Mapping[str, float] | None,
                      name: str, now: float) -> str | None:
        """Track a worker and bill it from now (or from its request); returns its pool if the worker
        made the pool appear (it had no live worker before), else None."""
        before = set(self.pools.live())
        info = self.pools.worker_joined(address, extra, resources)
        if not info.pool:
            return None
        self.ledger.worker_up(address, info.pool, info.price_per_hour, now=now, name=name)
        return info.pool if info.pool not in before else None

    def worker_left(self, address: str, now: float) -> tuple[str | None, str | None]:
        """Stop billing a worker. Returns ``(pool, why)``: the pool when it lost its last worker (its
        pending tasks are placed again), and why the runs are re-planned (None: they are not); a
        spot pool's lost worker re-plans them too (a preemption)."""
        info = self.pools.worker_left(address)
        self.ledger.worker_down(address, now=now)
        if info is None or not info.pool:
            return None, None
        if info.pool not in self.pools.live():
            return info.pool, f"pool {info.pool!r} lost its last worker"
        if self.pools.spot(info.pool, self.settings):
            return None, f"spot pool {info.pool!r} lost a worker"
        return None, None

    def start_run(self, spec: RunSpec, now: float) -> dict[str, Any]:
        """Register a run and plan it (see :meth:`~._runs.Runs.start`)."""
        view = self.cluster_view()
        return self.runs.start(spec, self.planner(view), view.feasibility_pools(), now)

    def stage_event(self, run_id: str, stage: str, state: str, now: float) -> list[str]:
        """A stage changed state; a finished stage re-plans the rest of its run. Returns warnings."""
        if not self.runs.stage_event(run_id, stage, state, now):
            return []
        warning = self.runs.replan(run_id, f"stage {stage!r} finished", self.planner(), now)
        return [warning] if warning else []

    def finish_run(self, run_id: str, status: RunStatus, now: float) -> dict[str, Any] | None:
        """End a run; a run done teaches the cost model its stages. Returns the run's snapshot
        (None: a run never started here)."""
        if (ended := self.runs.finish(run_id, status, now)) is None:
            return None
        record, plan = ended
        for key in [k for k in self.progress if k[0] == run_id]:
            del self.progress[key]
        if status == RunStatus.DONE:
            self.learner.run_done(record, plan, {name: p.speed for name, p in self.pools.live().items()})
        return self.ledger.run_snapshot(record, now, self.spot_pools())

    def spot_pools(self) -> frozenset[str]:
        """Names of the spot pools (by their definitions)."""
        names = {*self.settings.declared, *self.pools.elastic, *self.pools.live()}
        return frozenset(n for n in names if self.pools.spot(n, self.settings))

    def run_snapshot(self, run_id: str, now: float) -> dict[str, Any]:
        """One run's ledger as plain data (``{}``: unknown run)."""
        record = self.ledger.runs.get(run_id)
        return {} if record is None else self.ledger.run_snapshot(record, now, self.spot_pools())

    def watch(self, waiting: Iterable[Waiting]) -> WatchdogVerdicts:
        """The watchdog's verdict on annotated tasks waiting for a worker (:mod:`._watchdog`)."""
        return unrunnable_verdicts(waiting, self.cluster_view(), self.pools.elastic, self.settings.no_worker_timeout)

    def replan_runs(self, why: str, now: float) -> list[str]:
        """Re-plan every active run (a pool appeared or went, the elastic pools changed); warnings."""
        return self.runs.replan_all(why, self.planner(), now)

    def place(self, views: list[TaskView], now: float, *, replace: bool) -> Placement:
        """Decide where new (or, with ``replace``, already placed) tasks go and book it: tasks of a
        failed run err, the rest go to :func:`~._decide.decide`; an ad-hoc plan that misses its budget
        with ``on-budget-miss: fail`` errs its tasks (``rejected``) unless it is a re-placement."""
        errors: dict[Hashable, Exception] = {v.key: e for v in views if (e := self.runs.error_of(v.run)) is not None}
        views = [v for v in views if v.key not in errors]
        view = self.cluster_view()
        if not view.live and not view.unpooled and not view.declared:
            return Placement(errors)  # no workers and nothing declared: nothing to decide yet (the watchdog looks later)
        if view.live:  # runs that started before a pool worker joined
            self.runs.plan_missing((v.run for v in views if v.run is not None), self.planner(view))
        out = decide(views, view, self.runs.plans, now)
        errors.update((k, UnplaceableError(m)) for k, (_, m) in out.fail.items())
        for record in out.records:
            self.ledger.record_decision(dataclasses.replace(record, reason="replan") if replace and record.reason
                                        in ("plan", "run-plan") else record)
        if out.budget_miss is not None and self.settings.on_budget_miss is BudgetAction.FAIL and not replace:
            errors.update((k, BudgetError(out.budget_miss)) for k in out.planned_keys)
            return Placement(errors, out, rejected=True)
        if out.plan is not None:
            self.learner.plan_made(out.planned_keys, out.plan.makespan, fresh=not replace, now=now)
            self.overhead["tasks_planned"] += len(out.planned_keys)
            self.ledger.ad_hoc_objective(out.plan.objective.budget, out.plan.objective.deadline)
        return Placement(errors, out, warnings=[out.budget_miss] if out.budget_miss is not None else [],
                         drop_pool_labels=replace and not view.restrict)

    def tasks_submitted(self, annotations: Mapping[Hashable, Mapping[str, Any]]) -> None:
        """Count the new annotated tasks of active runs per stage (their progress, for spot stages)."""
        active = self.runs.specs
        for ann in annotations.values():
            run = ann.get("run") if isinstance(ann, Mapping) else None
            if run in active:
                entry = self.progress.setdefault((run, ann.get("stage")), [0, 0, None])
                entry[0] += 1

    def spot_check(self, now: float) -> list[tuple[str, list[SpotMove], str | None]]:
        """Move the stages of runs with a deadline whose spot progress fell behind to on-demand pools
        (:mod:`._spot`): per run that moved, its moves and a warning when it could not be re-planned."""
        planner = self.planner()
        if not any(p.spot for p in planner.pools):
            return []
        out = []
        for run_id, plan in list(self.runs.plans.items()):
            spec, record = self.runs.specs.get(run_id), self.ledger.runs.get(run_id)
            if spec is None or record is None or record.finished is not None or plan.objective.deadline is None:
                continue
            progress = {stage: Progress(int(t), int(d), b) for (run, stage), (t, d, b) in self.progress.items()
                        if run == run_id}
            policy = SpotPolicy(spec.spot_policy or self.settings.spot_policy)
            moves = spot_moves(plan, spec, {n: s.state for n, s in record.stages.items()}, progress, planner.pools,
                               record.started, now, policy, fleet=planner.fleet)
            if not moves:
                continue
            why = "off spot: " + ", ".join(f"{m.stage} ({m.reason})" for m in moves)
            warning = self.runs.move_off_spot(run_id, frozenset(m.stage for m in moves), why, planner, now)
            for m in moves:
                self.ledger.record_decision(Decision(now, spec.workflow, m.stage, None, 0, "off-spot",
                                                     message=m.reason, run=run_id))
            out.append((run_id, moves, warning))
        return out

    def task_finished(self, key: Hashable, ok: bool, worker: str | None, span: tuple[float, float | None, float | None],
                      annotation: Mapping[str, Any], *, prefix: str | None, dependencies: Callable[[], Iterable[Hashable]],
                      now: float) -> None:
        """A task left ``processing`` (``ok``: into memory): money per pool, stage and run; what it teaches.
        ``span``: its compute seconds, start and stop; ``prefix`` None when the scheduler forgot it."""
        info = self.pools.workers.get(worker) if worker is not None else None
        pool = info.pool if info is not None and info.pool else None
        duration, began, stopped = span
        stage = annotation.get("stage")
        self.ledger.record_task(key, stage=stage, pool=pool, duration=duration, worker=worker, run=annotation.get("run"),
                                price_per_hour=info.price_per_hour if info is not None else 0.0, start=began,
                                stop=stopped)
        self.overhead["tasks_accounted"] += 1
        entry = self.progress.get((annotation.get("run"), stage)) if self.progress else None
        if entry is not None and ok:
            entry[1] += 1
            entry[2] = began if entry[2] is None or (began is not None and began < entry[2]) else entry[2]
        self.learner.task_done(key, ok, annotated=bool(annotation) and prefix is not None, stage=stage, pool=pool,
                               prefix=prefix, workflow=annotation.get("workflow"),
                               speed=info.speed if info is not None else 1.0, duration=duration, worker=worker,
                               began=began, stopped=stopped, now=now, dependencies=dependencies)

    def demand(self, tasks: Iterable[TaskNeed], busy: Mapping[str, int], now: float) -> dict[str, dict[str, Any]]:
        """Per pool, what it needs now and soon (plain data of :class:`~daskcollab.placement.PoolDemand`)."""
        planning, _ = self.pools.planning(self.cluster_view())
        demands = cluster_demand(tasks, busy, self.runs.plans, self.ledger.runs, self.runs.specs, planning,
                                 [*self.pools.live(), *self.pools.elastic], now)
        return {name: d.to_dict() for name, d in demands.items()}

    def snapshot(self, *, waiting_by_pool: Mapping[str, int], demand: Mapping[str, Any], cost_model_path: str,
                 now: float) -> dict[str, Any]:
        return placement_snapshot(self.ledger, self.settings, self.pools, self.learner.model, placed=self.placed,
                                  waiting_by_pool=waiting_by_pool, demand=demand, overhead=self.overhead,
                                  cost_model_path=cost_model_path, now=now, spot=self.spot_pools())
