"""The placement ``SchedulerPlugin``: it translates scheduler events into calls on the pure policy and back.

Runs (``start_run``, ``stage_event``, ``finish_run``, ``cancel_run``; RPC from ``daskcollab.run``): :mod:`._runs`.
``update_graph``: new annotated tasks become views; :func:`~._decide.decide` says which pool label
restricts each, what errs, what is recorded. ``add_worker`` / ``remove_worker``: :mod:`._cluster`,
:mod:`._ledger`; a pool appearing, losing its last worker or a spot worker re-plans. ``transition``:
money (:mod:`._ledger`), the cost model (:mod:`._learning`, files: :mod:`._store`). The watchdog
(0.5 s): :mod:`._watchdog`, budgets (:meth:`._runs.Runs.verdicts`), spot stages behind (:mod:`._spot`).
Elastic pools (RPC from :mod:`daskcollab.deploy`): :mod:`._demand`. What it does to scheduler state
is in :mod:`._scheduler`. Known limit: restricted tasks bypass Dask's root-task queuing.
"""

from __future__ import annotations

import gc
import logging
import os
import pathlib
import time
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from daskcollab._contract import ANNOTATION_KEY, PLACEMENT_PLUGIN
from daskcollab._errors import BudgetError, RunCancelledError, UnplaceableError
from daskcollab._types import RunStatus
from daskcollab.placement import _scheduler as glue
from daskcollab.placement._decide import ClusterView
from daskcollab.placement._learning import Learner
from daskcollab.placement._runplan import RunSpec
from daskcollab.placement._settings import BudgetAction, BudgetBasis, arguments, resolve
from daskcollab.placement._spec import Mode, Pool
from daskcollab.placement._state import PlacementState
from daskcollab.placement._store import cost_model_path, load_cost_model, write_cost_model

logger = logging.getLogger("daskcollab.placement")

PLUGIN_NAME = PLACEMENT_PLUGIN
#: Submissions up to this many planned tasks are released in the plan's order (see ``_scheduler``).
ORDER_HOLD_MAX = 20_000


