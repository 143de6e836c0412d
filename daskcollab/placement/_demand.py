"""Per-pool demand: how many workers each pool needs now and soon (pure; the plugin feeds it).

Two sources, one answer per pool (:class:`PoolDemand`):

* the **plans** of the active runs (:class:`~daskcollab.placement._runplan.RunPlan`): every stage
  not finished needs ``workers`` workers of its pool from its start to its finish
  (:class:`Need`, in unix seconds: the run's start plus the plan's offsets). A stage whose tasks
  compute or wait for a worker (*active*, as the scheduler sees it: the runner's ``running`` only
  means its work was submitted) needs them from now to its planned finish; when active stages are
  late (past their planned finish) the stages still to come slide by the same lateness (the run
  is that far behind its plan); a stage that should have started but has not is due now. A stage
  the plan spreads over several pools (:data:`~daskcollab.placement._runplan.ALL_POOLS`) needs the
  fastest of them first, as the planner fills its slots (:func:`spread`);
* the idle gaps in which the plan **keeps** a worker of an elastic pool rather than releasing it
  and paying its start-up again (``RunPlan.holds``);
* the **tasks** outside planned runs that are restricted to a pool and wait for it (``no-worker``)
  or are queued on its workers, and the pool's **busy** workers (computing now).

:func:`cluster_demand` puts both together for the whole cluster, from plain views of the tasks
(:class:`TaskNeed`). A controller reads ``demand.now(t)`` (what the pool needs at ``t``) and ``demand.peak(t0, t1)``
(the most it needs at any moment of a window, e.g. the next start-up time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from daskcollab._types import StageState
from daskcollab.placement._ledger import RunLedger
from daskcollab.placement._pools import HOLD_RESOURCE, split_resources
from daskcollab.placement._runplan import ALL_POOLS, RunPlan, RunSpec
from daskcollab.placement._spec import Pool, can_run

#: Stage states (as the runner reports them) after which a stage needs no workers.
FINISHED = frozenset({StageState.DONE, StageState.REUSED, StageState.FAILED})


@dataclass(frozen=True)
class Need:
    """``workers`` workers of ``pool`` from ``start`` to ``finish`` (unix seconds, both included)."""

    pool: str
    start: float
    finish: float
    workers: int
    run: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class PoolDemand:
    """What one pool is asked for: planned needs, busy workers, tasks outside planned runs.

    Examples
    --------
    >>> d = PoolDemand("gpu", (Need("gpu", 10.0, 20.0, 1), Need("gpu", 15.0, 30.0, 2)))
    >>> d.now(0.0), d.now(16.0), d.peak(0.0, 12.0), d.next_start(0.0)
    (0, 3, 1, 10.0)
    """

    pool: str
    needs: tuple[Need, ...] = ()
    busy: int = 0
    tasks: int = 0

    def planned(self, t: float) -> int:
        """Workers the plans need at ``t``."""
        return sum(n.workers for n in self.needs if n.start <= t <= n.finish)

    def now(self, t: float) -> int:
        """Workers needed at ``t``: the plans' need, the busy workers, or the waiting tasks, whichever is most."""
        return max(self.planned(t), self.busy, self.tasks)

    def peak(self, t0: float, t1: float) -> int:
        """The most workers needed at any moment of ``[t0, t1]`` (needs start within it, or run at ``t0``)."""
        points = [t0, *(n.start for n in self.needs if t0 < n.start <= t1)]
        return max(self.now(t0), *(self.planned(t) for t in points))

    def next_start(self, after: float) -> float | None:
        """When the next planned need starts after ``after`` (None: nothing planned)."""
        return min((n.start for n in self.needs if n.start > after), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "busy": self.busy, "tasks": self.tasks, "needs": [asdict(n) for n in self.needs]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolDemand:
        return cls(data["pool"], tuple(Need(**n) for n in data.get("needs", ())), int(data.get("busy", 0)),
                   int(data.get("tasks", 0)))


def spread(workers: int, pools: Sequence[Pool]) -> dict[str, int]:
    """How a stage spread over ``pools`` uses ``workers`` of their workers: the fastest first (the
    planner's choice among workers free at once), each pool up to its ``workers``.

    Examples
    --------
    >>> spread(3, [Pool("spot", 0.1, 1.0, 4), Pool("fast", 0.4, 2.0, 2)])
    {'fast': 2, 'spot': 1}
    """
    out: dict[str, int] = {}
    left = int(workers)
    for p in sorted(pools, key=lambda p: -p.speed):
        take = min(left, max(p.workers, 0))
        if take > 0:
            out[p.name] = take
            left -= take
    return out


def run_needs(
    plan: RunPlan,
    started: float,
    states: Mapping[str, str],
    now: float,
    *,
    spread_over: Mapping[str, Sequence[Pool]] | None = None,
    active: Iterable[str] = (),
) -> list[Need]:
    """The needs of one run's stages not finished yet (see the module docstring).

    Parameters
    ----------
    plan
        The run's current plan (offsets in seconds from the run's start).
    started
        The run's start (unix seconds).
    states
        ``{stage: state}`` as reported by the runner (missing: pending); finished stages need nothing.
    now
        Unix seconds.
    spread_over
        ``{stage: pools}`` for stages planned on :data:`ALL_POOLS`: the pools that can run them.
    active
        Stages whose tasks compute or wait for a worker now (due now, whatever the plan says).

    Examples
    --------
    Stage ``a`` planned 0-10 s into a run that started at t=100, computing at t=105:

    >>> from daskcollab.placement import RunSpec, StageSpec, plan_run
    >>> spec = RunSpec("r", "wf", (StageSpec("a", cost=10.0), StageSpec("b", inputs=("a",), cost=10.0)))
    >>> p = plan_run(spec, [Pool("spot", 0.1, 1.0, 1)])
    >>> [(n.stage, n.start, n.finish) for n in run_needs(p, 100.0, {}, 105.0, active={"a"})]
    [('a', 105.0, 110.0), ('b', 110.0, 120.0)]
    """
    spread_over = spread_over or {}
    live = {name for name in plan.stages if states.get(name, StageState.PENDING) not in FINISHED}
    running = live & set(active)
    late = max((now - (started + plan.stages[name].finish) for name in running), default=0.0)
    late = max(late, 0.0)
    out: list[Need] = []
    for name in live:
        p = plan.stages[name]
        if name in running:
            start, finish = now, max(started + p.finish, now)
        else:
            start, finish = started + p.start + late, started + p.finish + late
            if start < now:  # due and not started: needed now, for as long as planned
                start, finish = now, now + (p.finish - p.start)
        if p.pool == ALL_POOLS:
            for pool, k in spread(p.workers, spread_over.get(name, ())).items():
                out.append(Need(pool, start, finish, k, plan.run_id, name))
        elif p.workers > 0:
            out.append(Need(p.pool, start, finish, int(p.workers), plan.run_id, name))
    if live:  # a worker the plan keeps through an idle gap (cheaper than a new start-up) is needed then too
        for pool, gaps in plan.holds.items():
            for a, b in gaps:
                if started + b + late > now:
                    out.append(Need(pool, max(started + a + late, now), started + b + late, 1, plan.run_id, None))
    return sorted(out, key=lambda n: (n.start, n.pool, n.stage or ""))


def pool_demand(
    needs: Iterable[Need],
    pools: Iterable[str] = (),
    *,
    busy: Mapping[str, int] | None = None,
    tasks: Mapping[str, int] | None = None,
) -> dict[str, PoolDemand]:
    """One :class:`PoolDemand` per pool named in ``pools``, ``needs``, ``busy`` or ``tasks``.

    Examples
    --------
    >>> d = pool_demand([Need("gpu", 0.0, 5.0, 1)], ["spot"], busy={"spot": 2})
    >>> sorted(d), d["gpu"].now(1.0), d["spot"].now(1.0)
    (['gpu', 'spot'], 1, 2)
    """
    busy, tasks = dict(busy or {}), dict(tasks or {})
    by_pool: dict[str, list[Need]] = {name: [] for name in pools}
    for n in needs:
        by_pool.setdefault(n.pool, []).append(n)
    for name in (*busy, *tasks):
        by_pool.setdefault(name, [])
    return {name: PoolDemand(name, tuple(ns), int(busy.get(name, 0)), int(tasks.get(name, 0)))
            for name, ns in sorted(by_pool.items())}


@dataclass(frozen=True)
class TaskNeed:
    """A task waiting for a worker (``waiting``) or processing on one, as demand sees it."""

    restrictions: Mapping[str, float] | None  # its resource restrictions, pool label included
    run: str | None
    stage: str | None
    waiting: bool


def cluster_demand(tasks: Iterable[TaskNeed], busy: Mapping[str, int], runs: Mapping[str, RunPlan],
                   records: Mapping[str, RunLedger], specs: Mapping[str, RunSpec], planning: Sequence[Pool],
                   pools: Iterable[str], now: float) -> dict[str, PoolDemand]:
    """Per pool, what it needs now and soon: the active runs' planned needs (a stage whose tasks
    compute or wait for a worker is needed now), its ``busy`` workers, and the tasks outside
    planned runs waiting for it or queued on its workers (a waiting task with no pool label counts
    for the cheapest of the ``planning`` pools that can run it).

    Examples
    --------
    >>> d = cluster_demand([TaskNeed({"pool-gpu": 1}, None, None, True)], {"spot": 1}, {}, {}, {},
    ...                    [Pool("spot", 0.1, 1.0, 1)], ["spot"], now=0.0)
    >>> d["gpu"].tasks, d["spot"].busy
    (1, 1)
    """
    counts: dict[str, int] = {}
    active: dict[str, set[str | None]] = {}  # run -> stages with tasks computing or waiting for a worker
    for t in tasks:
        plain, pinned = split_resources(t.restrictions)
        plain.pop(HOLD_RESOURCE, None)  # held one loop turn to be released in plan order: it waits all the same
        pool = pinned[0] if pinned else None
        if pool is None and t.waiting:
            able = [p for p in planning if can_run(plain, None, p)]
            pool = min(able, key=lambda p: p.price_per_hour / p.speed).name if able else None
        if t.run in runs:
            active.setdefault(t.run, set()).add(t.stage)
        elif pool is not None:
            counts[pool] = counts.get(pool, 0) + 1
    needs: list[Need] = []
    for run_id, plan in runs.items():
        record, spec = records.get(run_id), specs.get(run_id)
        if record is None or record.finished is not None:
            continue
        spread_over = {s.name: [p for p in planning if can_run(s.resources, s.pool, p)] for s in spec.stages
                       if s.name in plan.stages and plan.stages[s.name].pool == ALL_POOLS} if spec else {}
        needs += run_needs(plan, record.started, {n: s.state for n, s in record.stages.items()}, now,
                           spread_over=spread_over, active=active.get(run_id, ()))
    return pool_demand(needs, pools, busy=busy, tasks=counts)
