"""Cost-aware placement vs. Dask's default and vs. the LP cost bound on real workflow shapes, plus plugin overhead.

Workflow DAGs are generated offline with WfCommons recipes (Blast, BWA, Cycles, Epigenomics,
Genome, Montage, Seismology, SoyKB, SRASearch; their per-task runtime distributions as work),
scaled to a lower-bound makespan of 3 s and of 15 s. They run on a real local cluster of three
pools whose speeds are emulated (a task sleeps ``work / speed`` on its worker, speed read from the
worker's pool metadata): Dask's default (no plugin) and each daskcollab mode, every shape at least
3 times (medians reported). All modes share one cost model, so later runs plan with the per-task
overhead earlier ones measured.

Per shape, each run is reported against Dask's default (makespan and cost ratios) and against the
LP lower bound on the cost reachable within its makespan (:func:`cost_lower_bound`), with the
plan's own prediction beside it. Modes: ``fastest``; ``cheapest`` with a deadline of 2.8x the
lower-bound makespan (all-spot takes ~3x, so some work must move to faster pools);
``cheapest@dask``, cheapest with Dask's own median makespan as the deadline; ``balanced``.

Checks (``checks`` map per shape, issue #12):

* ``<mode>_follows_plan``: measured / planned makespan <= 1.10 (median over repeats);
* ``front_cost_at_dask_makespan_vs_bound``: the cheapest plan of the cost/makespan front within
  Dask's measured makespan costs <= 1.10x the LP bound there, and
  ``front_cost_at_dask_makespan_vs_dask`` <= 0.70x Dask's cost wherever that bound is <= 0.60x it;
* ``fastest_makespan``: <= 0.95x Dask's makespan on shapes with a critical path (critical path at
  the fastest speeds >= 1/3 of the lower-bound makespan), ``fastest_makespan_bag`` <= 1.05x on
  bags of tasks;
* ``cheapest_deadline`` (every run meets it) and ``cheapest_cost_vs_bound`` (<= 1.10x the LP bound
  within the deadline);
* plugin overhead: <= 20 us per task inside the plugin's hooks and <= 1.05x wall on 50 k tiny tasks.

``--simulate`` runs the pure policy only (no cluster) over every recipe and both scales: plan
quality against the LP bound along the front and per mode, the fastest plan's makespan with
insertion over without, and the seconds each took.

    python benchmarks/bench_placement.py              # full run -> results/placement.json
    python benchmarks/bench_placement.py --quick      # smoke run (two small DAGs) -> results/placement_quick.json
    python benchmarks/bench_placement.py --simulate   # pure policy -> results/placement_simulate.json
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

from distributed import Client

sys.path.insert(0, os.path.dirname(__file__))
from _common import median, verdict, write_result  # noqa: E402
from _emulate import emulated_graph, scale_work, task_specs, wfcommons_dag  # noqa: E402

from daskcollab.deploy import start_local_pools  # noqa: E402
from daskcollab.placement import (  # noqa: E402
    Mode,
    Objective,
    PlacementPlugin,
    Pool,
    choose,
    cost_lower_bound,
    lower_bounds,
    pareto_front,
    placement_report,
    plan,
)
from daskcollab.placement._heft import _EFT, _Graph, _schedule  # noqa: E402
from daskcollab.testing import use_placement_plugin  # noqa: E402

POOLS = [
    Pool("cpu-spot", price_per_hour=0.10, speed=1.0, workers=4),
    Pool("cpu-ondemand", price_per_hour=0.40, speed=2.0, workers=2),
    Pool("gpu", price_per_hour=2.50, speed=4.0, workers=1, resources={"GPU": 1}),
]
PRICES = {p.name: p.price_per_hour for p in POOLS}
#: the recipes of the full run (at ~300 tasks) and of --simulate (rnaseq too)
RECIPES = ("blast", "bwa", "cycles", "epigenomics", "genome", "montage", "seismology", "soykb", "srasearch")
SIM_RECIPES = RECIPES + ("rnaseq",)
#: lower-bound makespans (s) the DAGs are scaled to
SCALES = (3.0, 15.0)
REPEATS = 3
DEADLINE_OVER_LB = 2.8
#: a shape has a critical path when it is at least this share of the lower-bound makespan
CRITICAL_PATH_SHARE = 1.0 / 3.0
#: per-task overhead (s) the simulation plans with: what the plugin learned in the last full run
SIM_TASK_OVERHEAD = 0.003
#: makespans (x the lower bound) at which --simulate reads the front
SIM_POINTS = (1.1, 1.3, 1.5, 2.0, 2.8)
#: plans on the cost/makespan front the benchmark reads costs from
FRONT_POINTS = int(os.environ.get("BENCH_FRONT_POINTS", 24))


def _planned(report: dict) -> dict:
    """The plan's own prediction (first decision) next to what the run measured."""
    plans = [d for d in report["decisions"] if d.get("reason") == "plan" and d.get("estimated_makespan") is not None]
    if not plans:
        return {}
    return {"makespan_s": plans[0]["estimated_makespan"], "cost": plans[0]["estimated_cost"]}


