"""One plan per workflow run: every stage on a pool, the critical path fast, slack cheap (pure).

A run reaches the scheduler as a :class:`RunSpec` (its stages, edges, resources, pins, cost hints,
budget, deadline) before any of its tasks. :func:`plan_run` schedules the stages as *moldable*
jobs (:class:`~daskcollab.placement._cost_model.StageEstimate`: a stage of work ``w``, width
``k`` and latency ``l`` takes ``l + w / (speed * min(k, workers))`` on a pool and holds that many of
its workers) with list scheduling over the pools' workers:

* ``fastest``: stages in decreasing upward rank, each on the option that finishes first;
* ``cheapest``: each stage on its cheapest option (busy worker-seconds x price); with a deadline,
  a slack-guided pass: each stage takes the cheapest option that still finishes by its latest
  finish time (the target minus the longest path after it at the fastest speeds), the target
  lowered until the whole plan meets the deadline;
* ``balanced``: the same slack-guided pass aiming at ``(1 + tradeoff)`` times the fastest plan's
  makespan (or the deadline, when given); with a budget, the fastest target whose plan fits it.

An option is one pool, or :data:`ALL_POOLS` (the stage spread over every pool that can run it,
left to Dask's own balancing) when more than one can. Stages pinned to a pool stay there; a stage
only a declared pool without workers can run is planned on it and waits for its workers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from daskcollab._errors import WorkflowError
from daskcollab.placement._cost_model import EstimateSource, StageEstimate
from daskcollab.placement._feasibility import can_run
from daskcollab.placement._planning import DEFAULT_TRADEOFF, Mode, Objective, Pool

#: The option "spread the stage over every pool that can run it" (no pool restriction).
ALL_POOLS = "*"


@dataclass(frozen=True)
class StageSpec:
    """A stage as the planner sees it (plain data; what ``compile`` sends to the scheduler)."""

    name: str
    kind: str = "task"
    inputs: tuple[str, ...] = ()
    resources: Mapping[str, float] = field(default_factory=dict)
    pool: str | None = None
    cost: float | None = None
    priority: int = 0


@dataclass(frozen=True)
class RunSpec:
    """A workflow run: its id, stages (inputs first) and the run's budget, deadline and intent."""

    run_id: str
    workflow: str
    stages: tuple[StageSpec, ...]
    budget: float | None = None
    deadline: float | None = None
    mode: str | None = None
    tradeoff: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        stages = tuple(StageSpec(**{**s, "inputs": tuple(s.get("inputs", ())), "resources": dict(s.get("resources") or {})})
                       for s in data["stages"])
        return cls(**{**data, "stages": stages})


@dataclass(frozen=True)
class StagePlan:
    """Where and when one stage runs in a plan, and what it costs (busy $)."""

    stage: str
    pool: str
    start: float
    finish: float
    workers: int
    cost: float
    estimate: StageEstimate
    pinned: bool = False
    waits: bool = False  # only a declared pool without live workers can run it


@dataclass(frozen=True)
class RunPlan:
    """The plan of a whole run: per stage a :class:`StagePlan`; predicted makespan and cost.

    ``cost`` is busy worker-seconds x price; ``held_cost`` what the pools would bill while held for
    the whole makespan (a static cluster of every pool planned on).
    """

    run_id: str
    workflow: str
    stages: Mapping[str, StagePlan]
    makespan: float
    cost: float
    held_cost: float
    objective: Objective
    meets_budget: bool | None
    meets_deadline: bool | None

    def pool_of(self, stage: str) -> str | None:
        """The pool a stage's tasks are restricted to (None: spread over all, or not in the plan)."""
        p = self.stages.get(stage)
        return None if p is None or p.pool == ALL_POOLS else p.pool

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "workflow": self.workflow, "mode": self.objective.mode.value,
            "budget": self.objective.budget, "deadline": self.objective.deadline,
            "makespan": self.makespan, "cost": self.cost, "held_cost": self.held_cost,
            "meets_budget": self.meets_budget, "meets_deadline": self.meets_deadline,
            "stages": {name: {"pool": p.pool, "start": p.start, "finish": p.finish, "workers": p.workers,
                              "cost": p.cost, "work": p.estimate.work, "width": p.estimate.width,
                              "latency": p.estimate.latency, "source": p.estimate.source.value,
                              "pinned": p.pinned, "waits": p.waits}
                       for name, p in self.stages.items()},
        }


