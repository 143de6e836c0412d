"""What the cost model learns while work runs (pure; the plugin reports each finished task and run).

Three lessons, all into one :class:`~daskcollab.placement.CostModel`:

* **task work**: a finished task's compute seconds on its pool, per (workflow, stage, task prefix,
  pool), from every task of the first :data:`LEARN_ALL` and then from every :data:`LEARN_EVERY`-th
  (keeps the scheduler's transition hook cheap);
* **task overhead**: the wait before a task started although its inputs were done and its worker
  free (dispatch and input transfer), from the same sample;
* **slippage**: actual / planned makespan of an ad-hoc plan, when its last task is done;
* **stages**: at the end of a run, each finished stage's work, width and latency
  (:func:`~daskcollab.placement._ledger.stage_observation`), under the option it was planned on.

``dirty`` tells the store that there is something new to save.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from daskcollab._types import StageState
from daskcollab.placement._cost_model import CostModel
from daskcollab.placement._ledger import RunLedger, stage_observation
from daskcollab.placement._runplan import RunPlan

#: Every task teaches the model up to this count, then every ``LEARN_EVERY``-th.
LEARN_ALL, LEARN_EVERY = 1_000, 8
#: Ad-hoc plans shorter than this (seconds), or with fewer tasks, teach no slippage (too noisy).
SLIPPAGE_MIN_SECONDS, SLIPPAGE_MIN_TASKS = 0.5, 10
#: Open ad-hoc plans remembered at most (the oldest is forgotten first).
MAX_OPEN_PLANS = 1_000
#: Waits longer than this are queueing behind other work, not per-task overhead.
MAX_OVERHEAD_SECONDS = 10.0


@dataclass
class Learner:
    """Feeds observations to ``model`` (see the module docstring); ``enabled=False`` learns nothing.

    Examples
    --------
    >>> learner = Learner(CostModel())
    >>> learner.task_done("x-1", True, annotated=True, stage="fit", prefix="x", workflow="wf", pool="gpu",
    ...                   speed=2.0, duration=3.0, worker="w", began=0.0, stopped=3.0, now=3.0)
    >>> learner.model.estimate("fit", "x", "gpu", 1.0, workflow="wf"), learner.dirty
    (6.0, True)
    """

    model: CostModel
    enabled: bool = True
    dirty: bool = False
    tasks_seen: int = 0
    finished_at: dict[Hashable, float] = field(default_factory=dict)  # compute stop of finished tasks still held
    worker_free_at: dict[str, float] = field(default_factory=dict)  # last compute stop per worker
    open_plans: dict[int, list[float]] = field(default_factory=dict)  # plan id -> [tasks left, makespan, start]
    plan_of: dict[Hashable, int] = field(default_factory=dict)
    plans_made: int = 0

    def task_done(self, key: Hashable, ok: bool, *, annotated: bool, stage: str | None, prefix: str | None,
                  workflow: str | None, pool: str | None, speed: float, duration: float, worker: str | None,
                  began: float | None, stopped: float | None, now: float,
                  dependencies: Callable[[], Iterable[Hashable]] = tuple) -> None:
        """A task finished (``ok``) or erred on ``worker``; ``dependencies`` gives its inputs' keys."""
        self.tasks_seen += 1
        if self.plan_of:
            self._plan_task_done(key, ok, now)
        learn = self.enabled and ok and annotated and (
            self.tasks_seen <= LEARN_ALL or not self.tasks_seen % LEARN_EVERY)
        if stopped is not None and worker is not None:
            if learn and began is not None:
                self._observe_overhead(worker, began, dependencies())
            self.finished_at[key] = stopped
            free = self.worker_free_at.get(worker)
            if free is None or stopped > free:
                self.worker_free_at[worker] = stopped
        if learn and pool and duration > 0:
            self.model.observe(stage, prefix, pool, duration, speed, workflow=workflow)
            self.dirty = True

    def task_forgotten(self, key: Hashable) -> None:
        self.finished_at.pop(key, None)
        if key in self.plan_of:  # released before it ran (cancelled): the plan is no sample
            self._plan_task_done(key, False, 0.0)

    def _observe_overhead(self, worker: str, began: float, dependencies: Iterable[Hashable]) -> None:
        runnable = self.worker_free_at.get(worker)
        if runnable is None:
            return  # the worker's first task here: its idle time before is not overhead
        for dep in dependencies:
            done = self.finished_at.get(dep)
            if done is None:
                return  # an input finished before the plugin watched: unknown
            if done > runnable:
                runnable = done
        gap = began - runnable
        if 0.0 <= gap < MAX_OVERHEAD_SECONDS:
            self.model.observe_overhead(gap)
            self.dirty = True

    def plan_made(self, keys: list[Hashable], makespan: float, *, fresh: bool, now: float) -> None:
        """Remember a fresh ad-hoc plan to learn its slippage when its last task is done; a re-plan
        cancels what it re-placed (the old prediction no longer applies)."""
        for key in keys:
            self.open_plans.pop(self.plan_of.pop(key, -1), None)
        if not fresh or not self.enabled or len(keys) < SLIPPAGE_MIN_TASKS or makespan < SLIPPAGE_MIN_SECONDS:
            return
        self.plans_made += 1
        while len(self.open_plans) >= MAX_OPEN_PLANS:
            self.open_plans.pop(next(iter(self.open_plans)))
        self.open_plans[self.plans_made] = [float(len(keys)), makespan, now]
        for key in keys:
            self.plan_of[key] = self.plans_made

    def _plan_task_done(self, key: Hashable, ok: bool, now: float) -> None:
        pid = self.plan_of.pop(key, None)
        record = self.open_plans.get(pid) if pid is not None else None
        if record is None:
            return
        if not ok:
            del self.open_plans[pid]  # a failed task: the run is not a fair sample
            return
        record[0] -= 1
        if record[0] <= 0:
            del self.open_plans[pid]
            self.model.observe_slippage(record[1], now - record[2])
            self.dirty = True

    def run_done(self, record: RunLedger, plan: RunPlan | None, speeds: Mapping[str, float]) -> None:
        """A run finished well: learn each finished stage under the option it was planned on (a
        spread stage: ``"*"``, with the money the pools' mix cost), so the next plan looks up what
        this one did."""
        if not self.enabled:
            return
        for name, s in record.stages.items():
            obs = stage_observation(s, speeds, record)
            if obs is not None and s.state == StageState.DONE:
                main, work, width, latency, cost = obs
                planned = plan.stages.get(name) if plan is not None else None
                self.model.observe_stage(record.workflow, name, planned.pool if planned else main,
                                         work=work, width=width, latency=latency, cost=cost)
                self.dirty = True