def install(client: Client, plugin: PlacementPlugin | None) -> None:
    use_placement_plugin(client, plugin if plugin is not None else False)


def run_once(client: Client, tasks, name: str, extra: dict | None = None) -> dict:
    graph = emulated_graph(tasks, workflow=name, extra=extra)
    t0 = time.perf_counter()
    results = client.gather(client.compute(list(graph.values())))
    makespan = time.perf_counter() - t0
    busy: dict[str, float] = {}
    for pool, seconds in results:
        busy[pool] = busy.get(pool, 0.0) + seconds
    cost = sum(s * PRICES[p] / 3600 for p, s in busy.items())
    return {"makespan_s": makespan, "cost": cost, "busy_seconds_by_pool": busy}


def scaled_shape(recipe: str, ntasks: int, target_lb: float):
    """The recipe's DAG with its work scaled to a lower-bound makespan of ``target_lb`` s."""
    raw = wfcommons_dag(recipe, ntasks, seed=1)
    lb0 = lower_bounds(task_specs(raw), POOLS)
    tasks = scale_work(raw, sum(t.work for t in raw) * target_lb / lb0.makespan)
    return tasks, task_specs(tasks)


def _summary(runs: list[dict]) -> dict:
    """Medians over repeats, the runs themselves beside them."""
    out = {"makespan_s": median([r["makespan_s"] for r in runs]), "cost": median([r["cost"] for r in runs]),
           "repeats": len(runs), "makespan_runs_s": [r["makespan_s"] for r in runs], "cost_runs": [r["cost"] for r in runs]}
    planned = [r["planned"] for r in runs if r.get("planned")]
    if planned:
        out["planned"] = planned[0]
        out["follows_plan"] = median([r["makespan_s"] / r["planned"]["makespan_s"] for r in runs if r.get("planned")])
        out["plugin_us_per_task"] = median([r["plugin_us_per_task"] for r in runs])
        out["plugin_cost"] = median([r["plugin_cost"] for r in runs])
        out["task_overhead_planned_s"] = runs[-1]["task_overhead_planned_s"]
    return out