def estimate_for(spec: StageSpec, learned: Mapping[str, StageEstimate], pool: str, default_work: float) -> StageEstimate:
    """A stage's estimate on ``pool``: learned there (with the money it cost per work-second there),
    else learned elsewhere (speed-normalised work, priced by ``pool``), else its ``cost`` hint, else
    ``default_work``."""
    if pool in learned:
        return learned[pool]
    if learned:  # the most conservative observation, priced by this option's own pools
        return replace(max(learned.values(), key=lambda e: e.work), price_per_work=None)
    if spec.cost is not None:
        return StageEstimate(float(spec.cost), math.inf, 0.0, EstimateSource.HINT)
    return StageEstimate(float(default_work), math.inf, 0.0, EstimateSource.DEFAULT)


@dataclass
class _Option:
    name: str
    members: list[int]  # pool indices
    price_per_work: float  # $ per work-second at speed 1 (x 3600)
    speeds: list[float]  # worker speeds, fastest first


def _options(spec: StageSpec, pools: Sequence[Pool]) -> list[_Option]:
    eligible = [i for i, p in enumerate(pools) if can_run(spec.resources, spec.pool, p)]
    out = [_Option(pools[i].name, [i], pools[i].price_per_hour / pools[i].speed, [pools[i].speed] * max(pools[i].workers, 1))
           for i in eligible]
    if len(eligible) > 1 and spec.pool is None:
        capacity = sum(pools[i].speed * max(pools[i].workers, 1) for i in eligible)
        price = sum(pools[i].price_per_hour * max(pools[i].workers, 1) for i in eligible) / capacity
        speeds = sorted((pools[i].speed for i in eligible for _ in range(max(pools[i].workers, 1))), reverse=True)
        out.append(_Option(ALL_POOLS, eligible, price, speeds))
    return out


class _Run:
    """Inputs of one planning problem, indexed (stages in topological order)."""

    def __init__(self, spec: RunSpec, pools: Sequence[Pool], estimates: Mapping[str, Mapping[str, StageEstimate]],
                 default_work: float) -> None:
        self.spec, self.pools = spec, list(pools)
        self.stages = list(spec.stages)
        self.index = {s.name: i for i, s in enumerate(self.stages)}
        if len(self.index) != len(self.stages):
            raise WorkflowError(f"run {spec.run_id!r}: duplicate stage names in {[s.name for s in self.stages]!r}")
        for s in self.stages:
            for up in s.inputs:
                if self.index.get(up, len(self.stages)) >= self.index[s.name]:
                    raise WorkflowError(f"run {spec.run_id!r}, stage {s.name!r}: input {up!r} is not an earlier stage")
        self.options = [_options(s, self.pools) for s in self.stages]
        self.est = [{o.name: estimate_for(s, estimates.get(s.name, {}), o.name, default_work) for o in opts}
                    for s, opts in zip(self.stages, self.options)]
        self.succ: list[list[int]] = [[] for _ in self.stages]
        for i, s in enumerate(self.stages):
            for up in s.inputs:
                self.succ[self.index[up]].append(i)
        # fastest possible duration of each stage, and the longest path after it at those durations
        self.fast = [min((self._duration(i, o) for o in opts), default=math.inf)
                     for i, opts in enumerate(self.options)]
        self.tail = [0.0] * len(self.stages)
        for i in reversed(range(len(self.stages))):
            self.tail[i] = max((self.fast[j] + self.tail[j] for j in self.succ[i]), default=0.0)
        self.rank = [self.fast[i] + self.tail[i] for i in range(len(self.stages))]

    def _duration(self, i: int, option: _Option) -> float:
        e = self.est[i][option.name]
        used = e.workers_used(len(option.speeds))
        return e.latency + e.work / sum(option.speeds[:used])


