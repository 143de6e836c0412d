"""The placement ``SchedulerPlugin``: a thin translator between scheduler state and the pure policy.

Hook by hook:

runs (``start_run`` / ``stage_event`` / ``finish_run``, called by ``daskcollab.run`` through
:mod:`daskcollab.runtime._remote`)
    A run's stage graph arrives before its tasks: one plan for the whole run
    (:func:`~daskcollab.placement._runplan.plan_run`, estimates from the learned cost model, then
    the stages' ``cost`` hints, then a default), checked against the run's budget and deadline;
    one :class:`~daskcollab.placement._ledger.RunLedger` per run. A finished stage re-plans the
    stages not started yet (the run drifted from its plan); a finished run teaches the cost model.
``update_graph``
    New ``released`` tasks with a ``collab`` annotation and no worker/host restrictions
    (xgboost.dask pins its own work: left alone) become :class:`~._decide.TaskView` objects;
    :func:`~._decide.decide` returns what to restrict (a pool-label resource, never a worker
    address, never ``allow_other_workers``), what to err and what to record.
``add_worker`` / ``remove_worker``
    Pool membership and held worker-seconds; when a pool appears or loses its last worker,
    pending tasks placed on it are re-placed and active runs re-planned.
elastic pools (``set_elastic``, ``demand``, ``worker_requested``, called by
:mod:`daskcollab.deploy._elastic`)
    With an elastic controller, runs are planned on the pools it scales at their ``max_workers``
    (the plan says how many each needs and when; the controller provides them), those pools
    count as declared while they have no worker, and :meth:`PlacementPlugin.demand` tells the
    controller per pool what the plans and the waiting tasks need now and soon
    (:mod:`~daskcollab.placement._demand`). Workers the controller asks for are billed from the
    request (start-up time is paid).
``transition``
    ``processing -> memory|erred``: busy seconds and money per pool, stage and run; observed
    durations feed the cost model (saved to ``collab.placement.cost-model-path``).
watchdog (periodic, 0.5 s)
    No ``collab`` task waits in ``no-worker`` forever (re-placed, or erred after
    ``no-worker-timeout`` with the one unplaceable message); every run's spend and elapsed time
    are compared with its budget and deadline (``on-budget-miss``: warn once, or fail the run).

Known limit: tasks with restrictions bypass Dask's root-task queuing; with one live pool no
restriction is added (nothing to choose), which keeps queuing.
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
from dask.utils import parse_timedelta
from distributed.diagnostics.plugin import SchedulerPlugin

from daskcollab._contract import ANNOTATION_KEY
from daskcollab._errors import (
    BudgetError,
    DaskCollabError,
    RunCancelledError,
    UnplaceableError,
    UsageError,
    stage_message,
    workflow_message,
)
from daskcollab.placement._cost_model import CostModel
from daskcollab.placement._decide import ClusterView, TaskView, decide
from daskcollab.placement._demand import pool_demand, run_needs
from daskcollab.placement._erring import HOLD_RESOURCE, fail_now, fail_soon
from daskcollab.placement._feasibility import Verdict, feasibility, unplaceable_message
from daskcollab.placement._ledger import Decision, Ledger, stage_observation
from daskcollab.placement._planning import DEFAULT_TRADEOFF, Mode, Pool
from daskcollab.placement._pools import (
    WorkerInfo,
    pool_from_mapping,
    pool_of_label,
    pool_resource,
    pools_from_workers,
    split_resources,
    worker_info,
)
from daskcollab.placement._runplan import ALL_POOLS, RunPlan, RunSpec, plan_with_model
from daskcollab.placement._spec import can_run

logger = logging.getLogger("daskcollab.placement")

PLUGIN_NAME = "daskcollab-placement"
DEFAULT_COST_MODEL_PATH = pathlib.Path("~/.cache/daskcollab/cost-model.json")
#: Work (seconds at speed 1.0) below which an ad-hoc task is left to Dask (see ``min_work``).
DEFAULT_MIN_WORK = 0.005


class BudgetAction(Enum):
    """What the plugin does when a plan, or the money actually spent, misses the budget or deadline."""

    WARN = "warn"
    FAIL = "fail"


class BudgetBasis(Enum):
    """Which spend the budget is compared with while a run goes."""

    HELD = "held"  # worker-seconds held x price: what a cloud bills
    BUSY = "busy"  # compute seconds x price


def _config(key: str, override: Any, default: Any) -> Any:
    value = dask.config.get(f"collab.placement.{key}", default=default, override_with=override)
    return default if value is None else value


def _check_arguments(**given: tuple[Any, Any]) -> None:
    """Refuse, on the client, a :class:`PlacementPlugin` argument its scheduler could not read
    (a :class:`~daskcollab.UsageError` naming the argument and the fix, not an error inside the scheduler)."""
    for name, (kind, value) in given.items():
        if value is None:
            continue
        try:
            parse_timedelta(value) if kind == "timedelta" else kind(value)
        except (KeyError, ValueError, TypeError):
            allowed = ("a duration such as 60, '90s', '5m' or '1h'" if kind == "timedelta"
                       else "one of " + ", ".join(repr(m.value) for m in kind))
            raise UsageError(f"PlacementPlugin, field {name!r}: {value!r} is not {allowed}. "
                             f"Fix: pass {allowed}") from None


def cost_model_path(override: str | os.PathLike | None = None) -> pathlib.Path:
    """Where the learned cost model lives: ``override``, else ``collab.placement.cost-model-path``,
    else ``~/.cache/daskcollab/cost-model.json``."""
    return pathlib.Path(_config("cost-model-path", override, None) or DEFAULT_COST_MODEL_PATH).expanduser()


def load_cost_model(path: pathlib.Path) -> CostModel:
    """The cost model saved at ``path`` (an empty one when there is none or it is unreadable)."""
    if path.exists():
        try:
            return CostModel.load(path)
        except Exception as exc:  # a corrupt file must not stop the scheduler
            logger.warning("daskcollab: ignoring unreadable cost model %s: %r", path, exc)
    return CostModel()


class PlacementPlugin(SchedulerPlugin):
    """Cost-aware placement of annotated tasks on worker pools.

    Parameters
    ----------
    mode : Mode or str, optional
        Default objective when neither the run nor the ``collab`` annotation names one
        (config ``collab.placement.mode``, default ``balanced``).
    tradeoff : float, optional
        ``balanced`` only: the makespan a plan may add to the fastest plan's, as a fraction, in
        exchange for a lower cost (config ``collab.placement.tradeoff``, default 0.5).
    pools : list of Pool or mapping, optional
        *Declared* pools that may have no live worker yet (config ``collab.placement.pools``);
        a task only one of them can run waits for it instead of failing fast.
    cost_model_path : str or Path, optional
        Where the learned cost model is loaded from and saved to (config
        ``collab.placement.cost-model-path``, default ``~/.cache/daskcollab/cost-model.json``).
    learn : bool, optional
        Feed observed durations to the cost model (config ``collab.placement.learn``, default True).
    no_worker_timeout : float or str, optional
        How long a task only a pool without live workers can run may wait before it errs
        (config ``collab.placement.no-worker-timeout``, default ``60s``).
    on_budget_miss : BudgetAction or str, optional
        ``warn`` (log and record it) or ``fail`` (err the run or submission with
        :class:`BudgetError`) when a plan or the money actually spent misses the budget, or the
        elapsed time the deadline (config ``collab.placement.on-budget-miss``).
    budget_counts : BudgetBasis or str, optional
        ``held`` (default: worker-seconds held x price, the bill) or ``busy`` (compute seconds x
        price): the spend a run's budget is compared with (config ``collab.placement.budget-counts``).
    task_overhead : float or str, optional
        Seconds a worker spends on each task besides its work, for ad-hoc task plans (config
        ``collab.placement.task-overhead``; default: the cost model's learned average).
    min_work : float, optional
        Ad-hoc tasks with less work than this (seconds at speed 1.0) get no restriction (config
        ``collab.placement.min-work``, default 0.005).
    default_work : float, optional
        Work (seconds at speed 1.0) assumed for a stage or task with no estimate (config
        ``collab.placement.default-work``, default 1.0).

    Examples
    --------
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
        budget_counts: BudgetBasis | str | None = None,
        default_work: float | None = None,
        task_overhead: float | str | None = None,
        min_work: float | None = None,
    ) -> None:
        _check_arguments(mode=(Mode, mode), on_budget_miss=(BudgetAction, on_budget_miss),
                         budget_counts=(BudgetBasis, budget_counts), no_worker_timeout=("timedelta", no_worker_timeout),
                         task_overhead=("timedelta", task_overhead))
        self.mode = mode
        self.tradeoff = tradeoff
        self.pools = None if pools is None else list(pools)
        self.cost_model_path = cost_model_path
        self.learn = learn
        self.no_worker_timeout = no_worker_timeout
        self.on_budget_miss = on_budget_miss
        self.budget_counts = budget_counts
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
        self.cost_model_path_ = cost_model_path(self.cost_model_path)
        self.learn_ = bool(_config("learn", self.learn, True))
        self.no_worker_timeout_ = parse_timedelta(_config("no-worker-timeout", self.no_worker_timeout, "60s"))
        self.on_budget_miss_ = BudgetAction(_config(
            "on-budget-miss", None if self.on_budget_miss is None else BudgetAction(self.on_budget_miss).value, "warn"))
        self.budget_counts_ = BudgetBasis(_config(
            "budget-counts", None if self.budget_counts is None else BudgetBasis(self.budget_counts).value, "held"))
        self.default_work_ = float(_config("default-work", self.default_work, 1.0))
        overhead = _config("task-overhead", self.task_overhead, None)
        self.task_overhead_ = None if overhead is None else parse_timedelta(overhead)
        self.cost_model_ = load_cost_model(self.cost_model_path_)
        self.finished_at_: dict[Hashable, float] = {}  # compute stop of finished tasks still held
        self.submitted_: dict[Hashable, Mapping[str, Any]] = {}  # key -> collab annotation of its latest submission
        self.worker_free_at_: dict[str, float] = {}  # last compute stop per worker
        self.ledger_ = Ledger()
        self.workers_: dict[str, WorkerInfo] = {}
        self.placed_: dict[Hashable, str] = {}  # chosen pool of pending/finished collab tasks
        self.run_plans_: dict[str, RunPlan] = {}
        self.run_specs_: dict[str, RunSpec] = {}
        self.failed_runs_: dict[str, tuple[type[Exception], str]] = {}  # run id -> (error, message)
        self.failing_: set[Hashable] = set()
        self.holding_: set[Hashable] = set()  # held for one loop turn, to be released in plan order
        self.dirty_ = False
        self.last_save_ = time.monotonic()
        self.hook_seconds_ = 0.0
        self.update_graph_seconds_ = 0.0
        self.tasks_planned_ = 0
        self.tasks_accounted_ = 0
        self.open_plans_: dict[int, list[float]] = {}  # ad-hoc plan id -> [tasks left, planned makespan, start]
        self.plan_of_: dict[Hashable, int] = {}
        self.plans_made_ = 0
        self.elastic_: dict[str, Pool] = {}  # pools an elastic controller scales (set_elastic)
        for address, ws in scheduler.workers.items():
            self._track_worker(address, ws)
        self.pc_name_ = f"{PLUGIN_NAME}-{id(self):x}"
        pc = PeriodicCallback(self._watchdog, 500)
        scheduler.periodic_callbacks[self.pc_name_] = pc
        pc.start()

    async def close(self) -> None:
        if self.scheduler is not None:
            self._stop()

    def _stop(self) -> None:
        pc = self.scheduler.periodic_callbacks.pop(self.pc_name_, None)
        if pc is not None:
            pc.stop()
        self.save_cost_model()

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

    # ------------------------------------------------------------------ workers and pools
    def _track_worker(self, address: str, ws: Any) -> WorkerInfo:
        info = worker_info(address, ws.extra, ws.resources)
        if info is None:
            info = WorkerInfo(address, "", 0.0, 1.0, dict(ws.resources or {}))  # not in any pool
        self.workers_[address] = info
        if info.pool:
            self.ledger_.worker_up(address, info.pool, info.price_per_hour, name=str(ws.name))
        return info

    def live_pools(self) -> dict[str, Pool]:
        """Pools with at least one live worker, from worker metadata."""
        return pools_from_workers(i for i in self.workers_.values() if i.pool)

    def cluster_view(self) -> ClusterView:
        """The cluster as the pure policy sees it."""
        from daskcollab.placement._feasibility import unpooled_workers

        unpooled = unpooled_workers({i.address: i.resources for i in self.workers_.values() if not i.pool})
        overhead = self.cost_model_.task_overhead if self.task_overhead_ is None else self.task_overhead_
        return ClusterView(self.live_pools(), {**self.declared_, **self.elastic_}, unpooled, self.mode_, self.tradeoff_,
                           self.min_work_, overhead, self.cost_model_.slippage, elastic=bool(self.elastic_))

    def _planning_pools(self, view: ClusterView) -> tuple[list[Pool], list[Pool]]:
        """The pools a run is planned on, and declared pools without workers (see the module docstring:
        with elastic pools, each counts at its ``max_workers``; one kept at zero is left out)."""
        if not self.elastic_:
            return list(view.live.values()), [p for n, p in view.declared.items() if n not in view.live]
        pools: dict[str, Pool] = {}
        for name, p in self.elastic_.items():
            if p.max_workers > 0:
                base = view.live.get(name, p)
                pools[name] = Pool(name, base.price_per_hour, base.speed, p.max_workers, dict(base.resources))
        for name, p in view.live.items():
            pools.setdefault(name, p)  # live pools no controller scales: as they are
        return list(pools.values()), [p for n, p in view.declared.items() if n not in pools]

    def add_worker(self, scheduler: Any, worker: str) -> None:
        t0 = perf_counter()
        try:
            before = set(self.live_pools())
            ws = scheduler.workers.get(worker)
            if ws is None:
                return
            info = self._track_worker(worker, ws)
            if info.pool and info.pool not in before:
                self._replan_runs("a pool appeared")
                pending = [k for k in self.placed_ if self._pending(k)]
                if pending and before:
                    self._replace(pending, stimulus_id=f"daskcollab-add-worker-{time.time()}")
        finally:
            self.hook_seconds_ += perf_counter() - t0

    def remove_worker(self, scheduler: Any, worker: str, *, stimulus_id: str, **kwargs: Any) -> None:
        t0 = perf_counter()
        try:
            info = self.workers_.pop(worker, None)
            self.ledger_.worker_down(worker)
            if info is None or not info.pool or info.pool in self.live_pools():
                return
            self._replan_runs(f"pool {info.pool!r} lost its last worker")
            pending = [k for k, p in self.placed_.items() if p == info.pool and self._pending(k)]
            if pending:
                self._replace(pending, stimulus_id=stimulus_id)
        finally:
            self.hook_seconds_ += perf_counter() - t0

    def _pending(self, key: Hashable) -> bool:
        ts = self.scheduler.tasks.get(key)
        return ts is not None and ts.state in ("released", "waiting", "no-worker")

    # ------------------------------------------------------------------ runs
    def start_run(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Register a run (its stage graph) and plan it; returns ``{"plan": ...}`` or ``{"error": ...}``.

        An ``error`` names the stage no current or declared pool can ever run (kind
        ``unplaceable``), or the budget/deadline the plan misses when ``on-budget-miss`` is
        ``fail`` (kind ``budget``); the run is then not started.
        """
        run_spec = RunSpec.from_dict(spec)
        view = self.cluster_view()
        live, declared = view.feasibility_pools()
        for stage in run_spec.stages:
            verdict = feasibility(stage.resources, stage.pool, live, declared)
            if verdict.verdict is Verdict.NEVER:
                return {"error": unplaceable_message(stage.name, stage.resources, stage.pool, verdict.missing,
                                                     [*live, *declared]), "kind": "unplaceable"}
        record = self.ledger_.start_run(run_spec.run_id, run_spec.workflow, budget=run_spec.budget,
                                        deadline=run_spec.deadline)
        self.run_specs_[run_spec.run_id] = run_spec
        warnings: list[str] = []
        plan = self._plan(run_spec)
        if plan is None:
            return {"plan": None, "warnings": ["no worker of any pool yet: the run is planned when one joins"]}
        self.run_plans_[run_spec.run_id] = plan
        record.plan = plan.to_dict()
        basis = plan.held_cost if self.budget_counts_ is BudgetBasis.HELD else plan.cost
        problems = []
        if run_spec.budget is not None and basis > run_spec.budget + 1e-12:
            costs = ", ".join(f"{n} ${p.cost:.4f}" for n, p in plan.stages.items())
            problems.append(f"budget ${run_spec.budget:g} but the plan of the whole run costs ${basis:.4f} "
                            f"({self.budget_counts_.value}; busy per stage: {costs})")
        if plan.meets_deadline is False:
            problems.append(f"deadline {run_spec.deadline:g} s but the plan of the whole run takes {plan.makespan:.1f} s")
        if problems:
            message = workflow_message(run_spec.workflow, "budget" if "budget" in problems[0] else "deadline",
                                    "; ".join(problems), "raise the budget/deadline, add workers to a pool, or choose "
                                                         "another mode (fastest|cheapest|balanced)")
            self._record(Decision(time.time(), run_spec.workflow, None, None, len(run_spec.stages), "budget",
                                  mode=plan.objective.mode.value, estimated_makespan=plan.makespan,
                                  estimated_cost=plan.cost, message=message, run=run_spec.run_id))
            if self.on_budget_miss_ is BudgetAction.FAIL:
                self._end_run(run_spec.run_id, "failed")
                return {"error": message, "kind": "budget", "plan": plan.to_dict()}
            record.alerts.append(message)
            warnings.append(message)
            logger.warning("daskcollab: %s", message)
        return {"plan": plan.to_dict(), "warnings": warnings}

    def _plan(self, spec: RunSpec, *, origin: float = 0.0, fixed=None) -> RunPlan | None:
        """Plan a run on the live pools (None when there are none). Stages only plain workers
        outside every pool can run are left out of the plan: Dask places their tasks."""
        pools, declared = self._planning_pools(self.cluster_view())
        if not pools:
            return None
        keep = {s.name for s in spec.stages
                if feasibility(s.resources, s.pool, pools, declared).verdict is not Verdict.NEVER}
        if len(keep) < len(spec.stages):
            stages = tuple(dataclasses.replace(s, inputs=tuple(i for i in s.inputs if i in keep))
                           for s in spec.stages if s.name in keep)
            spec = dataclasses.replace(spec, stages=stages)
        fixed = {k: v for k, v in (fixed or {}).items() if k in keep} or None
        return plan_with_model(spec, pools, self.cost_model_, mode=self.mode_, tradeoff=self.tradeoff_,
                               default_work=self.default_work_, declared=declared, origin=origin, fixed=fixed)

    def _replan_runs(self, why: str) -> None:
        for run_id in list(self.run_specs_):
            self._replan(run_id, why)

    def _replan(self, run_id: str, why: str) -> None:
        """Re-plan the stages of a run that have not started, keeping what ran or runs."""
        spec, record = self.run_specs_.get(run_id), self.ledger_.runs.get(run_id)
        if spec is None or record is None or record.finished is not None:
            return
        old = self.run_plans_.get(run_id)
        now = time.time() - record.started
        fixed = {}
        for name, s in record.stages.items():
            if s.state in ("done", "reused", "running", "failed") and old is not None and name in old.stages:
                planned = old.stages[name]
                start = (s.started - record.started) if s.started is not None else planned.start
                end = (s.finished - record.started) if s.finished is not None else max(planned.finish, now)
                fixed[name] = (planned.pool, start, end)
        try:
            plan = self._plan(spec, origin=now if fixed else 0.0, fixed=fixed or None)
        except DaskCollabError as exc:  # e.g. a pool gone for good: the watchdog errs its tasks later
            logger.warning("daskcollab: cannot re-plan run %s (%s): %s", run_id, why, exc)
            return
        if plan is None:
            self.run_plans_.pop(run_id, None)
            return
        if old is not None and {n: p.pool for n, p in plan.stages.items()} != {n: p.pool for n, p in old.stages.items()}:
            record.replans += 1
            self._record(Decision(time.time(), spec.workflow, None, None, len(spec.stages), "replan",
                                  mode=plan.objective.mode.value, estimated_makespan=plan.makespan,
                                  estimated_cost=plan.cost, message=why, run=run_id))
        self.run_plans_[run_id] = plan
        record.plan = plan.to_dict()

    def stage_event(self, run_id: str, stage: str, state: str) -> None:
        """A stage of a run changed state (``running``, ``done``, ``failed``, ``reused``), reported by the runner."""
        record = self.ledger_.runs.get(run_id)
        if record is None:
            return
        s = record.stage(stage)
        s.state = state
        now = time.time()
        if state == "running":
            s.started = now
        elif state in ("done", "failed", "reused"):
            s.finished = now
            if s.started is None:
                s.started = now
            if state == "done":
                self._replan(run_id, f"stage {stage!r} finished")

    def finish_run(self, run_id: str, status: str = "done") -> dict[str, Any] | None:
        """End a run: learn its stages' durations, save the cost model; return the run's snapshot."""
        record = self.ledger_.runs.get(run_id)
        if record is None:
            return None
        plan = self.run_plans_.get(run_id)
        self._end_run(run_id, status)
        if status == "done" and self.learn_:
            speeds = {name: p.speed for name, p in self.live_pools().items()}
            for name, s in record.stages.items():
                obs = stage_observation(s, speeds, record)
                if obs is not None and s.state == "done":
                    main, work, width, latency, cost = obs
                    # learned under the option it was planned on (a spread stage: "*", with the
                    # money the pools' mix cost), so the next plan looks up what this one did
                    planned = plan.stages.get(name) if plan is not None else None
                    self.cost_model_.observe_stage(record.workflow, name, planned.pool if planned else main,
                                                   work=work, width=width, latency=latency, cost=cost)
                    self.dirty_ = True
        self.save_cost_model()
        return self.ledger_.run_snapshot(record)

    def _end_run(self, run_id: str, status: str) -> None:
        record = self.ledger_.runs.get(run_id)
        if record is not None and record.finished is None:
            record.finished = time.time()
            if record.status != "over-budget":  # a run failed for its budget stays marked so
                record.status = status
        self.run_specs_.pop(run_id, None)
        self.run_plans_.pop(run_id, None)

    # ------------------------------------------------------------------ update_graph
    def update_graph(self, scheduler: Any, *, client: str, keys: set, tasks: list,
                     annotations: dict[str, dict[Hashable, Any]], priority: dict, stimulus_id: str,
                     **kwargs: Any) -> None:
        collab = annotations.get(ANNOTATION_KEY)
        if not collab:
            return
        t0 = perf_counter()
        # the latest submission owns a key: a key an earlier run created (deterministic keys are
        # shared) keeps that run's annotations on its TaskState, but is accounted to this run
        self.submitted_.update(collab)
        first = next(iter(collab.values()))
        if isinstance(first, Mapping) and first.get("run") is not None and len(tasks) > len(collab):
            # keys of this call that already existed get no annotation from Dask; they belong to this
            # call's stage of this run (a call comes from one stage's context) if they run again
            if all(a.get("run") == first["run"] and a.get("stage") == first.get("stage") for a in collab.values()):
                for key in tasks:
                    if key not in collab:
                        self.submitted_[key] = first
        # The views and plans are acyclic garbage freed by reference counting; a full cyclic
        # collection of the scheduler's heap (~0.5 s at 50k tasks) triggered by them is deferred.
        collecting = gc.isenabled()
        gc.disable()
        try:
            get = scheduler.tasks.get
            selected = [ts for key in collab if (ts := get(key)) is not None and ts.state == "released"
                        and ts.run_spec is not None and not ts.worker_restrictions and not ts.host_restrictions]
            if selected:
                self._place(selected, stimulus_id=stimulus_id)
        finally:
            if collecting:
                gc.enable()
            elapsed = perf_counter() - t0
            self.hook_seconds_ += elapsed
            self.update_graph_seconds_ += elapsed

    def _views(self, tasks: list[Any]) -> tuple[list[TaskView], dict[Hashable, dict[str, float]]]:
        """TaskViews for scheduler tasks, and each task's user resources (pool labels removed).

        On the per-task path of ``update_graph``: work estimates are computed once per (stage,
        task prefix), only for ad-hoc tasks, and empty resources and dependencies skip conversions.
        """
        keys = {ts.key for ts in tasks}
        per_stage: dict[str | None, int] = {}
        for ts in tasks:
            stage = (ts.annotations.get(ANNOTATION_KEY) or {}).get("stage")
            per_stage[stage] = per_stage.get(stage, 0) + 1
        views: list[TaskView] = []
        user: dict[Hashable, dict[str, float]] = {}
        estimates: dict[tuple[Any, ...], float] = {}
        empty: dict[str, float] = {}
        for ts in tasks:
            annotations = ts.annotations
            ann = annotations.get(ANNOTATION_KEY) or {}
            stage, run = ann.get("stage"), ann.get("run")
            requested = annotations.get("resources")
            if requested:
                plain, pinned = split_resources(dict(requested))
            else:
                plain, pinned = empty, ()
            user[ts.key] = plain
            work = ann.get("work")
            if work is None and run is None:  # a per-task `work` is exact; stage estimates refined by history
                cost = ann.get("cost")
                memo = (ann.get("workflow"), stage, ts.prefix.name, cost)
                work = estimates.get(memo)
                if work is None:
                    if cost is not None:
                        work = float(cost) / per_stage[stage]
                    else:
                        avg = ts.prefix.duration_average
                        work = avg if avg is not None and avg > 0 else self.default_work_
                    work = estimates[memo] = self.cost_model_.estimate(stage, ts.prefix.name, None, float(work),
                                                                       workflow=ann.get("workflow"))
            prio = annotations.get("priority", 0)
            deps = ts.dependencies
            views.append(TaskView(
                key=ts.key, stage=stage, workflow=ann.get("workflow"), run=run, resources=plain,
                pool=pinned[0] if pinned else ann.get("pool"), work=float(work or 0.0),
                dependencies=tuple(d.key for d in deps if d.key in keys) if deps else (),
                priority=int(prio) if isinstance(prio, (int, float)) else 0,
                mode=ann.get("mode"), tradeoff=ann.get("tradeoff"), budget=ann.get("budget"),
                deadline=ann.get("deadline"),
            ))
        return views, user

    def _place(self, tasks: list[Any], *, stimulus_id: str, replace: bool = False) -> None:
        views, user = self._views(tasks)
        failed_run = [v for v in views if v.run in self.failed_runs_]
        if failed_run:
            fail_soon(self.scheduler, {v.key: self.failed_runs_[v.run][0](self.failed_runs_[v.run][1])
                                       for v in failed_run}, stimulus_id, self.failing_)
            views = [v for v in views if v.run not in self.failed_runs_]
        view = self.cluster_view()
        if not view.live and not view.unpooled and not view.declared:
            return  # no workers and nothing declared: nothing to decide yet (the watchdog looks later)
        for v in views:
            if v.run is not None and v.run in self.run_specs_ and v.run not in self.run_plans_ and view.live:
                plan = self._plan(self.run_specs_[v.run])  # pool workers joined after start_run
                if plan is not None:
                    self.run_plans_[v.run] = plan
                    self.ledger_.runs[v.run].plan = plan.to_dict()
        out = decide(views, view, self.run_plans_)
        by_key = {ts.key: ts for ts in tasks}
        if out.fail:
            fail_soon(self.scheduler, {k: UnplaceableError(m) for k, (_, m) in out.fail.items()}, stimulus_id,
                      self.failing_)
        for record in out.records:
            self._record(dataclasses.replace(record, reason="replan") if replace and record.reason in
                         ("plan", "run-plan") else record)
        if out.budget_miss is not None:
            if self.on_budget_miss_ is BudgetAction.FAIL and not replace:
                fail_soon(self.scheduler, {k: BudgetError(out.budget_miss) for k in out.planned_keys}, stimulus_id,
                          self.failing_)
                return
            logger.warning("daskcollab: %s", out.budget_miss)
            if out.plan is not None and out.plan.objective.budget is not None:
                self.ledger_.budget = float(out.plan.objective.budget)
        if out.plan is not None:
            self._track_plan(out.planned_keys, out.plan.makespan, fresh=not replace)
            self.tasks_planned_ += len(out.planned_keys)
            if out.plan.objective.budget is not None:
                self.ledger_.budget = float(out.plan.objective.budget)
            if out.plan.objective.deadline is not None:
                self.ledger_.deadline = float(out.plan.objective.deadline)
        for key, rank in out.order.items():
            ts = by_key[key]
            if isinstance(ts.priority, tuple) and len(ts.priority) == 3:  # (-user priority, generation, order)
                ts.priority = (ts.priority[0], ts.priority[1], rank)
        no_worker = []
        for key, pool in out.restrict.items():
            ts = by_key[key]
            self.placed_[key] = pool
            ts.resource_restrictions = {**user[key], pool_resource(pool): 1} if pool else (user[key] or None)
            if ts.state == "no-worker":
                no_worker.append(key)
        if replace and not view.restrict:  # one pool left: drop pool labels placed earlier
            for ts in tasks:
                if ts.key not in out.restrict and ts.resource_restrictions and any(
                        pool_of_label(r) for r in ts.resource_restrictions):
                    ts.resource_restrictions = user[ts.key] or None
                    if ts.state == "no-worker":
                        no_worker.append(ts.key)
        if no_worker:
            self.scheduler.transitions({k: "processing" for k in no_worker}, stimulus_id)
        if out.order and not replace and len(out.order) <= self.ORDER_HOLD_MAX:
            self._release_in_order(sorted(out.order, key=out.order.__getitem__), stimulus_id)

    #: Submissions up to this many planned tasks are released in the plan's order (see below).
    ORDER_HOLD_MAX = 20_000

    def _release_in_order(self, keys: list[Hashable], stimulus_id: str) -> None:
        """Hold the submission's tasks for one turn of the event loop, then release them in plan order.

        The scheduler has already fixed, before plugins run, the order in which it will dispatch
        this call's runnable tasks; the first of them reaches an idle worker before any priority
        can matter. Held (a resource no worker has), they wait in ``no-worker``; released in the
        plan's order, each pool's first task is the one the plan starts first.
        """
        tasks = self.scheduler.tasks
        held = []
        for key in keys:
            ts = tasks.get(key)
            if ts is not None and ts.state == "released":
                ts.resource_restrictions = {**(ts.resource_restrictions or {}), HOLD_RESOURCE: 1}
                held.append(key)
        if held:
            self.holding_.update(held)
            asyncio.get_running_loop().call_soon(self._release_held, held, f"{stimulus_id}-daskcollab-order")

    def _release_held(self, keys: list[Hashable], stimulus_id: str) -> None:
        release: dict[Hashable, str] = {}
        for key in keys:
            self.holding_.discard(key)
            ts = self.scheduler.tasks.get(key)
            if ts is None or not ts.resource_restrictions or HOLD_RESOURCE not in ts.resource_restrictions:
                continue
            restrictions = {r: q for r, q in ts.resource_restrictions.items() if r != HOLD_RESOURCE}
            ts.resource_restrictions = restrictions or None
            if ts.state == "no-worker":
                release[key] = "processing"
        if release:
            # the scheduler pops recommendations last-in first-out: insert the plan's first task last
            self.scheduler.transitions(dict(reversed(list(release.items()))), stimulus_id)

    def _replace(self, keys: Iterable[Hashable], *, stimulus_id: str) -> None:
        tasks = [ts for k in keys if (ts := self.scheduler.tasks.get(k)) is not None]
        if tasks:
            self._place(tasks, stimulus_id=stimulus_id, replace=True)

    def _record(self, decision: Decision) -> None:
        self.ledger_.record_decision(decision)

    #: Ad-hoc plans shorter than this, or with fewer tasks, teach no slippage (too noisy).
    SLIPPAGE_MIN_SECONDS, SLIPPAGE_MIN_TASKS, MAX_OPEN_PLANS = 0.5, 10, 1_000

    def _track_plan(self, keys: list[Hashable], makespan: float, *, fresh: bool) -> None:
        """Remember a fresh ad-hoc plan to learn its slippage when its last task is done; a re-plan
        cancels what it re-placed (the old prediction no longer applies)."""
        for key in keys:
            self.open_plans_.pop(self.plan_of_.pop(key, -1), None)
        if not fresh or not self.learn_ or len(keys) < self.SLIPPAGE_MIN_TASKS or makespan < self.SLIPPAGE_MIN_SECONDS:
            return
        self.plans_made_ += 1
        pid = self.plans_made_
        while len(self.open_plans_) >= self.MAX_OPEN_PLANS:
            self.open_plans_.pop(next(iter(self.open_plans_)))
        self.open_plans_[pid] = [float(len(keys)), makespan, time.time()]
        for key in keys:
            self.plan_of_[key] = pid

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

    # ------------------------------------------------------------------ watchdog
    def _watchdog(self) -> None:
        if self.scheduler.plugins.get(PLUGIN_NAME) is not self:
            self._stop()  # unregistered or replaced: save what was learned and stop
            return
        t0 = perf_counter()
        try:
            self._check_unrunnable()
            self._check_runs()
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
        view = self.cluster_view()
        live, declared = view.feasibility_pools()
        replace: list[Hashable] = []
        failures: dict[Hashable, Exception] = {}
        for ts, since in list(scheduler.unrunnable.items()):
            ann = (ts.annotations or {}).get(ANNOTATION_KEY)
            if (ann is None or ts.key in self.failing_ or ts.key in self.holding_ or ts.worker_restrictions
                    or ts.host_restrictions):
                continue
            plain, pinned = split_resources(ts.annotations.get("resources"))
            pool = pinned[0] if pinned else ann.get("pool")
            chosen = self.placed_.get(ts.key)
            if (pool is None and chosen is not None and chosen not in view.live and chosen not in self.elastic_
                    and now - since > 0.5):
                replace.append(ts.key)  # its planned pool is gone: place it again
                continue
            verdict = feasibility(plain, pool, live, declared)
            wanted = pool or chosen
            if verdict.verdict is Verdict.NEVER or (now - since > self.no_worker_timeout_ and
                                                    (wanted is None or wanted not in view.live)):
                missing = verdict.missing or {**plain, **({pool_resource(wanted): 1} if wanted else {})}
                failures[ts.key] = UnplaceableError(unplaceable_message(
                    ann.get("stage"), plain, wanted, missing, [*live, *declared],
                    waited=None if verdict.verdict is Verdict.NEVER else now - since))
        if replace:
            self._replace(replace, stimulus_id=f"daskcollab-watchdog-{time.time()}")
        if failures:
            fail_now(scheduler, failures, f"daskcollab-watchdog-{time.time()}")

    def _check_runs(self) -> None:
        """Compare every active run's spend and elapsed time with its budget and deadline."""
        now = time.time()
        for run_id, record in list(self.ledger_.runs.items()):
            if record.finished is not None or (record.budget is None and record.deadline is None):
                continue
            spend = self.ledger_.run_spend(record, now)[self.budget_counts_.value]
            problems = []
            if record.budget is not None and spend > record.budget and "over-budget" not in record.flags:
                problems.append(("over-budget", f"spent ${spend:.4f} ({self.budget_counts_.value}) of a "
                                                f"${record.budget:g} budget after {record.elapsed(now):.1f} s"))
            if record.deadline is not None and record.elapsed(now) > record.deadline and "over-deadline" not in record.flags:
                problems.append(("over-deadline", f"running {record.elapsed(now):.1f} s, past its {record.deadline:g} s deadline"))
            for reason, problem in problems:
                message = workflow_message(record.workflow, "budget" if reason == "over-budget" else
                                        "deadline", f"run {run_id}: {problem}",
                                        "raise the budget/deadline or make the workflow cheaper/faster")
                record.flags.add(reason)
                record.alerts.append(message)
                self._record(Decision(now, record.workflow, None, None, 0, reason, message=message, run=run_id))
                logger.warning("daskcollab: %s", message)
                if self.on_budget_miss_ is BudgetAction.FAIL:
                    self._fail_run(run_id, message)

    def _fail_run(self, run_id: str, message: str, error: type[Exception] = BudgetError,
                  status: str = "over-budget") -> None:
        """Err every waiting task of a run with ``error(message)``; its new tasks err at once."""
        self.failed_runs_[run_id] = (error, message)
        record = self.ledger_.runs.get(run_id)
        if record is not None and record.status == "running":
            record.status = status
        while len(self.failed_runs_) > 1_000:
            self.failed_runs_.pop(next(iter(self.failed_runs_)))
        # only tasks waiting to run: a *released* task may be a finished intermediate whose key a later
        # run shares (deterministic keys), which must not be poisoned
        failures = {ts.key: error(message) for ts in self.scheduler.tasks.values()
                    if ts.state in ("waiting", "no-worker", "queued")
                    and (self.submitted_.get(ts.key) or (ts.annotations or {}).get(ANNOTATION_KEY) or {}).get("run")
                    == run_id}
        if failures:
            fail_now(self.scheduler, failures, f"daskcollab-{status}-{time.time()}")

    def cancel_run(self, run_id: str, reason: str) -> None:
        """The runner gave up on a run (a stage failed): its waiting and new tasks err at once, so
        the run's other stages stop instead of computing on (xgboost collectives included)."""
        self._fail_run(run_id, reason, RunCancelledError, "cancelled")

    # ------------------------------------------------------------------ accounting and learning
    def transition(self, key: Hashable, start: str, finish: str, *args: Any, stimulus_id: str | None = None,
                   **kwargs: Any) -> None:
        if finish == "forgotten":
            self.finished_at_.pop(key, None)
            self.submitted_.pop(key, None)
            if key in self.plan_of_:  # released before it ran (cancelled): the plan is no sample
                self._finish_plan_task(key, False)
            return
        if start != "processing" or (finish != "memory" and finish != "erred"):
            return
        t0 = perf_counter()
        try:
            worker = kwargs.get("worker")
            info = self.workers_.get(worker) if worker is not None else None
            duration = 0.0
            began = stopped = None
            for ss in kwargs.get("startstops") or ():
                if ss.get("action") == "compute":
                    duration += ss["stop"] - ss["start"]
                    began = ss["start"] if began is None else min(began, ss["start"])
                    stopped = ss["stop"] if stopped is None else max(stopped, ss["stop"])
            ts = self.scheduler.tasks.get(key)
            ann = self.submitted_.get(key)
            if ann is None and ts is not None:
                ann = (ts.annotations or {}).get(ANNOTATION_KEY)
            stage = ann.get("stage") if ann else None
            pool = info.pool if info is not None and info.pool else None
            self.ledger_.record_task(key, stage=stage, pool=pool, duration=duration,
                                     price_per_hour=info.price_per_hour if info is not None else 0.0, worker=worker,
                                     run=ann.get("run") if ann else None, start=began, stop=stopped)
            self.tasks_accounted_ += 1
            if self.plan_of_:
                self._finish_plan_task(key, finish == "memory")
            # learn from every task of the first 1,000, then from every 8th (keeps the hook cheap)
            learn = self.learn_ and finish == "memory" and ann and ts is not None and (
                self.tasks_accounted_ <= 1_000 or not self.tasks_accounted_ % 8)
            if stopped is not None and worker is not None:
                if learn:
                    self._observe_overhead(ts, worker, began)
                self.finished_at_[key] = stopped
                free = self.worker_free_at_.get(worker)
                if free is None or stopped > free:
                    self.worker_free_at_[worker] = stopped
            if learn and pool and duration > 0:
                self.cost_model_.observe(stage, ts.prefix.name, pool, duration, info.speed, workflow=ann.get("workflow"))
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

    # ------------------------------------------------------------------ elastic pools
    def set_elastic(self, pools: Iterable[Pool | Mapping[str, Any]] | None) -> None:
        """Plan runs on the pools an elastic controller scales, each at its ``max_workers``; ``None``
        (the controller stopped): plan on the live pools again. Active runs are re-planned."""
        self.elastic_ = {p.name: p for p in map(pool_from_mapping, pools or ())}
        self._replan_runs("elastic pools changed")

    def demand(self, now: float | None = None) -> dict[str, dict[str, Any]]:
        """Per pool, what it needs now and soon: the active runs' planned needs (unix-second windows;
        a stage whose tasks compute or wait for a worker is needed now), its busy workers and the
        tasks outside planned runs waiting for it or queued on its workers (plain data of
        :class:`~daskcollab.placement._demand.PoolDemand`, JSON-ready)."""
        now = time.time() if now is None else now
        planning, _ = self._planning_pools(self.cluster_view())
        busy: dict[str, int] = {}
        tasks: dict[str, int] = {}
        active: dict[str, set[str]] = {}  # run -> stages with tasks computing or waiting for a worker

        def count(ts: Any, waiting: bool) -> None:
            plain, pinned = split_resources(ts.resource_restrictions)
            plain.pop(HOLD_RESOURCE, None)  # held one loop turn to be released in plan order: it waits all the same
            pool = pinned[0] if pinned else None
            if pool is None and waiting:  # no pool label: the cheapest pool that can run it
                able = [p for p in planning if can_run(plain, None, p)]
                pool = min(able, key=lambda p: p.price_per_hour / p.speed).name if able else None
            ann = self.submitted_.get(ts.key) or (ts.annotations or {}).get(ANNOTATION_KEY) or {}
            if ann.get("run") in self.run_plans_:
                active.setdefault(ann["run"], set()).add(ann.get("stage"))
            elif pool is not None:
                tasks[pool] = tasks.get(pool, 0) + 1

        for ts in self.scheduler.unrunnable:
            count(ts, True)
        for address, ws in self.scheduler.workers.items():
            info = self.workers_.get(address)
            if info is None or not info.pool or not ws.processing:
                continue
            busy[info.pool] = busy.get(info.pool, 0) + 1
            for ts in ws.processing:
                count(ts, False)
        needs = []
        for run_id, plan in self.run_plans_.items():
            record, spec = self.ledger_.runs.get(run_id), self.run_specs_.get(run_id)
            if record is None or record.finished is not None:
                continue
            spread_over = {s.name: [p for p in planning if can_run(s.resources, s.pool, p)] for s in spec.stages
                           if s.name in plan.stages and plan.stages[s.name].pool == ALL_POOLS} if spec else {}
            needs += run_needs(plan, record.started, {n: s.state for n, s in record.stages.items()}, now,
                               spread_over=spread_over, active=active.get(run_id, ()))
        names = [*self.live_pools(), *self.elastic_]
        return {name: d.to_dict() for name, d in pool_demand(needs, names, busy=busy, tasks=tasks).items()}

    def elastic_state(self) -> dict[str, Any]:
        """What a client-side elastic controller reads each step: ``demand`` and each pool's live ``workers``."""
        return {"demand": self.demand(), "workers": {n: p.workers for n, p in self.live_pools().items()}}

    def _price(self, pool: str) -> float:
        for source in (self.live_pools(), self.elastic_, self.declared_):
            if pool in source:
                return float(source[pool].price_per_hour)
        return 0.0

    def worker_requested(self, pool: str, n: int = 1, names: Iterable[str] = ()) -> None:
        """A controller asked for ``n`` workers of ``pool``: they are billed from now (a pod is paid
        while it boots); the next workers of the pool to join take the requests."""
        self.ledger_.worker_requested(pool, self._price(pool), n, names=tuple(map(str, names)))

    def requests_cancelled(self, pool: str, n: int | None = None) -> int:
        """``n`` (default all) requests of ``pool`` whose workers never joined were withdrawn."""
        return self.ledger_.requests_cancelled(pool, n)

    # ------------------------------------------------------------------ reporting
    def snapshot(self, run: str | None = None) -> dict[str, Any]:
        """Plain data (JSON-ready) for reports and the dashboard: the cluster-wide ledger with every
        run under ``runs``, pools, the plugin's settings and overhead; with ``run``, that run only."""
        if run is not None:
            record = self.ledger_.runs.get(run)
            return {} if record is None else self.ledger_.run_snapshot(record)
        data = self.ledger_.snapshot()
        seen = max(self.tasks_planned_, self.tasks_accounted_, 1)
        data.update({
            "mode": self.mode_.value,
            "tradeoff": self.tradeoff_,
            "budget_counts": self.budget_counts_.value,
            "task_overhead": self.cost_model_.task_overhead if self.task_overhead_ is None else self.task_overhead_,
            "slippage": self.cost_model_.slippage,
            "pools": {name: {"price_per_hour": p.price_per_hour, "speed": p.speed, "workers": p.workers,
                             "resources": dict(p.resources)} for name, p in self.live_pools().items()},
            "declared_pools": sorted(self.declared_),
            "waiting_by_pool": self._waiting_by_pool(),
            "elastic_pools": {name: {"min": p.min_workers, "max": p.max_workers} for name, p in self.elastic_.items()},
            "demand": self.demand(),
            "placements": {str(k): v for k, v in list(self.placed_.items())[:10_000]},
            "ran_on": {str(k): list(v) for k, v in list(self.ledger_.ran_on.items())[:10_000]},
            "cost_model_path": str(self.cost_model_path_),
            "overhead": {"hook_seconds": self.hook_seconds_, "update_graph_seconds": self.update_graph_seconds_,
                         "tasks_planned": self.tasks_planned_, "tasks_accounted": self.tasks_accounted_,
                         "us_per_task": 1e6 * self.hook_seconds_ / seen},
        })
        return data

    def _waiting_by_pool(self) -> dict[str, int]:
        """Tasks waiting in ``no-worker`` per pool they are restricted to."""
        out: dict[str, int] = {}
        for ts in self.scheduler.unrunnable:
            for label in ts.resource_restrictions or ():
                pool = pool_of_label(label)
                if pool is not None:
                    out[pool] = out.get(pool, 0) + 1
        return out


def _scheduler_snapshot(dask_scheduler: Any, run: str | None = None) -> dict[str, Any]:
    plugin = dask_scheduler.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise DaskCollabError(stage_message(
            "placement", None,
            f"expected the {PLUGIN_NAME!r} scheduler plugin, got plugins {sorted(dask_scheduler.plugins)!r}",
            "start the scheduler with --preload daskcollab.deploy.scheduler or call client.register_plugin(PlacementPlugin())",
        ))
    return plugin.snapshot(run)


def placement_report(client: Any, run: str | None = None) -> dict[str, Any]:
    """Decisions, money per pool/stage/run and plugin overhead, fetched from the scheduler
    (``run``: one run's ledger, as ``RunResult.placements`` holds it).

    Examples
    --------
    >>> placement_report(client)["cost_by_pool"]  # doctest: +SKIP
    {'cpu-spot': 0.0012, 'cpu-ondemand': 0.0031}
    """
    return client.run_on_scheduler(_scheduler_snapshot, run=run)


def save_cost_model(client: Any) -> str | None:
    """Persist the scheduler's learned cost model now; returns the path (None if nothing new)."""

    def _save(dask_scheduler: Any) -> str | None:
        plugin = dask_scheduler.plugins.get(PLUGIN_NAME)
        path = plugin.save_cost_model() if plugin is not None else None
        return None if path is None else str(path)

    return client.run_on_scheduler(_save)