class PlacementPlugin(SchedulerPlugin):
    """Cost-aware placement of annotated tasks on worker pools.

    Every argument defaults to ``None``: ``collab.placement.<name>`` applies then (defaults in
    ``daskcollab.yaml``). A malformed value is a :class:`~daskcollab.UsageError` here, on the client.

    Parameters
    ----------
    mode : Mode or str, optional
        ``fastest``, ``cheapest`` or ``balanced`` (default), where neither run nor annotation names one.
    tradeoff : float, optional
        ``balanced``: the makespan a plan may add to the fastest plan's, as a fraction (0.5).
    pools : list of Pool or mapping, optional
        *Declared* pools (billing, start-up, spot terms; may have no live worker yet: tasks wait).
    cost_model_path : str or Path, optional
        The learned cost model's file (``~/.cache/daskcollab/cost-model.json``).
    learn : bool, optional
        Feed observed durations to the cost model (True).
    no_worker_timeout : float or str, optional
        How long a task only a pool without live workers can run waits before it errs (``60s``).
    on_budget_miss : BudgetAction or str, optional
        ``warn`` or ``fail`` (a :class:`~daskcollab.BudgetError`) when a plan or the money spent misses its budget.
    budget_counts : BudgetBasis or str, optional
        ``held`` (the bill: worker-seconds held x price; default) or ``busy``: what plans minimise and budgets count.
    default_work, task_overhead, min_work : float, optional
        Work (s at speed 1.0) with no estimate (1.0); seconds per task besides its work (learned); ad-hoc
        tasks with less work than ``min_work`` get no restriction (0.005).

    Examples
    --------
    >>> client.register_plugin(PlacementPlugin(mode="cheapest"))  # doctest: +SKIP
    """

    name = PLUGIN_NAME

    def __init__(self, *, mode: Mode | str | None = None, tradeoff: float | None = None,
                 pools: Iterable[Pool | Mapping[str, Any]] | None = None, cost_model_path: str | os.PathLike | None = None,
                 learn: bool | None = None, no_worker_timeout: float | str | None = None,
                 on_budget_miss: BudgetAction | str | None = None, budget_counts: BudgetBasis | str | None = None,
                 default_work: float | None = None, task_overhead: float | str | None = None,
                 min_work: float | None = None) -> None:
        self.options = arguments(mode=mode, tradeoff=tradeoff, pools=pools, learn=learn, min_work=min_work,
                                 no_worker_timeout=no_worker_timeout, on_budget_miss=on_budget_miss,
                                 budget_counts=budget_counts, default_work=default_work, task_overhead=task_overhead)
        self.cost_model_path = cost_model_path
        self.scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        from tornado.ioloop import PeriodicCallback

        self.scheduler = scheduler
        settings = resolve(**self.options)
        self.cost_model_path_ = cost_model_path(self.cost_model_path)
        self.state_ = PlacementState(settings, Learner(load_cost_model(self.cost_model_path_), enabled=settings.learn))
        self.last_save_ = time.monotonic()
        for address, ws in scheduler.workers.items():
            self.state_.worker_joined(address, ws.extra, ws.resources, str(ws.name), time.time())
        self.pc_name_ = f"{PLUGIN_NAME}-{id(self):x}"
        pc = scheduler.periodic_callbacks[self.pc_name_] = PeriodicCallback(self._watchdog, 500)
        pc.start()

    async def close(self) -> None:
        if self.scheduler is not None:
            self._stop()

    def _stop(self) -> None:
        if (pc := self.scheduler.periodic_callbacks.pop(self.pc_name_, None)) is not None:
            pc.stop()
        self.save_cost_model()

    def save_cost_model(self) -> pathlib.Path | None:
        """Write the learned cost model to ``cost_model_path_`` now (None: nothing new to save)."""
        learner = self.state_.learner
        if not learner.enabled or not learner.dirty:
            return None
        learner.dirty, self.last_save_ = False, time.monotonic()
        return write_cost_model(learner.model, self.cost_model_path_)

    def cluster_view(self) -> ClusterView:
        """The cluster as the pure policy sees it."""
        return self.state_.cluster_view()

    def _timed(self, hook: str = "hook_seconds") -> glue.HookTimer:
        return glue.HookTimer(self.state_.overhead, hook)

    def _warn(self, warnings: Iterable[str]) -> None:
        for warning in warnings:
            logger.warning("daskcollab: %s", warning)

    def add_worker(self, scheduler: Any, worker: str) -> None:
        with self._timed():
            if (ws := scheduler.workers.get(worker)) is None:
                return
            had_pools = bool(self.state_.pools.live())
            if self.state_.worker_joined(worker, ws.extra, ws.resources, str(ws.name), time.time()) is not None:
                self._warn(self.state_.replan_runs("a pool appeared", time.time()))
                if had_pools:
                    self._replace([k for k in self.state_.placed if self._pending(k)],
                                  f"daskcollab-add-worker-{time.time()}")

    def remove_worker(self, scheduler: Any, worker: str, *, stimulus_id: str, **kwargs: Any) -> None:
        with self._timed():
            pool, why = self.state_.worker_left(worker, time.time())
            if why is not None:
                self._warn(self.state_.replan_runs(why, time.time()))
            if pool is not None:
                self._replace([k for k, p in self.state_.placed.items() if p == pool and self._pending(k)], stimulus_id)

    def _pending(self, key: Hashable) -> bool:
        ts = self.scheduler.tasks.get(key)
        return ts is not None and ts.state in glue.PENDING

    def start_run(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Register a run (its stage graph) and plan it: ``{"plan", "warnings"}`` or ``{"error", "kind"}``."""
        reply = self.state_.start_run(RunSpec.from_dict(spec), time.time())
        self._warn(reply.get("warnings", ()) if reply.get("plan") is not None else ())
        return reply

    def stage_event(self, run_id: str, stage: str, state: str) -> None:
        """A stage of a run changed state (``running``, ``done``, ``failed``, ``reused``), reported by the runner."""
        self._warn(self.state_.stage_event(run_id, stage, state, time.time()))

    def finish_run(self, run_id: str, status: str = RunStatus.DONE.value) -> dict[str, Any] | None:
        """End a run: learn its stages' durations, save the cost model; return the run's snapshot."""
        snapshot = self.state_.finish_run(run_id, RunStatus(status), time.time())
        self.save_cost_model()
        return snapshot

    def cancel_run(self, run_id: str, reason: str) -> None:
        """The runner gave up on a run (a stage failed): its waiting and new tasks err at once, so
        the run's other stages stop instead of computing on (xgboost collectives included)."""
        self._fail_run(run_id, reason, RunCancelledError, RunStatus.CANCELLED)

    def _fail_run(self, run_id: str, message: str, error: type[Exception] = BudgetError,
                  status: RunStatus = RunStatus.OVER_BUDGET) -> None:
        self.state_.runs.fail(run_id, message, error, status)
        keys = glue.waiting_of_run(self.scheduler, run_id, self.state_.submitted)
        glue.fail_now(self.scheduler, {key: error(message) for key in keys}, f"daskcollab-{status.value}-{time.time()}")

    def update_graph(self, scheduler: Any, *, client: str, keys: set, tasks: list,
                     annotations: dict[str, dict[Hashable, Any]], priority: dict, stimulus_id: str,
                     **kwargs: Any) -> None:
        collab = annotations.get(ANNOTATION_KEY)
        if not collab:
            return
        # Views and plans are acyclic garbage freed by reference counting; a full cyclic collection
        # of the scheduler's heap (~0.5 s at 50k tasks) triggered by them is deferred.
        collecting = gc.isenabled()
        gc.disable()
        try:
            with self._timed(), self._timed("update_graph_seconds"):
                glue.note_submission(self.state_.submitted, collab, tasks)
                self.state_.tasks_submitted(collab)
                get = scheduler.tasks.get
                selected = [ts for key in collab if (ts := get(key)) is not None and ts.state == "released"
                            and ts.run_spec is not None and not ts.worker_restrictions and not ts.host_restrictions]
                if selected:
                    self._place(selected, stimulus_id)
        finally:
            if collecting:
                gc.enable()

    def _place(self, tasks: list[Any], stimulus_id: str, *, replace: bool = False) -> None:
        views, user = glue.task_views(tasks, self.state_.learner.model, self.state_.settings.default_work)
        placement = self.state_.place(views, time.time(), replace=replace)
        if placement.errors:
            glue.fail_soon(self.scheduler, placement.errors, stimulus_id, self.state_.failing)
        self._warn(placement.warnings)
        if (out := placement.decisions) is None or placement.rejected:
            return
        glue.apply_decisions(self.scheduler, tasks, out, user, self.state_.placed, stimulus_id,
                             drop_pool_labels=placement.drop_pool_labels)
        if out.order and not replace and len(out.order) <= ORDER_HOLD_MAX:
            glue.hold_in_order(self.scheduler, sorted(out.order, key=out.order.__getitem__), stimulus_id,
                               self.state_.holding)

    def _replace(self, keys: Iterable[Hashable], stimulus_id: str) -> None:
        tasks = [ts for k in keys if (ts := self.scheduler.tasks.get(k)) is not None]
        if tasks:
            self._place(tasks, stimulus_id, replace=True)

    def transition(self, key: Hashable, start: str, finish: str, *args: Any, stimulus_id: str | None = None,
                   **kwargs: Any) -> None:
        state = self.state_
        if finish == "forgotten":
            state.submitted.pop(key, None)
            state.learner.task_forgotten(key)
            return
        if start != "processing" or (finish != "memory" and finish != "erred"):
            return
        with self._timed():
            ts = self.scheduler.tasks.get(key)
            ann = state.submitted.get(key) or (ts is not None and (ts.annotations or {}).get(ANNOTATION_KEY)) or {}
            state.task_finished(key, finish == "memory", kwargs.get("worker"), glue.compute_span(kwargs.get("startstops")),
                                ann, prefix=ts.prefix.name if ts is not None else None, now=time.time(),
                                dependencies=lambda: (d.key for d in ts.dependencies))

    def _watchdog(self) -> None:
        if self.scheduler.plugins.get(PLUGIN_NAME) is not self:
            self._stop()  # unregistered or replaced: save what was learned and stop
            return
        state = self.state_
        with self._timed():
            try:
                if self.scheduler.unrunnable:
                    verdicts = state.watch(glue.waiting_tasks(self.scheduler, state.placed,
                                                              (state.failing, state.holding), time.monotonic()))
                    self._replace(verdicts.replace, f"daskcollab-watchdog-{time.time()}")
                    glue.fail_now(self.scheduler, {k: UnplaceableError(m) for k, m in verdicts.fail.items()},
                                  f"daskcollab-watchdog-{time.time()}")
                for alert in state.runs.verdicts(state.settings.budget_counts, time.time()):
                    self._warn([alert.message])
                    if state.settings.on_budget_miss is BudgetAction.FAIL:
                        self._fail_run(alert.run_id, alert.message)
                for run_id, moves, warning in state.spot_check(time.time()):  # behind on spot: on-demand from now
                    logger.info("daskcollab: run %s: %s", run_id, ", ".join(f"{m.stage} off spot ({m.reason})" for m in moves))
                    self._warn([warning] if warning else [])
                    self._replace(glue.pending_of(self.scheduler, run_id, {m.stage for m in moves}, state.submitted),
                                  f"daskcollab-off-spot-{time.time()}")
                if state.learner.dirty and time.monotonic() - self.last_save_ > 5.0:
                    self.save_cost_model()
            except Exception:  # never let the periodic callback die
                logger.exception("daskcollab placement watchdog failed")

    def set_elastic(self, pools: Iterable[Pool | Mapping[str, Any]] | None) -> None:
        """Plan runs on the pools an elastic controller scales, each at its ``max_workers``; ``None``
        (the controller stopped): plan on the live pools again. Active runs are re-planned."""
        self.state_.pools.set_elastic(pools)
        self._warn(self.state_.replan_runs("elastic pools changed", time.time()))

    def demand(self, now: float | None = None) -> dict[str, dict[str, Any]]:
        """Per pool, what it needs now and soon (plain data of :class:`~daskcollab.placement.PoolDemand`)."""
        tasks, busy = glue.task_needs(self.scheduler, self.state_.pools.workers, self.state_.submitted)
        return self.state_.demand(tasks, busy, time.time() if now is None else now)

    def elastic_state(self) -> dict[str, Any]:
        """What a client-side elastic controller reads each step: ``demand`` and each pool's live ``workers``."""
        return {"demand": self.demand(), "workers": {n: p.workers for n, p in self.state_.pools.live().items()}}

    def worker_requested(self, pool: str, n: int = 1, names: Iterable[str] = ()) -> None:
        """A controller asked for ``n`` workers of ``pool``: billed from now (a pod is paid while it boots)."""
        self.state_.ledger.worker_requested(pool, self.state_.pools.price(pool, self.state_.settings), n,
                                            names=tuple(map(str, names)), now=time.time())

    def requests_cancelled(self, pool: str, n: int | None = None) -> int:
        """``n`` (default all) requests of ``pool`` whose workers never joined were withdrawn."""
        return self.state_.ledger.requests_cancelled(pool, n, now=time.time())

    def snapshot(self, run: str | None = None) -> dict[str, Any]:
        """Plain data (JSON-ready): the cluster-wide ledger with every run, pools, settings and
        overhead; with ``run``, that run only."""
        if run is not None:
            return self.state_.run_snapshot(run, time.time())
        return self.state_.snapshot(waiting_by_pool=glue.waiting_by_pool(self.scheduler), demand=self.demand(),
                                    cost_model_path=str(self.cost_model_path_), now=time.time())