def bench_shape(client: Client, recipe: str, ntasks: int, target_lb: float, reps: int, tmp: str) -> dict:
    tasks, specs = scaled_shape(recipe, ntasks, target_lb)
    lb = lower_bounds(specs, POOLS)
    deadline = DEADLINE_OVER_LB * lb.makespan
    bag = lb.critical_path < CRITICAL_PATH_SHARE * lb.makespan
    name = f"{recipe}@{target_lb:g}s"
    install(client, None)
    runs: dict[str, list[dict]] = {"dask-default": [run_once(client, tasks, f"{name}-default") for _ in range(reps)]}
    dask_mk = median([r["makespan_s"] for r in runs["dask-default"]])
    modes = {
        "fastest": {"mode": "fastest"},
        "cheapest": {"mode": "cheapest", "deadline": deadline},
        "cheapest@dask": {"mode": "cheapest", "deadline": dask_mk},
        "balanced": {"mode": "balanced"},
    }
    for _ in range(reps):  # interleaved, so slow phases of the machine spread over the modes
        for mode, extra in modes.items():
            # one cost model for the whole benchmark: later runs plan with the per-task overhead
            # (dispatch, transfers) the earlier ones measured, as repeated runs of a workflow do
            install(client, PlacementPlugin(mode=Mode(extra["mode"]), cost_model_path=os.path.join(tmp, "cost-model.json")))
            row = run_once(client, tasks, f"{name}-{mode}", extra)
            rep = placement_report(client)
            row.update(plugin_cost=rep["cost"], plugin_us_per_task=rep["overhead"]["us_per_task"], planned=_planned(rep),
                       task_overhead_planned_s=rep["task_overhead"])
            runs.setdefault(mode, []).append(row)
    rows = {k: _summary(v) for k, v in runs.items()}
    base = rows["dask-default"]
    for row in rows.values():
        row["slr"] = row["makespan_s"] / lb.makespan
        row["makespan_ratio"] = row["makespan_s"] / base["makespan_s"]
        row["cost_ratio"] = row["cost"] / base["cost"]
        row["lp_bound_at_makespan"] = cost_lower_bound(specs, POOLS, row["makespan_s"])
        row["cost_vs_bound"] = row["cost"] / row["lp_bound_at_makespan"]
    # the front, read at Dask's measured makespan
    overhead = rows["fastest"].get("task_overhead_planned_s") or 0.0
    front = pareto_front(specs, POOLS, task_overhead=overhead, max_points=FRONT_POINTS)
    at_dask = choose(front, Objective(Mode.CHEAPEST, deadline=base["makespan_s"]))
    bound_dask = cost_lower_bound(specs, POOLS, base["makespan_s"], task_overhead=overhead)
    bound_deadline = cost_lower_bound(specs, POOLS, deadline)
    cheapest = rows["cheapest"]
    checks = {f"{m}_follows_plan": (rows[m]["follows_plan"], 1.10) for m in modes if "follows_plan" in rows[m]}
    checks["front_cost_at_dask_makespan_vs_bound"] = (at_dask.cost / bound_dask, 1.10)
    if bound_dask <= 0.60 * base["cost"]:
        checks["front_cost_at_dask_makespan_vs_dask"] = (at_dask.cost / base["cost"], 0.70)
    checks["fastest_makespan_bag" if bag else "fastest_makespan"] = (rows["fastest"]["makespan_ratio"], 1.05 if bag else 0.95)
    checks["cheapest_deadline"] = (max(cheapest["makespan_runs_s"]) / deadline, 1.0)
    checks["cheapest_cost_vs_bound"] = (cheapest["cost"] / bound_deadline, 1.10)
    out = {
        "recipe": recipe, "tasks": len(tasks), "target_lb_makespan_s": target_lb, "bag_of_tasks": bag,
        "stages": sorted({t.stage for t in tasks}), "serial_work_s": sum(t.work for t in tasks),
        "lower_bound": {"makespan_s": lb.makespan, "critical_path_s": lb.critical_path, "cost": lb.cost,
                        "lp_cost_at_dask_makespan": bound_dask, "lp_cost_at_deadline": bound_deadline},
        "deadline_s": deadline,
        "front": [{"makespan_s": p.makespan, "cost": p.cost} for p in front],
        "front_at_dask_makespan": {"makespan_s": at_dask.makespan, "cost": at_dask.cost},
        "runs": rows,
        "checks": {k: {"ratio": r, "target": t, "met": r <= t} for k, (r, t) in checks.items()},
    }
    print(f"\n{name} ({len(tasks)} tasks, {'bag of tasks' if bag else 'critical path'}, LB makespan "
          f"{lb.makespan:.2f} s, LB cost ${lb.cost:.6f}, medians of {reps})")
    print(f"  {'run':<14}{'makespan_s':>11}{'cost_$':>12}{'SLR':>7}{'x mksp':>8}{'x cost':>8}{'x LP':>7}"
          f"{'plan mksp':>11}{'x plan':>8}")
    for key, row in rows.items():
        planned = row.get("planned") or {}
        pm = f"{planned['makespan_s']:>11.2f}{row['follows_plan']:>8.2f}" if planned else ""
        print(f"  {key:<14}{row['makespan_s']:>11.2f}{row['cost']:>12.6f}{row['slr']:>7.2f}{row['makespan_ratio']:>8.2f}"
              f"{row['cost_ratio']:>8.2f}{row['cost_vs_bound']:>7.2f}{pm}")
    print(f"  front at Dask's makespan: ${at_dask.cost:.6f} ({at_dask.makespan:.2f} s), LP bound ${bound_dask:.6f}")
    for k, (r, t) in checks.items():
        print(f"  {k:<40} {verdict(r, t)}")
    return out


