"""The placement ``SchedulerPlugin``: thin glue between scheduler state and the pure policy.

What it does, hook by hook:

``update_graph``
    For new ``released`` tasks that carry a ``collab`` annotation and no worker/host
    restrictions (xgboost.dask pins its own work: left alone), build :class:`TaskSpec` objects
    (work from the annotation, refined by the learned :class:`CostModel`), check that some
    current or declared pool can ever run each task (if not: the task errs within a second
    with :class:`UnplaceableError`), call :func:`plan` and apply the result as a *pool resource
    label* restriction (never a worker address, never ``allow_other_workers``).
``add_worker`` / ``remove_worker``
    Track pool membership and provisioned seconds; when a pool loses its last worker (or a new
    pool appears), re-plan the not-yet-running tasks that were placed on it.
``transition``
    ``processing -> memory|erred``: account busy seconds and money per pool and stage; feed the
    observed duration to the cost model (saved to ``collab.placement.cost-model-path``).
watchdog (periodic, 0.5 s)
    No ``collab`` task stays in ``no-worker`` forever: planner-placed ones are re-planned,
    pinned ones err after ``collab.placement.no-worker-timeout`` with a message naming the
    stage, the resources and the pools.

Known limit: tasks with restrictions bypass Dask's root-task queuing. When only one pool is
live no restriction is added (nothing to choose), which keeps queuing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import pathlib
import time
from collections.abc import Hashable, Iterable, Mapping
from enum import Enum
from time import perf_counter
from typing import Any

import dask.config
from distributed.diagnostics.plugin import SchedulerPlugin
from distributed.protocol import pickle
from dask.utils import parse_timedelta

from daskcollab._contract import ANNOTATION_KEY
from daskcollab._errors import BudgetError, DaskCollabError, UnplaceableError, stage_message
from daskcollab.placement._accounting import Decision, Ledger
from daskcollab.placement._planning import DEFAULT_TRADEOFF, CostModel, Mode, Objective, Pool, TaskSpec, coarsen, plan
from daskcollab.placement._pools import (
    WorkerInfo,
    pool_from_mapping,
    pool_of_label,
    pool_resource,
    pools_from_workers,
    split_resources,
    worker_info,
)

logger = logging.getLogger(__name__)

PLUGIN_NAME = "daskcollab-placement"
#: Resource no worker has; holds a task about to be erred in ``no-worker`` for one loop turn.
HOLD_RESOURCE = "daskcollab-hold"
DEFAULT_COST_MODEL_PATH = pathlib.Path("~/.cache/daskcollab/cost-model.json")
#: Work (seconds at speed 1.0) below which a task is left to Dask (see ``min_work``).
DEFAULT_MIN_WORK = 0.005


class BudgetAction(Enum):
    """What the plugin does when the best plan misses the workflow's budget or deadline."""

    WARN = "warn"
    FAIL = "fail"


def _config(key: str, override: Any, default: Any) -> Any:
    value = dask.config.get(f"collab.placement.{key}", default=default, override_with=override)
    return default if value is None else value


def describe_pools(pools: Iterable[Pool]) -> str:
    """``name (resources {...}, N workers)`` for each pool; used in error messages."""
    parts = [f"{p.name} (resources {dict(p.resources)!r}, {p.workers} workers)" for p in sorted(pools, key=lambda p: p.name)]
    return ", ".join(parts) if parts else "none"


def missing_resources(resources: Mapping[str, float], pool: str | None, pools: Iterable[Pool]) -> dict[str, float]:
    """The part of a request no pool can satisfy on one worker (empty when some pool can)."""
    if not resources and pool is None:
        return {}  # the common case, on the per-task path of update_graph
    pools = [p for p in pools if pool is None or p.name == pool]
    if pool is not None and not pools:
        return {pool_resource(pool): 1}
    best: dict[str, float] | None = None
    for p in pools:
        miss = {r: q for r, q in resources.items() if float(p.resources.get(r, 0.0)) < float(q)}
        if not miss:
            return {}
        if best is None or len(miss) < len(best):
            best = miss
    return dict(resources) if best is None else best


