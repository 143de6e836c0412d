"""Placement policy at scale: a seeded layered random DAG of 100 k tasks, 10 pools, 1,000 workers.

Plans the graph in each mode (pure Python, no cluster) and reports seconds per mode against the
10 s target, with the plan's makespan and cost next to the lower bounds.

    python benchmarks/bench_policy_scale.py                  # -> results/policy_scale.json
    python benchmarks/bench_policy_scale.py --tasks 10000    # smaller smoke run
"""

from __future__ import annotations

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import timed, verdict, write_result  # noqa: E402

from daskcollab.placement._planning import Mode, Objective, Pool, TaskSpec, lower_bounds, plan  # noqa: E402

TARGET_S = 10.0


def layered_dag(ntasks: int, *, layers: int = 100, deps: int = 3, seed: int = 0) -> list[TaskSpec]:
    """``layers`` layers of equal width; each task depends on ~``deps`` random tasks of the layers above."""
    rng = random.Random(seed)
    width = max(ntasks // layers, 1)
    tasks: list[TaskSpec] = []
    for i in range(ntasks):
        layer = i // width
        lo, hi = max(0, (layer - 2) * width), layer * width
        parents = tuple(sorted({rng.randrange(lo, hi) for _ in range(deps)})) if hi > lo else ()
        gpu = rng.random() < 0.02
        tasks.append(TaskSpec(i, work=rng.expovariate(1.0) * 10.0, dependencies=parents,
                              resources={"GPU": 1} if gpu else {}, priority=1 if rng.random() < 0.01 else 0))
    return tasks


def pools_1000() -> list[Pool]:
    """10 pools, 1,000 workers: spot/on-demand CPU tiers and two GPU tiers."""
    spec = [  # name, $/h, speed, workers, resources
        ("cpu-spot-a", 0.08, 1.0, 200, {}), ("cpu-spot-b", 0.10, 1.2, 200, {}), ("cpu-spot-c", 0.12, 1.0, 150, {}),
        ("cpu-od-a", 0.40, 2.0, 120, {}), ("cpu-od-b", 0.48, 2.2, 100, {}), ("cpu-od-c", 0.60, 3.0, 80, {}),
        ("mem-od", 0.90, 2.5, 60, {"MEM": 256}), ("hpc", 1.20, 4.0, 50, {}),
        ("gpu-t4", 1.50, 3.0, 25, {"GPU": 1}), ("gpu-a100", 4.00, 6.0, 15, {"GPU": 1}),
    ]
    return [Pool(n, price, speed, w, r) for n, price, speed, w, r in spec]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    pools = pools_1000()
    tasks = layered_dag(args.tasks, seed=args.seed)
    nedges = sum(len(t.dependencies) for t in tasks)
    lb_s, lb = timed(lambda: lower_bounds(tasks, pools))
    deadline = 3.0 * lb.makespan
    print(f"{len(tasks)} tasks, {nedges} edges, {len(pools)} pools, {sum(p.workers for p in pools)} workers")
    print(f"lower bounds ({lb_s:.2f} s): makespan {lb.makespan:.1f} s (critical path {lb.critical_path:.1f}), cost ${lb.cost:.2f}")
    runs = {}
    objectives = {
        "fastest": Objective(Mode.FASTEST),
        "cheapest": Objective(Mode.CHEAPEST),
        "cheapest+deadline": Objective(Mode.CHEAPEST, deadline=deadline),
        "balanced": Objective(Mode.BALANCED),
    }
    for name, obj in objectives.items():
        seconds, p = timed(lambda obj=obj: plan(tasks, pools, obj))
        runs[name] = {
            "seconds": seconds, "makespan_s": p.makespan, "cost": p.cost, "slr": p.makespan / lb.makespan,
            "cost_over_lb": p.cost / lb.cost, "meets_deadline": p.meets_deadline,
            "verdict": verdict(seconds / TARGET_S, 1.0),
        }
        print(f"  {name:<18} {seconds:6.2f} s  makespan {p.makespan:9.1f} s (SLR {p.makespan / lb.makespan:5.2f})  "
              f"cost ${p.cost:8.2f} ({p.cost / lb.cost:4.2f}x LB)"
              + ("" if p.meets_deadline is None else f"  deadline {'met' if p.meets_deadline else 'MISSED'}")
              + f"  time vs {TARGET_S:.0f} s: {verdict(seconds / TARGET_S, 1.0)}")
    path = write_result("policy_scale", {
        "tasks": len(tasks), "edges": nedges, "pools": len(pools), "workers": sum(p.workers for p in pools),
        "target_seconds": TARGET_S, "lower_bound": {"makespan_s": lb.makespan, "critical_path_s": lb.critical_path,
                                                    "cost": lb.cost, "seconds": lb_s},
        "deadline_s": deadline, "runs": runs,
        "all_met": all(r["seconds"] <= TARGET_S for r in runs.values()),
        "checks": {f"{name}_seconds_vs_target": {"ratio": r["seconds"] / TARGET_S, "target": 1.0,
                                                 "met": r["seconds"] <= TARGET_S} for name, r in runs.items()},
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