def bench_overhead(n: int, tmp: str, reps: int = 2) -> dict:
    import dask.config

    pools = [Pool("a", 0.1, 1.0, workers=1), Pool("b", 0.4, 2.0, workers=1)]

    def one(client: Client, plugin: PlacementPlugin | None, n_warm: int | None = None) -> tuple[float, dict | None]:
        install(client, plugin)
        m = n if n_warm is None else n_warm
        xs = [dask.delayed(int, pure=False)(i) for i in range(m)]
        t0 = time.perf_counter()
        with dask.annotate(collab={"workflow": "overhead", "stage": "tiny", "kind": "task", "cost": m * 1e-4}):
            futs = client.compute(xs)
        client.gather(futs)
        wall = time.perf_counter() - t0
        del futs
        rep = placement_report(client)["overhead"] if plugin is not None else None
        return wall, rep

    # Restricted tasks bypass root-task queuing and are never stolen, which changes how fast tiny
    # tasks flow (with queuing on, the plain run is *slower*: one round trip per task; with work
    # stealing on, 50k queued tasks make it slower still). To measure the plugin's own cost, both
    # runs use the same scheduling: queuing off (worker-saturation inf) and no work stealing.
    with dask.config.set({"distributed.scheduler.worker-saturation": float("inf"),
                          "distributed.scheduler.work-stealing": False}):
        with start_local_pools(pools, plugin=False) as cluster, Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
            one(client, None, n_warm=min(n, 5_000))  # warm-up
            walls: dict[str, list[float]] = {"none": [], "plugin": []}
            inside = []
            for _ in range(reps):
                w, _r = one(client, None)
                walls["none"].append(w)
                w, r = one(client, PlacementPlugin(mode="balanced", cost_model_path=os.path.join(tmp, "ovh.json")))
                walls["plugin"].append(w)
                inside.append(r)
    best = {k: min(v) for k, v in walls.items()}
    us = min(r["hook_seconds"] for r in inside) * 1e6 / n
    ratio = best["plugin"] / best["none"]
    print(f"\noverhead: {n} tiny tasks, wall without plugin {best['none']:.2f} s, with {best['plugin']:.2f} s")
    print(f"  inside plugin hooks: {us:.1f} us/task   {verdict(us / 20.0, 1.0)} (of 20 us)")
    print(f"  wall ratio          {verdict(ratio, 1.05)}")
    return {
        "tasks": n, "wall_s": walls, "best_wall_s": best, "us_per_task_inside_plugin": us,
        "hook_breakdown": inside, "checks": {
            "us_per_task": {"ratio": us / 20.0, "target": 1.0, "met": us <= 20.0},
            "wall_ratio": {"ratio": ratio, "target": 1.05, "met": ratio <= 1.05},
        },
    }