class PlacementPlugin(SchedulerPlugin):
    """Cost-aware placement of annotated tasks on worker pools.

    Parameters
    ----------
    mode : Mode or str, optional
        Default objective when the ``collab`` annotation carries no ``mode``
        (config ``collab.placement.mode``, default ``balanced``).
    tradeoff : float, optional
        ``balanced`` only: the makespan a plan may add to the fastest plan's, as a fraction, in
        exchange for a lower cost (config ``collab.placement.tradeoff``, default 0.5; a
        ``tradeoff`` in the ``collab`` annotation wins).
    pools : list of Pool or mapping, optional
        *Declared* pools that may have no live worker yet (config ``collab.placement.pools``);
        a task one of them could run waits instead of failing fast.
    cost_model_path : str or Path, optional
        Where the learned cost model is loaded from and saved to (config
        ``collab.placement.cost-model-path``, default ``~/.cache/daskcollab/cost-model.json``).
    learn : bool, optional
        Feed observed durations to the cost model (config ``collab.placement.learn``, default True).
    no_worker_timeout : float or str, optional
        How long a task pinned to a pool with no live worker may wait before it errs
        (config ``collab.placement.no-worker-timeout``, default ``60s``).
    on_budget_miss : BudgetAction or str, optional
        ``warn`` (record the miss) or ``fail`` (err the submission with :class:`BudgetError`)
        when the plan misses the budget or deadline (config ``collab.placement.on-budget-miss``).
    task_overhead : float or str, optional
        Seconds a worker spends on each task besides its work (dispatch, input transfer), used to
        plan makespans (config ``collab.placement.task-overhead``; default None: the cost model's
        learned average, 0 before the first run).
    min_work : float, optional
        Tasks with less work than this (seconds at speed 1.0) get no restriction: Dask places
        them where their inputs are (config ``collab.placement.min-work``, default 0.005). Their
        place cannot change the bill, and a restriction costs Dask more per task than they run.
    default_work : float, optional
        Work (seconds at speed 1.0) assumed for a task without ``cost``/``work`` and no history
        (config ``collab.placement.default-work``, default 1.0).

    Examples
    --------
    >>> from distributed import Client
    >>> client.register_plugin(PlacementPlugin(mode="cheapest"))  # doctest: +SKIP
    """

    name = PLUGIN_NAME

    def __init__(
        self,
        *,
        mode: Mode | str | None = None,
        tradeoff: float | None = None,
        pools: Iterable[Pool | Mapping[str, Any]] | None = None,
        cost_model_path: str | os.PathLike | None = None,
        learn: bool | None = None,
        no_worker_timeout: float | str | None = None,
        on_budget_miss: BudgetAction | str | None = None,
        default_work: float | None = None,
        task_overhead: float | str | None = None,
        min_work: float | None = None,
    ) -> None:
        self.mode = mode
        self.tradeoff = tradeoff
        self.pools = None if pools is None else list(pools)
        self.cost_model_path = cost_model_path
        self.learn = learn
        self.no_worker_timeout = no_worker_timeout
        self.on_budget_miss = on_budget_miss
        self.default_work = default_work
        self.task_overhead = task_overhead
        self.min_work = min_work
        self.scheduler: Any = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self, scheduler: Any) -> None:
        from tornado.ioloop import PeriodicCallback

        self.scheduler = scheduler
        self.mode_ = Mode(_config("mode", None if self.mode is None else Mode(self.mode).value, "balanced"))
        self.tradeoff_ = float(_config("tradeoff", self.tradeoff, DEFAULT_TRADEOFF))
        self.min_work_ = float(_config("min-work", self.min_work, DEFAULT_MIN_WORK))
        self.declared_ = {p.name: p for p in map(pool_from_mapping, _config("pools", self.pools, []))}
        path = _config("cost-model-path", self.cost_model_path, None)
        self.cost_model_path_ = pathlib.Path(path or DEFAULT_COST_MODEL_PATH).expanduser()
        self.learn_ = bool(_config("learn", self.learn, True))
        self.no_worker_timeout_ = parse_timedelta(_config("no-worker-timeout", self.no_worker_timeout, "60s"))
        self.on_budget_miss_ = BudgetAction(
            _config("on-budget-miss", None if self.on_budget_miss is None else BudgetAction(self.on_budget_miss).value, "warn")
        )
        self.default_work_ = float(_config("default-work", self.default_work, 1.0))
        overhead = _config("task-overhead", self.task_overhead, None)
        self.task_overhead_ = None if overhead is None else parse_timedelta(overhead)
        self.cost_model_ = self._load_cost_model()
        self.finished_at_: dict[Hashable, float] = {}  # compute stop of finished tasks still held
        self.worker_free_at_: dict[str, float] = {}  # last compute stop per worker
        self.ledger_ = Ledger()
        self.workers_: dict[str, WorkerInfo] = {}
        self.placed_: dict[Hashable, str] = {}  # planner-chosen pool of pending/finished collab tasks
        self.failing_: set[Hashable] = set()
        self.dirty_ = False
        self.last_save_ = time.monotonic()
        self.hook_seconds_ = 0.0
        self.update_graph_seconds_ = 0.0
        self.tasks_planned_ = 0
        self.tasks_accounted_ = 0
        self.open_plans_: dict[int, list[float]] = {}  # plan id -> [tasks left, planned makespan, start]
        self.plan_of_: dict[Hashable, int] = {}
        self.plans_made_ = 0
        for address, ws in scheduler.workers.items():
            self._track_worker(address, ws)
        self.pc_name_ = f"{PLUGIN_NAME}-{id(self):x}"
        pc = PeriodicCallback(self._watchdog, 500)
        scheduler.periodic_callbacks[self.pc_name_] = pc
        pc.start()

    async def close(self) -> None:
        if self.scheduler is None:
            return
        self._stop()

    def _stop(self) -> None:
        pc = self.scheduler.periodic_callbacks.pop(self.pc_name_, None)
        if pc is not None:
            pc.stop()
        self.save_cost_model()

    def _load_cost_model(self) -> CostModel:
        if self.cost_model_path_.exists():
            try:
                return CostModel.load(self.cost_model_path_)
            except Exception as exc:  # a corrupt file must not stop the scheduler
                logger.warning("daskcollab: ignoring unreadable cost model %s: %r", self.cost_model_path_, exc)
        return CostModel()

    def save_cost_model(self) -> pathlib.Path | None:
        """Write the learned cost model to ``cost_model_path_`` now (atomic rename)."""
        if not self.learn_ or not self.dirty_:
            return None
        path = self.cost_model_path_
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.cost_model_.save(tmp)
        os.replace(tmp, path)
        self.dirty_ = False
        self.last_save_ = time.monotonic()
        return path

    # ------------------------------------------------------------------ workers
    def _track_worker(self, address: str, ws: Any) -> WorkerInfo | None:
        info = worker_info(address, ws.extra, ws.resources)
        if info is None:
            info = WorkerInfo(address, "", 0.0, 1.0, dict(ws.resources or {}))  # not in any pool
        self.workers_[address] = info
        if info.pool:
            self.ledger_.worker_up(address, info.pool, info.price_per_hour)
        return info

    def live_pools(self) -> dict[str, Pool]:
        """Pools with at least one live worker, from worker metadata."""
        return pools_from_workers(i for i in self.workers_.values() if i.pool)

    def _feasibility_pools(self) -> list[Pool]:
        """Live pools, declared pools without live workers, and unpooled workers as one group each."""
        pools = dict(self.declared_)
        pools.update(self.live_pools())
        out = list(pools.values())
        for info in self.workers_.values():
            if not info.pool:
                out.append(Pool(name=f"(unpooled {info.address})", price_per_hour=0.0, resources=info.resources))
        return out

    def add_worker(self, scheduler: Any, worker: str) -> None:
        t0 = perf_counter()
        try:
            before = set(self.live_pools())
            ws = scheduler.workers.get(worker)
            if ws is None:
                return
            info = self._track_worker(worker, ws)
            if info is not None and info.pool and info.pool not in before and before:
                pending = [k for k in self.placed_ if self._pending(k)]
                if pending:
                    self._replan(pending, reason="replan", stimulus_id=f"daskcollab-add-worker-{time.time()}")
        finally:
            self.hook_seconds_ += perf_counter() - t0

    def remove_worker(self, scheduler: Any, worker: str, *, stimulus_id: str, **kwargs: Any) -> None:
        t0 = perf_counter()
        try:
            info = self.workers_.pop(worker, None)
            self.ledger_.worker_down(worker)
            if info is None or not info.pool or info.pool in self.live_pools():
                return
            pending = [k for k, p in self.placed_.items() if p == info.pool and self._pending(k)]
            if pending:
                self._replan(pending, reason="replan", stimulus_id=stimulus_id)
        finally:
            self.hook_seconds_ += perf_counter() - t0

    def _pending(self, key: Hashable) -> bool:
        ts = self.scheduler.tasks.get(key)
        return ts is not None and ts.state in ("released", "waiting", "no-worker")

    # ------------------------------------------------------------------ planning
    def update_graph(
        self,
        scheduler: Any,
        *,
        client: str,
        keys: set,
        tasks: list,
        annotations: dict[str, dict[Hashable, Any]],
        priority: dict,
        stimulus_id: str,
        **kwargs: Any,
    ) -> None:
        collab = annotations.get(ANNOTATION_KEY)
        if not collab:
            return
        t0 = perf_counter()
        # The specs and plan are acyclic garbage freed by reference counting; a full cyclic
        # collection of the scheduler's heap (~0.5 s at 50k tasks) triggered by them is deferred
        # to after the hook, where the scheduler's own allocations would trigger it anyway.
        collecting = gc.isenabled()
        gc.disable()
        try:
            selected = []
            get = scheduler.tasks.get
            for key in collab:
                ts = get(key)
                if (
                    ts is not None
                    and ts.state == "released"
                    and ts.run_spec is not None
                    and not ts.worker_restrictions
                    and not ts.host_restrictions
                ):
                    selected.append(ts)
            if selected:
                self._place(selected, reason="plan", stimulus_id=stimulus_id)
        finally:
            if collecting:
                gc.enable()
            elapsed = perf_counter() - t0
            self.hook_seconds_ += elapsed
            self.update_graph_seconds_ += elapsed

    def _replan(self, keys: Iterable[Hashable], *, reason: str, stimulus_id: str) -> None:
        tasks = [ts for k in keys if (ts := self.scheduler.tasks.get(k)) is not None]
        self._place(tasks, reason=reason, stimulus_id=stimulus_id)

    def _specs(self, tasks: list[Any]) -> tuple[list[TaskSpec], dict[Hashable, dict[str, float]]]:
        """TaskSpecs for scheduler tasks; also each task's user resources (from annotations).

        On the per-task path of ``update_graph``: work estimates are computed once per
        (stage, task prefix), and empty resources and dependencies skip their conversions.
        """
        keys = {ts.key for ts in tasks}
        per_stage: dict[str | None, int] = {}
        for ts in tasks:
            ann = ts.annotations.get(ANNOTATION_KEY) or {}
            stage = ann.get("stage")
            per_stage[stage] = per_stage.get(stage, 0) + 1
        specs: list[TaskSpec] = []
        user_resources: dict[Hashable, dict[str, float]] = {}
        estimates: dict[tuple[Any, str, Any], float] = {}
        no_resources: dict[str, float] = {}
        for ts in tasks:
            annotations = ts.annotations
            ann = annotations.get(ANNOTATION_KEY) or {}
            stage = ann.get("stage")
            requested = annotations.get("resources")
            if requested:
                requested = dict(requested)
                plain, pinned = split_resources(requested)
            else:
                requested, plain, pinned = {}, no_resources, ()
            user_resources[ts.key] = requested
            work = ann.get("work")
            if work is None:  # a per-task `work` is exact; stage-level estimates are refined by history
                cost = ann.get("cost")
                memo = (stage, ts.prefix.name, cost)
                work = estimates.get(memo)
                if work is None:
                    if cost is not None:
                        work = float(cost) / per_stage[stage]
                    else:
                        avg = ts.prefix.duration_average
                        work = avg if avg is not None and avg > 0 else self.default_work_
                    work = estimates[memo] = self.cost_model_.estimate(stage, ts.prefix.name, None, float(work))
            prio = annotations.get("priority", 0)
            deps = ts.dependencies
            specs.append(
                TaskSpec(
                    key=ts.key,
                    work=float(work),
                    dependencies=tuple(d.key for d in deps if d.key in keys) if deps else (),
                    resources=plain,
                    priority=int(prio) if isinstance(prio, (int, float)) else 0,
                    stage=stage,
                    pool=pinned[0] if pinned else ann.get("pool"),
                )
            )
        return specs, user_resources

    def _objective(self, tasks: list[Any]) -> Objective:
        mode, budget, deadline, tradeoff = self.mode_, None, None, self.tradeoff_
        for ts in tasks:
            ann = ts.annotations.get(ANNOTATION_KEY) or {}
            if ann.get("mode"):
                mode = Mode(ann["mode"])
            if ann.get("tradeoff") is not None:
                tradeoff = float(ann["tradeoff"])
            budget = ann.get("budget", budget) if budget is None else budget
            deadline = ann.get("deadline", deadline) if deadline is None else deadline
            if ann.get("mode") or budget is not None or deadline is not None:
                break
        if budget is not None:
            self.ledger_.budget = float(budget)
        if deadline is not None:
            self.ledger_.deadline = float(deadline)
        return Objective(mode=mode, budget=budget, deadline=deadline, tradeoff=tradeoff)

    def _place(self, tasks: list[Any], *, reason: str, stimulus_id: str) -> None:
        live = self.live_pools()
        feasible = self._feasibility_pools()
        if not feasible:
            return  # no workers and nothing declared: nothing to decide yet (the watchdog looks later)
        specs, user_resources = self._specs(tasks)
        by_key = {ts.key: ts for ts in tasks}
        failures: dict[Hashable, Exception] = {}
        for spec in specs:
            if not spec.resources and spec.pool is None:
                continue  # any worker can run it
            miss = missing_resources(spec.resources, spec.pool, feasible)
            if miss:
                failures[spec.key] = UnplaceableError(self._unplaceable_message(spec.stage, spec.resources, spec.pool, miss, feasible))
        if failures:
            self._record_failures(failures, by_key, "unplaceable")
            self._fail_soon(failures, stimulus_id)
            failed = set(failures)
            specs = [
                TaskSpec(s.key, s.work, tuple(d for d in s.dependencies if d not in failed), s.resources, s.priority, s.stage, s.pool)
                for s in specs
                if s.key not in failed
            ]
        # tasks that only a pool without live workers can run (pinned to it, or asking for resources
        # only a declared-but-empty pool has) wait for it; the watchdog bounds the wait
        live_pools = list(live.values())

        def runnable_now(s: TaskSpec) -> bool:
            if s.pool is not None:
                return s.pool in live
            return not s.resources or not missing_resources(s.resources, None, live_pools)

        runnable = [s for s in specs if runnable_now(s)]
        if len(runnable) < len(specs):
            waiting_ok = {s.key for s in runnable}
            runnable = [
                TaskSpec(s.key, s.work, tuple(d for d in s.dependencies if d in waiting_ok), s.resources, s.priority,
                         s.stage, s.pool)
                for s in runnable
            ]
        specs = runnable
        if not specs or not live:
            return
        objective = self._objective(tasks)
        overhead = self.cost_model_.task_overhead if self.task_overhead_ is None else self.task_overhead_
        planned, bundle_of = coarsen(specs)  # a wide stage of tiny tasks is planned in bundles
        slip = self.cost_model_.slippage
        if objective.deadline is not None and slip > 1.0:  # runs take longer than planned: aim earlier
            objective = dataclasses.replace(objective, deadline=float(objective.deadline) / slip)
        result = plan(planned, list(live.values()), objective, task_overhead=overhead)
        self._track_plan(specs, result.makespan, fresh=reason == "plan")
        self.tasks_planned_ += len(specs)
        if self._check_budget(result, specs, by_key, stimulus_id):
            return  # the submission errs with BudgetError
        restrict = len(live) > 1 or any(not i.pool for i in self.workers_.values())
        min_work = self.min_work_
        no_worker: list[Hashable] = []
        counts: dict[tuple[str | None, str, str], list[Any]] = {}
        for spec in specs:
            ts = by_key[spec.key]
            pool = result.pool_of(bundle_of.get(spec.key, spec.key))
            why = "pinned" if spec.pool is not None else reason
            if spec.pool is None and spec.work < min_work:
                # too small for its place to matter, and a resource restriction costs Dask more
                # per task than such a task's run: left to Dask, accounted where it runs
                why = "below min-work"
            elif spec.pool is None:
                self.placed_[spec.key] = pool
                if restrict:
                    ts.resource_restrictions = {**user_resources[spec.key], pool_resource(pool): 1}
                elif ts.resource_restrictions and any(pool_of_label(r) for r in ts.resource_restrictions):
                    ts.resource_restrictions = user_resources[spec.key] or None
                if ts.state == "no-worker":
                    no_worker.append(spec.key)
            c = counts.get((spec.stage, pool, why))
            if c is None:
                c = counts[(spec.stage, pool, why)] = [0, 0.0, ts.annotations.get(ANNOTATION_KEY) or {}]
            c[0] += 1
            c[1] += spec.work
        now = time.time()
        for (stage, pool, why), (n, work, ann) in counts.items():
            self.ledger_.record_decision(
                Decision(
                    time=now, workflow=ann.get("workflow"), stage=stage, pool=pool, ntasks=int(n), reason=why,
                    mode=objective.mode.value, estimated_work=work, estimated_makespan=result.makespan * slip,
                    estimated_cost=result.cost,
                )
            )
        if no_worker:
            self.scheduler.transitions({k: "processing" for k in no_worker}, stimulus_id)

    #: Plans shorter than this, or with fewer tasks, teach no slippage (too noisy).
    SLIPPAGE_MIN_SECONDS, SLIPPAGE_MIN_TASKS, MAX_OPEN_PLANS = 0.5, 10, 1_000

    def _track_plan(self, specs: list[TaskSpec], makespan: float, *, fresh: bool) -> None:
        """Remember a fresh plan to learn its slippage when its last task is done; a re-plan
        cancels what it re-placed (the old prediction no longer applies)."""
        for spec in specs:
            self.open_plans_.pop(self.plan_of_.pop(spec.key, -1), None)
        if not fresh or not self.learn_ or len(specs) < self.SLIPPAGE_MIN_TASKS or makespan < self.SLIPPAGE_MIN_SECONDS:
            return
        self.plans_made_ += 1
        pid = self.plans_made_
        while len(self.open_plans_) >= self.MAX_OPEN_PLANS:
            self.open_plans_.pop(next(iter(self.open_plans_)))
        self.open_plans_[pid] = [float(len(specs)), makespan, time.time()]
        for spec in specs:
            self.plan_of_[spec.key] = pid

    def _finish_plan_task(self, key: Hashable, ok: bool) -> None:
        pid = self.plan_of_.pop(key, None)
        record = self.open_plans_.get(pid) if pid is not None else None
        if record is None:
            return
        if not ok:
            del self.open_plans_[pid]  # a failed task: the run is not a fair sample
            return
        record[0] -= 1
        if record[0] <= 0:
            del self.open_plans_[pid]
            self.cost_model_.observe_slippage(record[1], time.time() - record[2])
            self.dirty_ = True

    def _check_budget(self, result: Any, specs: list[TaskSpec], by_key: Mapping[Hashable, Any], stimulus_id: str) -> bool:
        """Record a budget/deadline miss; True when the submission is failed for it."""
        problems = []
        objective = result.objective
        if result.meets_budget is False:
            problems.append(f"budget ${objective.budget!r} but the {objective.mode.value} plan costs ${result.cost:.4f}")
        if result.meets_deadline is False:
            problems.append(f"deadline {objective.deadline!r} s but the {objective.mode.value} plan takes {result.makespan:.1f} s")
        if not problems:
            return False
        stages = sorted({str(s.stage) for s in specs})
        message = stage_message(
            stages[0] if len(stages) == 1 else ",".join(stages),
            "budget" if result.meets_budget is False else "deadline",
            "; ".join(problems) + f" (pools: {describe_pools(self.live_pools().values())})",
            "raise the budget/deadline, add workers to a pool, or choose another mode (fastest|cheapest|balanced)",
        )
        self.ledger_.record_decision(
            Decision(time=time.time(), workflow=None, stage=stages[0] if stages else None, pool=None,
                     ntasks=len(specs), reason="budget", mode=objective.mode.value, estimated_makespan=result.makespan,
                     estimated_cost=result.cost, message=message)
        )
        if self.on_budget_miss_ is BudgetAction.FAIL:
            self._fail_soon({s.key: BudgetError(message) for s in specs}, stimulus_id)
            return True
        logger.warning("daskcollab: %s", message)
        return False

    @staticmethod
    def _unplaceable_message(
        stage: str | None, resources: Mapping[str, float], pool: str | None, missing: Mapping[str, float], pools: list[Pool]
    ) -> str:
        what = f"pool {pool!r}" if pool is not None and pool_resource(pool) in missing else f"resources {dict(missing)!r}"
        return stage_message(
            str(stage),
            "resources",
            f"expected a request some current or declared pool can satisfy, got {what} "
            f"(full request {dict(resources)!r}{'' if pool is None else f', pool {pool!r}'}); "
            f"pools available: {describe_pools(pools)}",
            "request resources a pool advertises, start workers with them "
            "(dask worker --resources ... --preload daskcollab.placement.worker --pool NAME --price P), "
            "or declare the pool in collab.placement.pools",
        )

    def _record_failures(self, failures: Mapping[Hashable, Exception], by_key: Mapping[Hashable, Any], reason: str) -> None:
        for key, exc in failures.items():
            ann = by_key[key].annotations.get(ANNOTATION_KEY) or {} if key in by_key else {}
            self.ledger_.record_decision(
                Decision(time=time.time(), workflow=ann.get("workflow"), stage=ann.get("stage"), pool=None, ntasks=1,
                         reason=reason, message=str(exc))
            )

    # ------------------------------------------------------------------ failing fast
    def _fail_soon(self, failures: Mapping[Hashable, Exception], stimulus_id: str) -> None:
        """Err tasks right after the current scheduler step (``update_graph`` still has to run
        its own transitions; erring inside it would be undone)."""
        self.failing_.update(failures)
        for key in failures:
            ts = self.scheduler.tasks.get(key)
            if ts is not None and ts.state == "released":
                # hold it in no-worker until the callback errs it (loose restrictions stay off)
                ts.resource_restrictions = {**(ts.resource_restrictions or {}), HOLD_RESOURCE: 1}
        asyncio.get_running_loop().call_soon(self._fail_now, dict(failures), f"{stimulus_id}-daskcollab-fail")

    def _fail_now(self, failures: Mapping[Hashable, Exception], stimulus_id: str) -> None:
        scheduler = self.scheduler
        recommendations: dict[Hashable, str] = {}
        for key, exc in failures.items():
            self.failing_.discard(key)
            ts = scheduler.tasks.get(key)
            if ts is None or ts.state not in ("released", "waiting", "no-worker", "queued"):
                continue
            blob = pickle.dumps(exc)
            text = str(exc)
            if ts.state in ("no-worker", "queued"):
                recommendations.update(
                    scheduler.transition(key, "erred", stimulus_id, exception=blob, cause=key, exception_text=text)
                )
                continue
            ts.exception, ts.exception_text, ts.traceback, ts.exception_blame = blob, text, None, ts
            if ts.state == "waiting":
                recommendations.update(scheduler.transition(key, "released", stimulus_id))
                recommendations.pop(key, None)
            recommendations.update(scheduler.transition(key, "erred", stimulus_id))
        if recommendations:
            scheduler.transitions(recommendations, stimulus_id)

    def _watchdog(self) -> None:
        if self.scheduler.plugins.get(PLUGIN_NAME) is not self:
            self._stop()  # unregistered or replaced: save what was learned and stop
            return
        t0 = perf_counter()
        try:
            self._check_unrunnable()
            if self.dirty_ and time.monotonic() - self.last_save_ > 5.0:
                self.save_cost_model()
        except Exception:  # never let the periodic callback die
            logger.exception("daskcollab placement watchdog failed")
        finally:
            self.hook_seconds_ += perf_counter() - t0

    def _check_unrunnable(self) -> None:
        scheduler = self.scheduler
        if not scheduler.unrunnable:
            return
        now = time.monotonic()
        live = self.live_pools()
        feasible = self._feasibility_pools()
        replan: list[Hashable] = []
        failures: dict[Hashable, Exception] = {}
        for ts, since in list(scheduler.unrunnable.items()):
            ann = (ts.annotations or {}).get(ANNOTATION_KEY)
            if ann is None or ts.key in self.failing_ or ts.worker_restrictions or ts.host_restrictions:
                continue
            plain, pinned = split_resources(ts.annotations.get("resources"))
            chosen = self.placed_.get(ts.key)
            if chosen is not None and chosen not in live and now - since > 0.5:
                replan.append(ts.key)
                continue
            pool = pinned[0] if pinned else ann.get("pool")
            miss = missing_resources(plain, pool, feasible) if feasible else {}
            if miss or (now - since > self.no_worker_timeout_ and (pool is None or pool not in live)):
                problem = miss or {**plain, **({pool_resource(pool): 1} if pool else {})}
                message = self._unplaceable_message(ann.get("stage"), plain, pool, problem, feasible)
                if not miss:
                    message = message.replace(
                        "expected a request", f"waited {now - since:.0f} s (no-worker-timeout) for a request"
                    )
                failures[ts.key] = UnplaceableError(message)
        if replan:
            self._replan(replan, reason="replan", stimulus_id=f"daskcollab-watchdog-{time.time()}")
        if failures:
            self._fail_now(failures, f"daskcollab-watchdog-{time.time()}")

    # ------------------------------------------------------------------ accounting and learning
    def transition(self, key: Hashable, start: str, finish: str, *args: Any, stimulus_id: str | None = None, **kwargs: Any) -> None:
        if finish == "forgotten":
            self.finished_at_.pop(key, None)
            if key in self.plan_of_:  # released before it ran (cancelled): the plan is no sample
                self._finish_plan_task(key, False)
            return
        if start != "processing" or (finish != "memory" and finish != "erred"):
            return
        t0 = perf_counter()
        try:
            worker = kwargs.get("worker")
            info = self.workers_.get(worker) if worker is not None else None
            startstops = kwargs.get("startstops") or ()
            duration = 0.0
            began = stopped = None
            for ss in startstops:
                if ss.get("action") == "compute":
                    duration += ss["stop"] - ss["start"]
                    began = ss["start"] if began is None else min(began, ss["start"])
                    stopped = ss["stop"] if stopped is None else max(stopped, ss["stop"])
            ts = self.scheduler.tasks.get(key)
            ann = (ts.annotations or {}).get(ANNOTATION_KEY) if ts is not None else None
            stage = ann.get("stage") if ann else None
            pool = info.pool if info is not None and info.pool else None
            self.ledger_.record_task(
                key, stage=stage, pool=pool, duration=duration,
                price_per_hour=info.price_per_hour if info is not None else 0.0, worker=worker,
            )
            self.tasks_accounted_ += 1
            if self.plan_of_:
                self._finish_plan_task(key, finish == "memory")
            # learn from every task of a run's first 1,000, then from every 8th (keeps the hook cheap)
            learn = self.learn_ and finish == "memory" and ann and ts is not None and (
                self.tasks_accounted_ <= 1_000 or not self.tasks_accounted_ % 8
            )
            if stopped is not None and worker is not None:
                if learn:
                    self._observe_overhead(ts, worker, began)
                self.finished_at_[key] = stopped
                free = self.worker_free_at_.get(worker)
                if free is None or stopped > free:
                    self.worker_free_at_[worker] = stopped
            if learn and pool and duration > 0:
                self.cost_model_.observe(stage, ts.prefix.name, pool, duration, info.speed)
                self.dirty_ = True
        finally:
            self.hook_seconds_ += perf_counter() - t0

    def _observe_overhead(self, ts: Any, worker: str, began: float) -> None:
        """The wait before this task started although its inputs were done and its worker free."""
        runnable = self.worker_free_at_.get(worker)
        if runnable is None:
            return  # the worker's first task here: its idle time before is not overhead
        for dep in ts.dependencies:
            done = self.finished_at_.get(dep.key)
            if done is None:
                return  # an input finished before the plugin watched: unknown
            if done > runnable:
                runnable = done
        gap = began - runnable
        if 0.0 <= gap < 10.0:  # longer waits are queueing behind other work, not overhead
            self.cost_model_.observe_overhead(gap)
            self.dirty_ = True

    # ------------------------------------------------------------------ reporting
    def snapshot(self) -> dict[str, Any]:
        """Plain data for the run report and the dashboard: decisions, money, overhead, pools."""
        data = self.ledger_.snapshot()
        seen = max(self.tasks_planned_, self.tasks_accounted_, 1)
        data.update(
            {
                "mode": self.mode_.value,
                "tradeoff": self.tradeoff_,
                "task_overhead": self.cost_model_.task_overhead if self.task_overhead_ is None else self.task_overhead_,
                "slippage": self.cost_model_.slippage,
                "pools": {
                    name: {"price_per_hour": p.price_per_hour, "speed": p.speed, "workers": p.workers,
                           "resources": dict(p.resources)}
                    for name, p in self.live_pools().items()
                },
                "declared_pools": sorted(self.declared_),
                "placements": {str(k): v for k, v in list(self.placed_.items())[:10_000]},
                "ran_on": {str(k): list(v) for k, v in list(self.ledger_.ran_on.items())[:10_000]},
                "cost_model_path": str(self.cost_model_path_),
                "overhead": {
                    "hook_seconds": self.hook_seconds_,
                    "update_graph_seconds": self.update_graph_seconds_,
                    "tasks_planned": self.tasks_planned_,
                    "tasks_accounted": self.tasks_accounted_,
                    "us_per_task": 1e6 * self.hook_seconds_ / seen,
                },
            }
        )
        return data


def _scheduler_snapshot(dask_scheduler: Any) -> dict[str, Any]:
    plugin = dask_scheduler.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise DaskCollabError(
            stage_message(
                "placement", None,
                f"expected the {PLUGIN_NAME!r} scheduler plugin, got plugins {sorted(dask_scheduler.plugins)!r}",
                "start the scheduler with --preload daskcollab.placement or call client.register_plugin(PlacementPlugin())",
            )
        )
    return plugin.snapshot()


def placement_report(client: Any) -> dict[str, Any]:
    """Decisions, money per pool/stage and plugin overhead, fetched from the scheduler.

    Examples
    --------
    >>> placement_report(client)["cost_by_pool"]  # doctest: +SKIP
    {'cpu-spot': 0.0012, 'cpu-ondemand': 0.0031}
    """
    return client.run_on_scheduler(_scheduler_snapshot)


def save_cost_model(client: Any) -> str | None:
    """Persist the scheduler's learned cost model now; returns the path (None if nothing new)."""

    def _save(dask_scheduler: Any) -> str | None:
        plugin = dask_scheduler.plugins.get(PLUGIN_NAME)
        path = plugin.save_cost_model() if plugin is not None else None
        return None if path is None else str(path)

    return client.run_on_scheduler(_save)