def _schedule(run: _Run, choose: str, target: float = math.inf, origin: float = 0.0,
              fixed: Mapping[str, tuple[str, float, float]] | None = None) -> dict[str, StagePlan]:
    """One list-scheduling pass. ``choose``: ``"fastest"``, ``"cheapest"`` or ``"slack"`` (cheapest
    within each stage's latest finish for ``target``). ``fixed``: stages already placed
    ``{name: (option, start, finish)}`` (a re-plan keeps what ran or runs)."""
    free = [[origin] * max(p.workers, 1) for p in run.pools]
    finish: dict[int, float] = {}
    out: dict[str, StagePlan] = {}
    fixed = fixed or {}
    pinned_first = {run.index[n] for n in fixed}
    pending = sorted(range(len(run.stages)), key=lambda i: (i not in pinned_first, -run.rank[i], i))
    done: set[int] = set()
    while pending:
        i = next(i for i in pending if i in pinned_first or all(run.index[u] in done for u in run.stages[i].inputs))
        pending.remove(i)
        spec = run.stages[i]
        ready = max([origin, *(finish[run.index[u]] for u in spec.inputs if run.index[u] in finish)])
        best = None
        for option in run.options[i]:
            if spec.name in fixed and option.name != fixed[spec.name][0]:
                continue
            e = run.est[i][option.name]
            used = e.workers_used(len(option.speeds))
            slots = sorted((free[m][w], -run.pools[m].speed, m, w) for m in option.members for w in range(len(free[m])))
            slots = slots[:used]  # the workers free first (the fastest among equals)
            start = max(ready, max(s[0] for s in slots))
            hold = e.work / sum(run.pools[s[2]].speed for s in slots)  # compute: the workers are busy
            end = start + e.latency + hold  # latency (round trips, client work) leaves them free
            if spec.name in fixed:
                start, end = fixed[spec.name][1], max(fixed[spec.name][2], ready)
                hold = min(hold, end - start)
            # a spread stage costs what the pools' mix cost it when it was learned spread; one pool its price
            spread_price = e.price_per_work if option.name == ALL_POOLS else None
            cost = e.work * (option.price_per_work if spread_price is None else spread_price) / 3600.0
            if choose == "fastest":
                key = (end, cost)
            elif choose == "cheapest":
                key = (cost, end)
            else:  # slack: cheapest that finishes by the latest finish time; else the earliest finish
                late = end > target - run.tail[i] + 1e-9
                key = (late, end if late else cost, cost)
            if best is None or key < best[0]:
                best = (key, option, slots, start, end, cost, used, e, hold)
        if best is None:
            raise WorkflowError(f"run {run.spec.run_id!r}, stage {spec.name!r}: no pool can run it")
        _, option, slots, start, end, cost, used, e, hold = best
        for _, _, m, w in slots:
            free[m][w] = start + hold
        finish[i] = end
        done.add(i)
        out[spec.name] = StagePlan(spec.name, option.name, start, end, used, cost, e, pinned=spec.pool is not None)
    return {s.name: out[s.name] for s in run.stages}


def _summary(run: _Run, stages: dict[str, StagePlan], objective: Objective, origin: float,
             waiting: frozenset[str]) -> RunPlan:
    makespan = max((p.finish for p in stages.values()), default=origin) - origin
    cost = sum(p.cost for p in stages.values())
    used: set[int] = set()
    for p in stages.values():
        used.update(next(o.members for o in run.options[run.index[p.stage]] if o.name == p.pool))
    held = makespan * sum(run.pools[i].price_per_hour * max(run.pools[i].workers, 1) for i in used) / 3600.0
    stages = {k: replace(v, waits=True) if k in waiting else v for k, v in stages.items()}
    return RunPlan(
        run.spec.run_id, run.spec.workflow, stages, makespan, cost, held, objective,
        None if objective.budget is None else cost <= objective.budget + 1e-12,
        None if objective.deadline is None else makespan <= objective.deadline + 1e-9,
    )