def simulate_shape(recipe: str, ntasks: int, target_lb: float) -> dict:
    """Pure policy on one shape: plans and the front against the LP bound, and how long each took."""
    _tasks, specs = scaled_shape(recipe, ntasks, target_lb)
    ov = SIM_TASK_OVERHEAD
    lb = lower_bounds(specs, POOLS)
    deadline = DEADLINE_OVER_LB * lb.makespan
    seconds: dict[str, float] = {}

    def timed(key, fn):
        t0 = time.perf_counter()
        out = fn()
        seconds[key] = time.perf_counter() - t0
        return out

    def bound(makespan: float) -> float:
        return cost_lower_bound(specs, POOLS, makespan, task_overhead=ov)

    front = timed("front", lambda: pareto_front(specs, POOLS, task_overhead=ov, max_points=FRONT_POINTS))
    timed("lp_bound", lambda: bound(deadline))
    plans = {
        "fastest": timed("fastest", lambda: plan(specs, POOLS, Objective(Mode.FASTEST), task_overhead=ov)),
        "cheapest": timed("cheapest", lambda: plan(specs, POOLS, Objective(Mode.CHEAPEST, deadline=deadline),
                                                   task_overhead=ov)),
        "balanced": timed("balanced", lambda: plan(specs, POOLS, Objective(Mode.BALANCED), task_overhead=ov)),
    }
    modes = {}
    for key, p in plans.items():
        b = bound(p.makespan)
        modes[key] = {"makespan_s": p.makespan, "slr": p.makespan / lb.makespan, "cost": p.cost,
                      "lp_bound_at_makespan": b, "cost_vs_bound": p.cost / b if b > 0 else math.nan}
    g = _Graph(specs, POOLS, ov)  # the fastest plan with and without insertion into idle gaps
    modes["fastest"]["insertion_gain"] = (_schedule(g, _EFT, insert=True).makespan
                                          / _schedule(g, _EFT, insert=False).makespan)
    modes["cheapest"]["meets_deadline"] = plans["cheapest"].meets_deadline
    modes["cheapest"]["cost_vs_bound_at_deadline"] = plans["cheapest"].cost / bound(deadline)
    points = {}
    for f in SIM_POINTS:
        limit = f * lb.makespan
        b = bound(limit)
        pick = choose(front, Objective(Mode.CHEAPEST, deadline=limit))
        points[f"{f:g}"] = {"makespan_s": limit, "lp_bound": b, "front_cost": pick.cost,
                            "meets": bool(pick.meets_deadline),
                            "cost_vs_bound": pick.cost / b if math.isfinite(b) and pick.meets_deadline else None}
    checks = {f"front_at_{k}x_lb_vs_bound": (v["cost_vs_bound"], 1.10) for k, v in points.items()
              if v["cost_vs_bound"] is not None}
    checks["cheapest_vs_bound_at_deadline"] = (modes["cheapest"]["cost_vs_bound_at_deadline"], 1.10)
    return {
        "recipe": recipe, "tasks": len(specs), "target_lb_makespan_s": target_lb, "task_overhead_s": ov,
        "lower_bound": {"makespan_s": lb.makespan, "critical_path_s": lb.critical_path, "cost": lb.cost},
        "bag_of_tasks": lb.critical_path < CRITICAL_PATH_SHARE * lb.makespan,
        "deadline_s": deadline, "front": [{"makespan_s": p.makespan, "cost": p.cost} for p in front],
        "front_points": points, "modes": modes, "seconds": seconds,
        "checks": {k: {"ratio": r, "target": t, "met": r <= t} for k, (r, t) in checks.items()},
    }


