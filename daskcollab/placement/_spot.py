"""Spot pools with a deadline guarantee: when a run's work leaves spot for on-demand workers (pure).

Spot workers are cheap and may disappear. A run with a deadline keeps each stage's work on spot
while its progress is on track, counting what a loss costs (an on-demand worker's start-up and the
work in flight), and moves the stage to on-demand pools when it falls behind or reaches its point
of no return. The rule follows Uniform Progress (Can't Be Late, NSDI'24) per stage, with the
DAG's slack: a stage's deadline is its *latest finish*, the run's deadline minus the longest path
after it on on-demand pools, so stages off the critical path stay on spot longer than a rule that
sees the run as one job.

Per unfinished stage planned on a spot pool, every watchdog tick (:func:`spot_moves`):

* **no return**: ``now + start-up + (what is left of it on on-demand) + margin >= latest finish``:
  it must finish on on-demand;
* **behind**: at the rate its tasks finish, its spot finish plus a loss (start-up and one worker's
  share redone on on-demand) would pass its latest finish;
* moved stages are planned on on-demand pools from then on (``RunSpec.off_spot``), and the run is
  re-planned, so the rest of its path follows (the planner keeps a stage on spot only when that
  guarantee holds, :meth:`~daskcollab.placement._runplan._Run.spot_safe`).

:class:`SpotPolicy` also names the rules benchmarks compare with: ``on-demand`` (never spot),
``uniform`` (Uniform Progress on the whole run: everything on spot until the run's progress falls
behind ``elapsed / deadline``, then everything on on-demand) and ``greedy`` (everything on spot until
the deadline forces the rest of the run onto on-demand).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from daskcollab._types import StageState
from daskcollab.placement._runplan import SPOT_MARGIN, Fleet, RunPlan, RunSpec, StageSpec
from daskcollab.placement._spec import Pool, SpotPolicy, can_run

#: Seconds kept in hand on top of a move's own start-up and work (the watchdog looks every 0.5 s).
MARGIN = SPOT_MARGIN


@dataclass(frozen=True)
class SpotMove:
    """A stage to move off spot pools now, and why (``no-return``, ``behind``, ``run-behind``, ``policy``)."""

    stage: str
    reason: str


@dataclass(frozen=True)
class Progress:
    """A stage's tasks as the scheduler saw them: submitted, finished, and when the first began (unix s)."""

    total: int = 0
    done: int = 0
    started: float | None = None

    def left(self) -> float:
        """Share of the stage's work still to do (1.0 before it started)."""
        return 1.0 if self.total <= 0 else max(0.0, 1.0 - self.done / self.total)


def _on_demand(stage: StageSpec, pools: Sequence[Pool], work: float, width: float, latency: float,
               fleet: Fleet) -> tuple[float, float]:
    """(fastest duration, least start-up) of ``stage`` on the on-demand pools that can run it (no
    start-up on a static pool or one with a worker up)."""
    best, startup = math.inf, math.inf
    for p in pools:
        if p.spot or not can_run(stage.resources, stage.pool, p):
            continue
        k = max(1, min(int(math.ceil(width)) if math.isfinite(width) else p.max_workers, max(p.max_workers, 1)))
        best = min(best, latency + work / (p.speed * k))
        up = p.name not in fleet.elastic or (fleet.live or {}).get(p.name, 0) > 0
        startup = min(startup, 0.0 if up else p.startup)
    return best, startup


def latest_finishes(plan: RunPlan, spec: RunSpec, pools: Sequence[Pool],
                    fleet: Fleet | None = None) -> dict[str, tuple[float, float, float]]:
    """Per stage ``(latest finish, on-demand duration, on-demand start-up)``, offsets from the run's
    start: the deadline minus the longest path after the stage on on-demand pools."""
    deadline = plan.objective.deadline
    od: dict[str, tuple[float, float]] = {}
    for s in spec.stages:
        p = plan.stages.get(s.name)
        if p is not None:
            od[s.name] = _on_demand(s, pools, p.estimate.work, p.estimate.width, p.estimate.latency, fleet or Fleet())
    after: dict[str, list[str]] = {s.name: [] for s in spec.stages}
    for s in spec.stages:
        for up in s.inputs:
            after.setdefault(up, []).append(s.name)
    tail: dict[str, float] = {}
    for s in reversed(spec.stages):
        tail[s.name] = max((od[n][0] + tail[n] for n in after.get(s.name, ()) if n in od), default=0.0)
    return {n: (deadline - tail[n], d, u) for n, (d, u) in od.items()} if deadline is not None else {}


def spot_moves(plan: RunPlan, spec: RunSpec, states: Mapping[str, str], progress: Mapping[str, Progress],
               pools: Sequence[Pool], started: float, now: float, policy: SpotPolicy = SpotPolicy.PLAN,
               fleet: Fleet | None = None, margin: float = MARGIN) -> list[SpotMove]:
    """Stages of a run to move off spot pools now (see the module docstring); ``states``: the
    runner's stage states, ``progress``: per stage, ``started``: the run's start (unix s)."""
    if plan.objective.deadline is None:
        return []
    spot = {p.name for p in pools if p.spot}
    on_spot = [name for name, p in plan.stages.items() if name not in spec.off_spot
               and states.get(name, StageState.PENDING) not in (StageState.DONE, StageState.REUSED, StageState.FAILED)
               and (p.pool in spot or (p.pool == "*" and spot))]
    if not on_spot:
        return []
    if policy is SpotPolicy.ON_DEMAND:
        return [SpotMove(name, "policy") for name in on_spot]
    limits = latest_finishes(plan, spec, pools, fleet)
    deadline = started + float(plan.objective.deadline)
    if policy in (SpotPolicy.UNIFORM, SpotPolicy.GREEDY):
        left = [(name, progress.get(name, Progress()).left()) for name in plan.stages
                if states.get(name, StageState.PENDING) not in (StageState.DONE, StageState.REUSED)]
        work = sum(p.estimate.work for p in plan.stages.values()) or 1.0
        todo = sum(plan.stages[n].estimate.work * share for n, share in left)
        if policy is SpotPolicy.UNIFORM:  # done / work must keep up with elapsed / deadline
            behind = (work - todo) / work < (now - started) / max(deadline - started, 1e-9) - 1e-9
        else:  # the rest of the run, on on-demand from now, must still end by the deadline
            rest = max((limits[n][1] * share + (deadline - started - limits[n][0]) for n, share in left
                        if n in limits), default=0.0)
            startup = max((limits[n][2] for n, _ in left if n in limits), default=0.0)
            behind = now + startup + rest + margin >= deadline
        return [SpotMove(name, "run-behind") for name in on_spot] if behind else []
    out = []
    for name in on_spot:
        if name not in limits:
            continue
        latest, od, startup = limits[name]
        latest += started
        prog = progress.get(name, Progress())
        left = prog.left()
        if now + startup + left * od + margin >= latest:
            out.append(SpotMove(name, "no-return"))
            continue
        if prog.started is not None and prog.done > 0 and prog.total > prog.done:
            rate = prog.done / max(now - prog.started, 1e-9)  # tasks per second on spot, losses included
            spot_end = now + (prog.total - prog.done) / rate
            share = od / max(plan.stages[name].workers, 1)
            if spot_end + startup + share + margin > latest:
                out.append(SpotMove(name, "behind"))
    return out