def plan_run(
    spec: RunSpec,
    pools: Sequence[Pool],
    *,
    estimates: Mapping[str, Mapping[str, StageEstimate]] | None = None,
    objective: Objective | None = None,
    default_work: float = 1.0,
    declared: Sequence[Pool] = (),
    origin: float = 0.0,
    fixed: Mapping[str, tuple[str, float, float]] | None = None,
) -> RunPlan:
    """Plan every stage of ``spec`` on ``pools`` (see the module docstring).

    Parameters
    ----------
    estimates
        ``{stage: {pool: StageEstimate}}`` learned by the cost model; stages without one use their
        ``cost`` hint, else ``default_work``.
    objective
        Mode, budget, deadline, tradeoff; default: from ``spec`` (``balanced`` when it names none).
    declared
        Pools without live workers; a stage only they can run is planned on them (it waits).
    origin, fixed
        Re-planning a run in progress: times count from ``origin``; ``fixed`` stages keep their
        ``(option, start, finish)``; the deadline counts from the run's start (``origin = 0``).

    Examples
    --------
    >>> pools = [Pool("spot", 0.1, 1.0, 1), Pool("fast", 0.4, 2.0, 1)]
    >>> spec = RunSpec("r", "wf", (StageSpec("a", cost=10.0), StageSpec("b", inputs=("a",), cost=10.0)))
    >>> fastest = plan_run(spec, pools, objective=Objective(Mode.FASTEST))
    >>> round(fastest.makespan, 2), fastest.stages["a"].pool  # spread over both pools: 10 / (1 + 2)
    (6.67, '*')
    >>> plan_run(spec, pools, objective=Objective(Mode.CHEAPEST)).pool_of("b")
    'spot'
    """
    objective = objective or Objective(Mode(spec.mode or Mode.BALANCED.value), spec.budget, spec.deadline, spec.tradeoff)
    live_names = {p.name for p in pools}
    extra = [p for p in declared if p.name not in live_names]
    all_pools = [*pools, *extra]
    waiting = frozenset(s.name for s in spec.stages
                        if not any(can_run(s.resources, s.pool, p) for p in pools) and any(can_run(s.resources, s.pool, p) for p in extra))
    # declared pools are options only for the stages that have no live pool
    run = _Run(spec, all_pools, estimates or {}, default_work)
    if extra:
        extra_idx = {i for i, p in enumerate(all_pools) if p.name not in live_names}
        run.options = [[o for o in opts if not set(o.members) & extra_idx] if s.name not in waiting else
                       [o for o in opts if o.name != ALL_POOLS] for s, opts in zip(run.stages, run.options)]
    for s, opts in zip(run.stages, run.options):
        if not opts:
            raise WorkflowError(f"run {spec.run_id!r}, stage {s.name!r}: no live or declared pool can run it "
                                f"(resources {dict(s.resources)!r}, pool {s.pool!r})")

    def done(stages: dict[str, StagePlan]) -> RunPlan:
        return _summary(run, stages, objective, origin, waiting)

    fastest = done(_schedule(run, "fastest", origin=origin, fixed=fixed))
    if objective.mode is Mode.FASTEST and objective.budget is None:
        return fastest
    cheapest = done(_schedule(run, "cheapest", origin=origin, fixed=fixed))
    if objective.mode is Mode.CHEAPEST and objective.deadline is None:
        return cheapest
    if objective.mode is Mode.BALANCED and objective.deadline is None and objective.budget is None:
        tradeoff = DEFAULT_TRADEOFF if objective.tradeoff is None else float(objective.tradeoff)
        return _cheapest_within(run, (1.0 + tradeoff) * fastest.makespan + origin, fastest, cheapest, done, origin, fixed)
    if objective.deadline is not None and objective.mode is not Mode.FASTEST:
        return _cheapest_within(run, float(objective.deadline), fastest, cheapest, done, origin, fixed)
    # a budget: the fastest plan whose cost fits it (bisect the target between fastest and cheapest)
    if fastest.cost <= objective.budget + 1e-12:
        return fastest
    if cheapest.cost > objective.budget + 1e-12:
        return cheapest
    lo, hi, best = fastest.makespan + origin, cheapest.makespan + origin, cheapest
    for _ in range(20):
        mid = (lo + hi) / 2.0
        candidate = _cheapest_within(run, mid, fastest, cheapest, done, origin, fixed)
        if candidate.cost <= objective.budget + 1e-12:
            best, hi = (candidate if candidate.makespan < best.makespan else best), mid
        else:
            lo = mid
    return best


def _cheapest_within(run: _Run, limit: float, fastest: RunPlan, cheapest: RunPlan, done, origin: float,
                     fixed) -> RunPlan:
    """The cheapest plan found with makespan <= ``limit - origin`` (slack-guided, target lowered
    towards the fastest plan); the fastest plan when none meets it."""
    if cheapest.makespan + origin <= limit + 1e-9:
        return cheapest
    if fastest.makespan + origin > limit + 1e-9:
        return fastest
    best = fastest
    target = limit
    floor = fastest.makespan + origin
    for _ in range(12):
        candidate = done(_schedule(run, "slack", target, origin=origin, fixed=fixed))
        if candidate.makespan + origin <= limit + 1e-9:
            if candidate.cost < best.cost - 1e-15:
                best = candidate
            break
        target = floor + (target - floor) * 0.7  # aim earlier: the pass slipped
    return best


def plan_with_model(
    spec: RunSpec,
    pools: Sequence[Pool],
    model: Any,
    *,
    mode: Mode,
    tradeoff: float,
    default_work: float = 1.0,
    declared: Sequence[Pool] = (),
    origin: float = 0.0,
    fixed: Mapping[str, tuple[str, float, float]] | None = None,
) -> RunPlan:
    """:func:`plan_run` with the stage estimates a :class:`~daskcollab.placement.CostModel` learned,
    and the run's own mode, budget, deadline and tradeoff over the defaults ``mode`` / ``tradeoff``.

    The placement plugin plans every run with this function, and ``daskcollab plan`` too.
    """
    estimates = {s.name: model.stage_estimates(spec.workflow, s.name) for s in spec.stages}
    objective = Objective(Mode(spec.mode) if spec.mode else mode, spec.budget, spec.deadline,
                          tradeoff if spec.tradeoff is None else spec.tradeoff)
    return plan_run(spec, pools, estimates=estimates, objective=objective, default_work=default_work,
                    declared=declared, origin=origin, fixed=fixed)