def simulate(recipes: list[tuple[str, int]], scales: tuple[float, ...]) -> dict:
    out = {}
    print(f"simulated plans vs the LP bound (task overhead {SIM_TASK_OVERHEAD * 1000:.0f} ms)")
    head = "".join(f"{'front@' + format(f, 'g') + 'x':>12}" for f in SIM_POINTS)
    print(f"  {'shape':<22}{'fastest SLR':>12}{'x no-ins':>9}{head}{'cheapest':>10}{'balanced':>10}{'front_s':>9}{'lp_s':>7}")
    for recipe, ntasks in recipes:
        for scale in scales:
            row = simulate_shape(recipe, ntasks, scale)
            out[f"{recipe}@{scale:g}s"] = row
            cells = "".join(f"{v['cost_vs_bound']:>12.3f}" if v["cost_vs_bound"] is not None else f"{'-':>12}"
                            for v in row["front_points"].values())
            m = row["modes"]
            print(f"  {recipe + '@' + format(scale, 'g') + 's':<22}{m['fastest']['slr']:>12.3f}"
                  f"{m['fastest']['insertion_gain']:>9.3f}{cells}"
                  f"{m['cheapest']['cost_vs_bound_at_deadline']:>10.3f}{m['balanced']['cost_vs_bound']:>10.3f}"
                  f"{row['seconds']['front']:>9.2f}{row['seconds']['lp_bound']:>7.2f}")
    checks = [c for row in out.values() for c in row["checks"].values()]
    print(f"\n  checks met: {sum(c['met'] for c in checks)} of {len(checks)} (front and cheapest <= 1.10x the LP bound)")
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (two small DAGs, 0.5 s scale, 2 k overhead tasks)")
    parser.add_argument("--simulate", action="store_true", help="pure policy only (no cluster), every recipe")
    args = parser.parse_args(argv)
    if args.simulate:
        recipes = [(r, 60) for r in ("montage", "genome")] if args.quick else [(r, 300) for r in SIM_RECIPES]
        t0 = time.perf_counter()
        shapes = simulate(recipes, (0.5,) if args.quick else SCALES)
        payload = {"quick": args.quick, "simulate": True, "pools": _pools_json(), "seconds": time.perf_counter() - t0,
                   "dag_source": "wfcommons recipes (offline WorkflowGenerator), seed 1", "shapes": shapes,
                   "command": "python benchmarks/bench_placement.py --simulate" + (" --quick" if args.quick else "")}
        path = write_result("placement_simulate_quick" if args.quick else "placement_simulate", payload)
        print(f"\nwrote {path}")
        return payload
    if args.quick:
        recipes, scales, n_tiny, reps = [("montage", 60), ("genome", 60)], (0.5,), 2_000, 1
    else:
        recipes, scales, n_tiny, reps = [(r, 300) for r in RECIPES], SCALES, 50_000, REPEATS
    with tempfile.TemporaryDirectory() as tmp:
        workflows = {}
        with start_local_pools(POOLS, plugin=False) as cluster, Client(cluster) as client:
            client.wait_for_workers(sum(p.workers for p in POOLS), timeout=60)
            for scale in scales:
                for recipe, ntasks in recipes:
                    workflows[f"{recipe}@{scale:g}s"] = bench_shape(client, recipe, ntasks, scale, reps, tmp)
        overhead = bench_overhead(n_tiny, tmp, max(reps, 2) if not args.quick else 1)
    checks = [c for w in workflows.values() for c in w["checks"].values()] + list(overhead["checks"].values())
    print(f"\nchecks met: {sum(c['met'] for c in checks)} of {len(checks)}")
    payload = {
        "quick": args.quick, "pools": _pools_json(), "repeats": reps,
        "dag_source": "wfcommons recipes (offline WorkflowGenerator), seed 1",
        "workflows": workflows, "overhead": overhead,
        "command": "python benchmarks/bench_placement.py" + (" --quick" if args.quick else ""),
    }
    path = write_result("placement_quick" if args.quick else "placement", payload)
    print(f"\nwrote {path}")
    return payload


def _pools_json() -> list[dict]:
    return [{"name": p.name, "price_per_hour": p.price_per_hour, "speed": p.speed, "workers": p.workers,
             "resources": dict(p.resources)} for p in POOLS]


if __name__ == "__main__":
    main()
