"""Money and time: what the cluster and each workflow run spent (pure; the plugin feeds it).

Two prices of the same work:

* **busy**: compute seconds of finished tasks (the workers' ``startstops``) x the pool's price;
* **held**: seconds a worker was part of the cluster, from join to leave, busy or idle, x its
  price: what a cloud bills. A worker an elastic controller asked for is billed from the request
  (:meth:`Ledger.worker_requested`: a pod is paid while it boots); the part before it joined is
  also reported on its own as **start-up** time. A request cancelled before its worker joined is
  billed from the request to the cancellation; a worker nobody asked for (started by hand, a
  static cluster) from its join.

The cluster-wide totals cover everything the plugin saw. Each run of ``daskcollab.run`` has its
own :class:`RunLedger` (keyed by run id): busy cost per pool and stage, held cost of the whole
cluster over the run's window (from its start to its end: with two runs at once, each is charged
the cluster it ran on), and the budget / deadline it is compared with while it runs. A run's held
cost is shared among its stages in proportion to their busy seconds on each pool.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from daskcollab._types import RunStatus, StageState

UNANNOTATED = "(unannotated)"


@dataclass(frozen=True)
class Decision:
    """One placement decision of the plugin, per stage and submission.

    ``reason``: ``"plan"`` (the policy chose), ``"run-plan"`` (the run's plan chose), ``"pinned"``
    (the stage named its pool), ``"replan"``, ``"below min-work"``, ``"wait"`` (only a declared pool
    can run it), ``"unplaceable"``, ``"budget"``, ``"over-budget"``, ``"over-deadline"``.
    """

    time: float
    workflow: str | None
    stage: str | None
    pool: str | None
    ntasks: int
    reason: str
    mode: str | None = None
    estimated_work: float | None = None
    estimated_makespan: float | None = None
    estimated_cost: float | None = None
    message: str | None = None
    run: str | None = None


@dataclass
class Totals:
    tasks: int = 0
    busy_seconds: float = 0.0
    cost: float = 0.0

    def add(self, seconds: float, cost: float) -> None:
        self.tasks += 1
        self.busy_seconds += seconds
        self.cost += cost


@dataclass
class WorkerSpan:
    """One worker's stay: asked for (``requested``, when a controller asked), joined, left.

    ``joined`` is None while the worker boots (asked for, not joined yet); ``address`` is then the
    name it was asked for under, or empty.
    """

    address: str
    pool: str
    price_per_hour: float
    joined: float | None
    left: float | None = None
    requested: float | None = None

    @property
    def start(self) -> float:
        """When billing starts: the request, else the join."""
        return self.requested if self.requested is not None else self.joined  # type: ignore[return-value]

    def held(self, t0: float, t1: float) -> float:
        """Billed seconds within ``[t0, t1]`` (start-up included)."""
        end = t1 if self.left is None else min(self.left, t1)
        return max(0.0, end - max(self.start, t0))

    def booting(self, t0: float, t1: float) -> float:
        """Seconds within ``[t0, t1]`` between the request and the join (or the cancellation)."""
        if self.requested is None:
            return 0.0
        end = self.joined if self.joined is not None else (math.inf if self.left is None else self.left)
        return max(0.0, min(end, t1) - max(self.requested, t0))


@dataclass
class StageRecord:
    """One stage of a run: busy totals per pool, its tasks' compute intervals, its state."""

    by_pool: dict[str, Totals] = field(default_factory=dict)
    intervals: list[tuple[float, float, str, str]] = field(default_factory=list)  # (start, stop, pool, worker)
    state: StageState = StageState.PENDING
    started: float | None = None
    finished: float | None = None
    first_start: float | None = None
    last_stop: float | None = None

    MAX_INTERVALS = 100_000

    def active_seconds(self) -> float:
        """Seconds during which at least one of the stage's tasks computed (union of intervals)."""
        return _union_length((a, b) for a, b, *_ in self.intervals)

    def gaps(self) -> list[tuple[float, float]]:
        """Stretches of the stage's wall time (runner start to finish) when none of its tasks computed."""
        spans = sorted((a, b) for a, b, *_ in self.intervals)
        t0 = self.started if self.started is not None else (spans[0][0] if spans else None)
        t1 = self.finished if self.finished is not None else (max(b for _, b in spans) if spans else None)
        if t0 is None or t1 is None:
            return []
        out, cursor = [], t0
        for a, b in spans:
            if a > cursor:
                out.append((cursor, min(a, t1)))
            cursor = max(cursor, b)
        if t1 > cursor:
            out.append((cursor, t1))
        return [(a, b) for a, b in out if b > a]


def _union_length(spans) -> float:
    total, end = 0.0, None
    for a, b in sorted(spans):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def _all_busy(intervals: list[tuple[float, float]], workers: int, t0: float, t1: float) -> float:
    """Seconds of ``[t0, t1]`` during which ``workers`` workers were all computing (sweep over intervals)."""
    events = sorted([(max(a, t0), 1) for a, b in intervals if b > t0 and a < t1]
                    + [(min(b, t1), -1) for a, b in intervals if b > t0 and a < t1])
    busy, last, total = 0, t0, 0.0
    for t, step in events:
        if busy >= workers:
            total += t - last
        busy += step
        last = t
    return total


@dataclass
class RunLedger:
    """Spend and progress of one workflow run (see the module docstring)."""

    run_id: str
    workflow: str
    started: float
    budget: float | None = None
    deadline: float | None = None
    finished: float | None = None
    status: RunStatus = RunStatus.RUNNING
    stages: dict[str, StageRecord] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    replans: int = 0
    alerts: list[str] = field(default_factory=list)  # budget / deadline messages, in order
    flags: set[str] = field(default_factory=set)  # which alerts were raised ("over-budget", ...)

    def stage(self, name: str) -> StageRecord:
        record = self.stages.get(name)
        if record is None:
            record = self.stages[name] = StageRecord()
        return record

    def elapsed(self, now: float) -> float:
        return (self.finished or now) - self.started


@dataclass
class Ledger:
    """Cluster-wide totals, worker spans, decisions, and one :class:`RunLedger` per run.

    Examples
    --------
    >>> ledger = Ledger()
    >>> ledger.worker_up("w1", "gpu", 3.6, now=0.0)
    >>> ledger.record_task("x-1", stage="fit", pool="gpu", duration=10.0, price_per_hour=3.6)
    >>> round(ledger.cost, 4), round(ledger.held_cost_by_pool(0.0, 100.0)["gpu"], 4)
    (0.01, 0.1)
    """

    max_decisions: int = 10_000
    max_tasks: int = 200_000
    max_runs: int = 100
    decisions: deque[Decision] = field(default_factory=deque)
    by_pool: dict[str, Totals] = field(default_factory=dict)
    by_stage: dict[str, Totals] = field(default_factory=dict)
    ran_on: dict[Hashable, tuple[str, str | None]] = field(default_factory=dict)
    spans: list[WorkerSpan] = field(default_factory=list)
    runs: dict[str, RunLedger] = field(default_factory=dict)
    budget: float | None = None  # of ad-hoc submissions (annotations), not of runs
    deadline: float | None = None
    _open: dict[str, WorkerSpan] = field(default_factory=dict)
    _booting: dict[str, deque[WorkerSpan]] = field(default_factory=dict)  # pool -> requests, oldest first

    # ------------------------------------------------------------------ workers
    def worker_requested(self, pool: str, price_per_hour: float, n: int = 1, *, names: tuple[str, ...] = (),
                         now: float) -> None:
        """An elastic controller asked for ``n`` workers of ``pool``: bill them from now (they boot).

        The next workers of ``pool`` to join take these requests (the one asked for under its
        name first, else the oldest).
        """
        queue = self._booting.setdefault(pool, deque())
        for i in range(int(n)):
            span = WorkerSpan(names[i] if i < len(names) else "", pool, float(price_per_hour), None, requested=now)
            queue.append(span)
            self.spans.append(span)

    def requests_cancelled(self, pool: str, n: int | None = None, *, now: float) -> int:
        """``n`` (default all) of ``pool``'s requests whose worker has not joined were withdrawn, newest
        first: billed from the request to now. Returns how many were withdrawn."""
        queue = self._booting.get(pool) or deque()
        count = 0
        while queue and (n is None or count < n):
            queue.pop().left = now
            count += 1
        return count

    def worker_up(self, address: str, pool: str, price_per_hour: float, *, now: float,
                  name: str | None = None) -> None:
        if address in self._open:
            return
        queue = self._booting.get(pool)
        if queue:
            i = next((i for i, s in enumerate(queue) if name is not None and s.address == str(name)), 0)
            span = queue[i]
            del queue[i]
            span.address, span.joined, span.price_per_hour = address, now, float(price_per_hour)
        else:
            span = WorkerSpan(address, pool, float(price_per_hour), now)
            self.spans.append(span)
        self._open[address] = span

    def worker_down(self, address: str, *, now: float) -> None:
        span = self._open.pop(address, None)
        if span is not None:
            span.left = now

    def _by_pool(self, t0: float, t1: float, *, booting: bool = False, money: bool = False) -> dict[str, float]:
        """Per pool, the spans' held (or booting) seconds within ``[t0, t1]``, or their money."""
        out: dict[str, float] = {}
        for span in self.spans:
            seconds = span.booting(t0, t1) if booting else span.held(t0, t1)
            if seconds > 0:
                out[span.pool] = out.get(span.pool, 0.0) + (seconds * span.price_per_hour / 3600.0 if money else seconds)
        return out

    def held_seconds_by_pool(self, t0: float, t1: float) -> dict[str, float]:
        return self._by_pool(t0, t1)

    def held_cost_by_pool(self, t0: float, t1: float) -> dict[str, float]:
        return self._by_pool(t0, t1, money=True)

    def startup_seconds_by_pool(self, t0: float, t1: float) -> dict[str, float]:
        """Billed seconds within ``[t0, t1]`` during which asked-for workers booted (part of held)."""
        return self._by_pool(t0, t1, booting=True)

    def startup_cost_by_pool(self, t0: float, t1: float) -> dict[str, float]:
        return self._by_pool(t0, t1, booting=True, money=True)

    def workers_by_pool(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for span in self._open.values():
            out[span.pool] = out.get(span.pool, 0) + 1
        return out

    def booting_by_pool(self) -> dict[str, int]:
        """Workers asked for that have not joined yet, per pool."""
        return {pool: len(queue) for pool, queue in self._booting.items() if queue}

    # ------------------------------------------------------------------ runs
    def start_run(self, run_id: str, workflow: str, *, budget: float | None, deadline: float | None,
                  now: float) -> RunLedger:
        while len(self.runs) >= self.max_runs:
            oldest = next((k for k, r in self.runs.items() if r.finished is not None), next(iter(self.runs)))
            del self.runs[oldest]
        run = self.runs[run_id] = RunLedger(run_id, workflow, now, budget, deadline)
        return run

    def run_spend(self, run: RunLedger, now: float) -> dict[str, float]:
        """``{"busy": $, "held": $}`` of a run so far."""
        busy = sum(t.cost for s in run.stages.values() for t in s.by_pool.values())
        held = sum(self.held_cost_by_pool(run.started, run.finished or now).values())
        return {"busy": busy, "held": held}

    def ad_hoc_objective(self, budget: float | None, deadline: float | None) -> None:
        """The budget and deadline of ad-hoc (annotated, not run) submissions, as their latest plan had them."""
        if budget is not None:
            self.budget = float(budget)
        if deadline is not None:
            self.deadline = float(deadline)

    # ------------------------------------------------------------------ tasks and decisions
    def record_decision(self, decision: Decision) -> None:
        self.decisions.append(decision)
        while len(self.decisions) > self.max_decisions:
            self.decisions.popleft()

    def record_task(
        self,
        key: Hashable,
        *,
        stage: str | None,
        pool: str | None,
        duration: float,
        price_per_hour: float,
        worker: str | None = None,
        run: str | None = None,
        start: float | None = None,
        stop: float | None = None,
    ) -> None:
        """Account one finished task: ``duration`` busy seconds on a worker of ``pool``."""
        cost = duration * price_per_hour / 3600.0
        for table, name in ((self.by_pool, pool), (self.by_stage, stage)):
            totals = table.get(name or UNANNOTATED)
            if totals is None:
                totals = table[name or UNANNOTATED] = Totals()
            totals.add(duration, cost)
        if len(self.ran_on) < self.max_tasks:
            self.ran_on[key] = (worker or "", pool)
        record = self.runs.get(run) if run is not None else None
        if record is None or stage is None or record.finished is not None:
            return  # a run's ledger closes when the run ends (a key it shared may run again later)
        s = record.stage(stage)
        totals = s.by_pool.get(pool or UNANNOTATED)
        if totals is None:
            totals = s.by_pool[pool or UNANNOTATED] = Totals()
        totals.add(duration, cost)
        if start is not None and stop is not None:
            if len(s.intervals) < StageRecord.MAX_INTERVALS:
                s.intervals.append((start, stop, pool or UNANNOTATED, worker or ""))
            s.first_start = start if s.first_start is None else min(s.first_start, start)
            s.last_stop = stop if s.last_stop is None else max(s.last_stop, stop)

    @property
    def cost(self) -> float:
        return sum(t.cost for t in self.by_pool.values())

    # ------------------------------------------------------------------ views
    def run_snapshot(self, run: RunLedger, now: float, spot: Collection[str] = ()) -> dict[str, Any]:
        """Plain data of one run: spend (busy, held) per pool and stage, stage states, budget, plan;
        the held money on ``spot`` pools and on the others (on-demand), and the deadline's margin
        (seconds left, or by how much it was missed: negative)."""
        end = run.finished or now
        held_pool = self.held_cost_by_pool(run.started, end)
        held_seconds = self.held_seconds_by_pool(run.started, end)
        startup_pool = self.startup_cost_by_pool(run.started, end)
        busy_pool: dict[str, float] = {}
        busy_seconds_pool: dict[str, float] = {}
        for s in run.stages.values():
            for pool, t in s.by_pool.items():
                busy_pool[pool] = busy_pool.get(pool, 0.0) + t.cost
                busy_seconds_pool[pool] = busy_seconds_pool.get(pool, 0.0) + t.busy_seconds
        stages = {}
        for name, s in run.stages.items():
            held = sum(held_pool.get(pool, 0.0) * t.busy_seconds / busy_seconds_pool[pool]
                       for pool, t in s.by_pool.items() if busy_seconds_pool.get(pool))
            stages[name] = {
                "state": StageState(s.state).value, "started": s.started, "finished": s.finished,
                "tasks": sum(t.tasks for t in s.by_pool.values()),
                "busy_seconds": sum(t.busy_seconds for t in s.by_pool.values()),
                "active_seconds": s.active_seconds(),
                "cost_busy": sum(t.cost for t in s.by_pool.values()), "cost_held": held,
                "pools": {pool: {"tasks": t.tasks, "busy_seconds": t.busy_seconds, "cost": t.cost}
                          for pool, t in s.by_pool.items()},
                "first_start": s.first_start, "last_stop": s.last_stop,
                # each task's compute interval [start, stop, pool, worker] (Gantt charts)
                "intervals": [list(i) for i in s.intervals],
            }
        busy, held = sum(busy_pool.values()), sum(held_pool.values())
        spend = held
        return {
            "run_id": run.run_id, "workflow": run.workflow, "status": RunStatus(run.status).value,
            "started": run.started, "finished": run.finished, "elapsed": end - run.started,
            "budget": run.budget, "deadline": run.deadline,
            "cost_busy": busy, "cost_held": held, "cost_startup": sum(startup_pool.values()),
            "cost_busy_by_pool": busy_pool, "cost_held_by_pool": held_pool, "cost_startup_by_pool": startup_pool,
            "busy_seconds_by_pool": busy_seconds_pool, "held_seconds_by_pool": held_seconds,
            "startup_seconds_by_pool": self.startup_seconds_by_pool(run.started, end),
            "over_budget": None if run.budget is None else spend > run.budget,
            "over_deadline": None if run.deadline is None else end - run.started > run.deadline,
            "deadline_margin": None if run.deadline is None else run.deadline - (end - run.started),
            "cost_held_spot": sum(v for pool, v in held_pool.items() if pool in spot),
            "cost_held_on_demand": sum(v for pool, v in held_pool.items() if pool not in spot),
            "stages": stages, "plan": run.plan, "replans": run.replans, "alerts": list(run.alerts),
            "decisions": [asdict(d) for d in self.decisions if d.run == run.run_id][-200:],
        }

    def snapshot(self, now: float, spot: Collection[str] = ()) -> dict[str, Any]:
        """Cluster-wide plain data (JSON-ready), with every run's snapshot under ``runs``."""
        t0 = min((s.start for s in self.spans), default=now)
        cost = self.cost
        return {
            "cost": cost,
            "budget": self.budget,
            "over_budget": None if self.budget is None else cost > self.budget,
            "cost_by_pool": {k: v.cost for k, v in self.by_pool.items()},
            "busy_seconds_by_pool": {k: v.busy_seconds for k, v in self.by_pool.items()},
            "tasks_by_pool": {k: v.tasks for k, v in self.by_pool.items()},
            "cost_by_stage": {k: v.cost for k, v in self.by_stage.items()},
            "busy_seconds_by_stage": {k: v.busy_seconds for k, v in self.by_stage.items()},
            "alive_seconds_by_pool": self.held_seconds_by_pool(t0, now),
            "alive_cost_by_pool": self.held_cost_by_pool(t0, now),
            "startup_seconds_by_pool": self.startup_seconds_by_pool(t0, now),
            "startup_cost_by_pool": self.startup_cost_by_pool(t0, now),
            "workers_by_pool": self.workers_by_pool(),
            "booting_by_pool": self.booting_by_pool(),
            "decisions": [asdict(d) for d in self.decisions],
            "runs": {run_id: self.run_snapshot(run, now, spot) for run_id, run in self.runs.items()},
        }


def stage_observation(record: StageRecord, speeds: Mapping[str, float],
                      run: RunLedger | None = None) -> tuple[str, float, float, float, float] | None:
    """What a finished stage teaches the cost model: ``(main pool, work at speed 1, width, latency,
    busy $)``.

    Work sums busy seconds x pool speed; width is busy seconds per active second (>= 1); latency
    the stage's wall time when none of its tasks computed *and* its main pool had a free worker
    (round trips, work on the client). Waiting while every worker of the pool ran other stages'
    tasks is contention, which the planner models itself, so it is not latency. ``run`` (the
    stage's run) gives the other stages' tasks; without it every gap counts as latency.
    """
    busy = {pool: t.busy_seconds for pool, t in record.by_pool.items() if t.busy_seconds > 0}
    if not busy:
        return None
    main = max(busy, key=busy.get)
    work = sum(seconds * speeds.get(pool, 1.0) for pool, seconds in busy.items())
    active = record.active_seconds()
    width = max(1.0, sum(busy.values()) / active) if active > 0 else 1.0
    gaps = record.gaps()
    latency = sum(b - a for a, b in gaps)
    if run is not None and gaps:
        on_pool = [(a, b) for s in run.stages.values() for a, b, pool, _ in s.intervals if pool == main]
        workers = len({w for s in run.stages.values() for _, _, pool, w in s.intervals if pool == main}) or 1
        latency -= sum(_all_busy(on_pool, workers, a, b) for a, b in gaps)
    return main, work, width, max(0.0, latency), sum(t.cost for t in record.by_pool.values())
