"""The policy API the plugin uses, with a minimal stand-in while the pure policy is missing.

The real policy lives in ``_model.py``, ``_policy.py`` and ``_cost_model.py`` (written
separately). Each block below imports the real module and, only if it is absent, defines a
small stand-in with the same API (a greedy list scheduler and an averaging cost model), so the
plugin can be built and tested on its own. ``STANDIN`` says which parts are stand-ins.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

STANDIN: set[str] = set()

try:
    from daskcollab.placement._model import Assignment, Mode, Objective, Plan, Pool, TaskSpec
except ImportError:
    STANDIN.add("_model")

    @dataclass(frozen=True)
    class Pool:  # type: ignore[no-redef]
        name: str
        price_per_hour: float
        speed: float = 1.0
        workers: int = 1
        resources: Mapping[str, float] = field(default_factory=dict)

    @dataclass(frozen=True)
    class TaskSpec:  # type: ignore[no-redef]
        key: Hashable
        work: float
        dependencies: tuple[Hashable, ...] = ()
        resources: Mapping[str, float] = field(default_factory=dict)
        priority: int = 0
        stage: str | None = None
        pool: str | None = None

    class Mode(Enum):  # type: ignore[no-redef]
        FASTEST = "fastest"
        CHEAPEST = "cheapest"
        BALANCED = "balanced"

    @dataclass(frozen=True)
    class Objective:  # type: ignore[no-redef]
        mode: Mode = Mode.BALANCED
        budget: float | None = None
        deadline: float | None = None
        tradeoff: float | None = None

    @dataclass(frozen=True)
    class Assignment:  # type: ignore[no-redef]
        pool: str
        worker: int
        start: float
        finish: float

    @dataclass(frozen=True)
    class Plan:  # type: ignore[no-redef]
        assignments: Mapping[Hashable, Assignment]
        makespan: float
        cost: float
        cost_by_pool: Mapping[str, float]
        busy_seconds_by_pool: Mapping[str, float]
        objective: Objective
        meets_budget: bool | None
        meets_deadline: bool | None

        def pool_of(self, key: Hashable) -> str:
            return self.assignments[key].pool


try:
    from daskcollab.placement._policy import eligible_pools, lower_bounds, plan, unplaceable

    try:
        from daskcollab.placement._policy import LowerBounds
    except ImportError:
        from daskcollab.placement._model import LowerBounds  # type: ignore[no-redef]
except ImportError:
    STANDIN.add("_policy")

    @dataclass(frozen=True)
    class LowerBounds:  # type: ignore[no-redef]
        critical_path: float
        work_over_speed: float
        cost: float

        @property
        def makespan(self) -> float:
            return max(self.critical_path, self.work_over_speed)

    def eligible_pools(task: TaskSpec, pools: Iterable[Pool]) -> list[Pool]:  # type: ignore[no-redef]
        return [
            p
            for p in pools
            if (task.pool is None or p.name == task.pool)
            and all(float(p.resources.get(r, 0.0)) >= float(q) for r, q in task.resources.items())
        ]

    def unplaceable(tasks: Iterable[TaskSpec], pools: Iterable[Pool]) -> dict[Hashable, str]:  # type: ignore[no-redef]
        pools = list(pools)
        return {
            t.key: f"no pool offers {dict(t.resources)!r}" + (f" in pool {t.pool!r}" if t.pool else "")
            for t in tasks
            if not eligible_pools(t, pools)
        }

    def _order(tasks: Sequence[TaskSpec]) -> list[TaskSpec]:
        by_key = {t.key: t for t in tasks}
        seen: set[Hashable] = set()
        out: list[TaskSpec] = []
        for t in tasks:
            stack = [(t, False)]
            while stack:
                cur, done = stack.pop()
                if cur.key in seen:
                    continue
                if done:
                    seen.add(cur.key)
                    out.append(cur)
                    continue
                stack.append((cur, True))
                stack.extend((by_key[d], False) for d in cur.dependencies if d in by_key and d not in seen)
        return out

    def lower_bounds(tasks: Sequence[TaskSpec], pools: Sequence[Pool]) -> LowerBounds:  # type: ignore[no-redef]
        pools = list(pools)
        finish: dict[Hashable, float] = {}
        cost = 0.0
        for t in _order(list(tasks)):
            el = eligible_pools(t, pools) or pools
            fastest = max(p.speed for p in el)
            start = max((finish.get(d, 0.0) for d in t.dependencies), default=0.0)
            finish[t.key] = start + t.work / fastest
            cost += min(t.work / p.speed * p.price_per_hour / 3600 for p in el)
        capacity = sum(p.speed * p.workers for p in pools) or 1.0
        return LowerBounds(max(finish.values(), default=0.0), sum(t.work for t in tasks) / capacity, cost)

    def _schedule(tasks: list[TaskSpec], pools: list[Pool], mode: Mode, slack: float) -> dict[Hashable, Assignment]:
        free = {p.name: [0.0] * max(p.workers, 1) for p in pools}
        out: dict[Hashable, Assignment] = {}
        for t in tasks:
            ready = max((out[d].finish for d in t.dependencies if d in out), default=0.0)
            options = []
            for p in eligible_pools(t, pools) or pools:
                w = min(range(len(free[p.name])), key=free[p.name].__getitem__)
                start = max(ready, free[p.name][w])
                options.append((start + t.work / p.speed, t.work / p.speed * p.price_per_hour, p.name, w, start))
            best_finish = min(o[0] for o in options)
            if mode is Mode.FASTEST:
                choice = min(options)
            elif mode is Mode.CHEAPEST:
                choice = min(options, key=lambda o: (o[1], o[0]))
            else:
                limit = ready + (best_finish - ready) * (1.0 + slack)
                choice = min((o for o in options if o[0] <= limit + 1e-12), key=lambda o: (o[1], o[0]))
            finish, _, name, w, start = choice
            free[name][w] = finish
            out[t.key] = Assignment(name, w, start, finish)
        return out

    def _evaluate(ordered: list[TaskSpec], pools: list[Pool], assignments: dict, objective: Objective) -> Plan:
        prices = {p.name: p for p in pools}
        busy: dict[str, float] = {}
        for t in ordered:
            a = assignments[t.key]
            busy[a.pool] = busy.get(a.pool, 0.0) + a.finish - a.start
        cost_by_pool = {n: sec * prices[n].price_per_hour / 3600 for n, sec in busy.items()}
        makespan = max((a.finish for a in assignments.values()), default=0.0)
        cost = sum(cost_by_pool.values())
        meets_d = None if objective.deadline is None else makespan <= objective.deadline * (1 + 1e-9)
        meets_b = None if objective.budget is None else cost <= objective.budget * (1 + 1e-9)
        return Plan(assignments, makespan, cost, cost_by_pool, busy, objective, meets_b, meets_d)

    def plan(tasks: Sequence[TaskSpec], pools: Sequence[Pool], objective: Objective = Objective()) -> Plan:  # type: ignore[no-redef]
        """Greedy list scheduling; small graphs try a few cost/time slacks and keep the best."""
        pools = list(pools)
        ordered = _order(list(tasks))
        if objective.mode is Mode.FASTEST:
            return _evaluate(ordered, pools, _schedule(ordered, pools, Mode.FASTEST, 0.0), objective)
        slacks = [0.0, 0.1, 0.25, 0.5, 1.0, 2.0, math.inf] if len(ordered) <= 5000 else [0.25]
        plans = [_evaluate(ordered, pools, _schedule(ordered, pools, Mode.BALANCED, sl), objective) for sl in slacks]
        fastest = min(plans, key=lambda p: p.makespan)
        if objective.mode is Mode.CHEAPEST:
            limit = objective.deadline if objective.deadline is not None else math.inf
        else:
            tradeoff = 0.25 if objective.tradeoff is None else float(objective.tradeoff)
            limit = fastest.makespan * (1 + tradeoff)
            if objective.deadline is not None:
                limit = min(limit, objective.deadline)
        ok = [p for p in plans if p.makespan <= limit * (1 + 1e-9)]
        if objective.budget is not None and ok:
            ok = [p for p in ok if p.cost <= objective.budget] or ok
        return min(ok, key=lambda p: (p.cost, p.makespan)) if ok else fastest


try:
    from daskcollab.placement._cost_model import CostModel
except ImportError:
    STANDIN.add("_cost_model")

    class CostModel:  # type: ignore[no-redef]
        """Average observed work (duration x speed) per (stage, prefix)."""

        def __init__(self, observations: Mapping[str, tuple[float, int]] | None = None) -> None:
            self._obs: dict[str, list[float]] = {k: [float(v[0]), int(v[1])] for k, v in (observations or {}).items()}

        @staticmethod
        def _key(stage: str | None, prefix: str | None) -> str:
            return f"{stage}|{prefix}"

        def estimate(self, stage: str | None, prefix: str | None, pool: str | None, default_work: float) -> float:
            total, n = self._obs.get(self._key(stage, prefix), (0.0, 0))
            return total / n if n else float(default_work)

        def observe(self, stage: str | None, prefix: str | None, pool: str | None, duration: float, speed: float) -> None:
            entry = self._obs.setdefault(self._key(stage, prefix), [0.0, 0])
            entry[0] += duration * speed
            entry[1] += 1

        def to_dict(self) -> dict[str, Any]:
            return {"version": 1, "observations": {k: list(v) for k, v in self._obs.items()}}

        @classmethod
        def from_dict(cls, data: Mapping[str, Any]) -> CostModel:
            return cls({k: (v[0], v[1]) for k, v in data.get("observations", {}).items()})

        def save(self, path: str | pathlib.Path) -> None:
            pathlib.Path(path).write_text(json.dumps(self.to_dict()))

        @classmethod
        def load(cls, path: str | pathlib.Path) -> CostModel:
            return cls.from_dict(json.loads(pathlib.Path(path).read_text()))


__all__ = [
    "STANDIN", "Assignment", "CostModel", "LowerBounds", "Mode", "Objective", "Plan", "Pool", "TaskSpec",
    "eligible_pools", "lower_bounds", "plan", "unplaceable",
]
