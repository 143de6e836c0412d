"""One workflow, one plan: whole-workflow submission vs the old stage-by-stage order, and plan accuracy.

Real workflows (``workflows/flights-stacking.yaml``, ``workflows/sensor-fusion.yaml``; stores built
into a temporary folder) on a real cluster of two pools of one single-thread worker process each
(``cpu-spot`` 0.10 $/h, ``cpu-ondemand`` 0.40 $/h; both speed 1.0 since both are this machine's
cores), stages placed by the placement plugin in ``fastest`` mode (the targets are makespans; in the
default ``balanced`` mode the plugin may put every stage on the cheap pool once it has learned that
this stays within 1.5x the fastest plan), interleaved, ``--repeats`` times:

* ``stage-by-stage``: ``daskcollab.run(..., concurrency=1)``, each stage finished before the next
  starts (the order of daskcollab <= 0.1);
* ``whole``: the whole workflow submitted at once (the default).

Checks (medians): ``whole`` <= 1.10x the workflow's critical path (the longest path through the
stage graph, each stage weighted by its duration in the stage-by-stage run of the same repeat);
``whole`` <= 0.75x ``stage-by-stage`` on flights-stacking; on a single pool of two workers (nothing
to overlap across pools) ``whole`` <= 1.0x ``stage-by-stage``; blend metrics identical between
the two orders. Plan accuracy: on runs after the first (the cost model has learned the stages),
the run's own plan predicts its makespan within 25 % and its busy cost within 10 %, for
flights-delay and flights-stacking.

    python benchmarks/bench_workflow.py [--repeats 3]    # -> results/workflow.json
    python benchmarks/bench_workflow.py --quick          # small data, 1 repeat -> results/workflow_quick.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping

import yaml
from distributed import Client

sys.path.insert(0, os.path.dirname(__file__))
from _common import median, verdict, write_result  # noqa: E402

import daskcollab as dc  # noqa: E402
from daskcollab.deploy import start_local_pools  # noqa: E402
from daskcollab.placement import PlacementPlugin, Pool  # noqa: E402
from daskcollab.workflow._yaml import workflow_from_dict  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO_POOLS = [Pool("cpu-spot", price_per_hour=0.10, speed=1.0, workers=1),
             Pool("cpu-ondemand", price_per_hour=0.40, speed=1.0, workers=1)]
ONE_POOL = [Pool("cpu", price_per_hour=0.10, speed=1.0, workers=2)]


def load(name: str, work: str, *, quick: bool) -> dc.Workflow:
    """A shipped workflow with its store and outputs moved into ``work``."""
    with open(os.path.join(ROOT, "workflows", f"{name}.yaml")) as f:
        doc = yaml.safe_load(f)
    for stage in doc["stages"]:
        if stage["type"] == "zarr_source":
            stage["path"] = os.path.join(work, os.path.basename(stage["path"]))
            if quick and stage.get("builder") == "sensor-fusion":
                stage["builder_options"] = {"rows": 120_000, "chunk_rows": 12_000}
        if stage["type"] in ("zarr_sink", "model_sink"):
            stage["path"] = os.path.join(work, "out", os.path.basename(stage["path"]))
        if quick and stage["type"] == "xgboost":
            stage["rounds"] = min(stage.get("rounds", 100), 30)
    return workflow_from_dict(doc, source=f"{name}.yaml")


def critical_path(workflow: dc.Workflow, seconds: Mapping[str, float]) -> float:
    """The longest path through the stage graph, each stage weighted by ``seconds``."""
    finish: dict[str, float] = {}
    for stage in workflow.stages:  # inputs first
        finish[stage.name] = seconds[stage.name] + max((finish[u.name] for u in stage.upstream()), default=0.0)
    return max(finish.values())


def blend_metrics(result: dc.RunResult) -> dict:
    return {name: dict(m) for name, m in result.metrics.items()}


def run_pair(client: Client, name: str, work: str, repeats: int, quick: bool) -> dict:
    runs: dict[str, list[dc.RunResult]] = {"stage-by-stage": [], "whole": []}
    for i in range(repeats):
        for order, concurrency in (("stage-by-stage", 1), ("whole", None)):
            wf = load(name, work, quick=quick)
            t0 = time.perf_counter()
            result = dc.run(wf, client, progress=False, concurrency=concurrency)
            seconds = time.perf_counter() - t0
            runs[order].append(result)
            print(f"  {name} run {i + 1} {order:<15} {seconds:7.2f} s (makespan {result.makespan_s:.2f} s)",
                  flush=True)
    wf = load(name, work, quick=quick)
    bounds = [critical_path(wf, r.timings) for r in runs["stage-by-stage"]]
    whole = [r.makespan_s for r in runs["whole"]]
    sequential = [r.makespan_s for r in runs["stage-by-stage"]]
    identical = all(blend_metrics(a) == blend_metrics(b) for a, b in zip(runs["whole"], runs["stage-by-stage"]))
    return {
        "makespan_s": {"whole": whole, "stage-by-stage": sequential},
        "critical_path_s": bounds,
        "vs_critical_path": median(whole) / median(bounds),
        "vs_stage_by_stage": median(whole) / median(sequential),
        "metrics_identical": identical,
        "metrics": {"whole": blend_metrics(runs["whole"][-1]), "stage-by-stage": blend_metrics(runs["stage-by-stage"][-1])},
        "stage_seconds": {"whole": dict(runs["whole"][-1].timings), "stage-by-stage": dict(runs["stage-by-stage"][-1].timings)},
        "plans": [{"order": o, "predicted_makespan_s": r.plan.get("makespan"), "measured_makespan_s": r.makespan_s,
                   "predicted_cost": r.plan.get("cost"), "measured_cost_busy": r.cost.get("busy"),
                   "sources": sorted({s["source"] for s in r.plan.get("stages", {}).values()})}
                  for o in runs for r in runs[o]],
        "pools_used": {s: sorted(v["pools"]) for s, v in runs["whole"][-1].placements.get("stages", {}).items()},
    }


def plan_accuracy(client: Client, name: str, work: str, repeats: int, quick: bool) -> dict:
    """Runs of the whole workflow; from the second one the plan uses what earlier runs taught."""
    rows = []
    for i in range(repeats + 1):
        result = dc.run(load(name, work, quick=quick), client, progress=False)
        rows.append({"run": i + 1, "predicted_makespan_s": result.plan["makespan"], "measured_makespan_s": result.makespan_s,
                     "predicted_cost": result.plan["cost"], "measured_cost_busy": result.cost["busy"],
                     "sources": sorted({s["source"] for s in result.plan["stages"].values()})})
        print(f"  {name} plan run {i + 1}: predicted {rows[-1]['predicted_makespan_s']:.1f} s / "
              f"${rows[-1]['predicted_cost']:.6f}, measured {result.makespan_s:.1f} s / ${result.cost['busy']:.6f}",
              flush=True)
    learned = rows[1:]
    return {
        "runs": rows,
        "makespan_error": median([abs(r["predicted_makespan_s"] / r["measured_makespan_s"] - 1) for r in learned]),
        "cost_error": median([abs(r["predicted_cost"] / r["measured_cost_busy"] - 1) for r in learned]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small data, one repeat (a smoke run)")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    work = tempfile.mkdtemp(prefix="bench-workflow-")
    checks: dict[str, dict] = {}
    report: dict = {"quick": args.quick, "repeats": repeats, "pools": [p.name for p in TWO_POOLS]}
    try:
        with start_local_pools(TWO_POOLS, plugin=PlacementPlugin(mode="fastest", cost_model_path=os.path.join(work, "cm.json"))) as cluster, \
                Client(cluster) as client:
            for name in ("flights-stacking", "sensor-fusion"):
                r = report[name] = run_pair(client, name, work, repeats, args.quick)
                checks[f"{name}: whole vs critical path"] = {"ratio": r["vs_critical_path"], "target": 1.10,
                                                             "met": r["vs_critical_path"] <= 1.10}
                checks[f"{name}: blend metrics identical to stage-by-stage"] = {
                    "ratio": 1.0 if r["metrics_identical"] else 0.0, "target": 1.0, "met": r["metrics_identical"]}
            r = report["flights-stacking"]
            checks["flights-stacking: whole vs stage-by-stage"] = {"ratio": r["vs_stage_by_stage"], "target": 0.75,
                                                                   "met": r["vs_stage_by_stage"] <= 0.75}
            for name in ("flights-delay", "flights-stacking"):
                acc = report[f"plan accuracy {name}"] = plan_accuracy(client, name, work, repeats, args.quick)
                checks[f"{name}: plan makespan error"] = {"ratio": acc["makespan_error"], "target": 0.25,
                                                          "met": acc["makespan_error"] <= 0.25}
                checks[f"{name}: plan cost error"] = {"ratio": acc["cost_error"], "target": 0.10,
                                                      "met": acc["cost_error"] <= 0.10}
        with start_local_pools(ONE_POOL, plugin=PlacementPlugin(mode="fastest", cost_model_path=os.path.join(work, "cm1.json"))) as cluster, \
                Client(cluster) as client:
            r = report["flights-stacking one pool of two workers"] = run_pair(client, "flights-stacking", work, repeats,
                                                                              args.quick)
            checks["one pool: whole vs stage-by-stage"] = {"ratio": r["vs_stage_by_stage"], "target": 1.0,
                                                           "met": r["vs_stage_by_stage"] <= 1.0}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nmedians" + (" (quick: tiny data, numbers mean nothing)" if args.quick else ""))
    for check, c in checks.items():
        print(f"  {check:<58} {verdict(c['ratio'], c['target'], lower_is_better='identical' not in check)}")
    path = write_result("workflow_quick" if args.quick else "workflow",
                        {**report, "checks": checks, "command": "python benchmarks/bench_workflow.py"
                                                                 + (" --quick" if args.quick else f" --repeats {repeats}")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
