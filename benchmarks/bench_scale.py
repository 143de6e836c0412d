"""Scaling: the whole workflow at 1x, 4x and 10x rows, and on data twice the cluster's memory.

Part 1 (time): the sensor-fusion workflow through the public API (ZarrSource -> XGBoostModel,
Standardize -> LinearModel, weighted-average Blend, Evaluate, ZarrSink) at ``--base-rows`` (1x),
4x and 10x rows, on one LocalCluster (2 worker processes x 1 thread), stores prebuilt with
``daskcollab.data.build_sensor_fusion`` (28 float32 features, fixed chunk size). A discarded 1x
warm-up run comes first so that worker-side imports do not inflate t(1x). Targets:
t(4x)/t(1x) <= 4.4 and t(10x)/t(1x) <= 11 (no worse than linear, 10 % slack).

Part 2 (memory): the same workflow (``ZarrSource(persist=None)``: features larger than half the
workers' headroom are not persisted but re-read per stage) on a fresh LocalCluster of 2 workers
with ``--worker-memory-mb`` each, on a dataset whose features take twice the workers' total
memory limit. A worker process with dask, xgboost, dask-ml and zarr imported takes ~290 MiB before
any work, so workers below 500 MiB are refused up front. xgboost.dask loads each worker's share of
the training rows at once; daskcollab stops before that with a DataError suggesting
``max_train_rows``, and the benchmark follows that advice once (a seeded sample). Each run reports its outcome (completed / failed / stalled with every worker
paused / timed out), wall time, the stages that finished, worker restarts for memory
(``worker-restart-memory`` events), unexpected worker removals, pauses, peak worker memory seen by
the scheduler, spilled bytes, and the error. Bounded by ``--memory-timeout`` seconds (xgboost.dask
training hangs when a worker dies, xgboost#9419).

    python benchmarks/bench_scale.py [--base-rows 200000] [--worker-memory-mb 700] [--quick]

Writes benchmarks/results/scale.json (``--quick``: scale_quick.json).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import threading
import time

from distributed import Client, LocalCluster

sys.path.insert(0, os.path.dirname(__file__))
from _common import timed, verdict, write_result  # noqa: E402

import daskcollab as dc  # noqa: E402
from daskcollab.data import build_sensor_fusion  # noqa: E402
from daskcollab.data._builders import SENSOR_GROUPS  # noqa: E402

N_FEATURES = sum(SENSOR_GROUPS.values())
FACTORS = (1, 4, 10)
TARGETS = {4: 4.4, 10: 11.0}
PARAMS = {"max_depth": 6, "eta": 0.1, "subsample": 0.8}


def workflow(store: str, out: str, rounds: int, max_iter: int, max_train_rows: dict | None = None) -> dc.Workflow:
    limits = max_train_rows or {}
    src = dc.ZarrSource(store, name="source", split=dc.RowSplit(validation=0.2, test=0.2, seed=0), persist=None)
    xgb = dc.XGBoostModel(src, name="xgb", params=PARAMS, rounds=rounds, max_train_rows=limits.get("xgb"))
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg", max_iter=max_iter,
                         max_train_rows=limits.get("logreg"))
    blend = dc.Blend([xgb, lin], name="blend")
    return dc.Workflow("scale", [dc.Evaluate([xgb, lin, blend], name="evaluate"),
                                 dc.ZarrSink([blend], name="sink", path=out, overwrite=True)])


class MemoryWatch:
    """Poll the scheduler's view of the workers: peak process memory, spilled bytes, pauses."""

    def __init__(self, client: Client, interval: float = 0.5) -> None:
        self.client, self.interval = client, interval
        self.peak: dict[str, int] = {}
        self.spilled_peak = 0
        self.paused_polls = 0
        self.polls = 0
        self.all_paused_since: float | None = None  # every worker paused (nothing can run) since
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                workers = self.client.scheduler_info(n_workers=-1)["workers"]
            except Exception:  # the cluster is closing
                return
            self.polls += 1
            paused = False
            for w in workers.values():
                metrics = w.get("metrics", {})
                key = str(w.get("name", w.get("id")))
                self.peak[key] = max(self.peak.get(key, 0), int(metrics.get("memory") or 0))
                self.spilled_peak = max(self.spilled_peak, int((metrics.get("spilled_bytes") or {}).get("disk", 0)))
                paused |= w.get("status") == "paused"
            self.paused_polls += paused
            statuses = [w.get("status") for w in workers.values()]
            if statuses and all(st == "paused" for st in statuses):
                self.all_paused_since = self.all_paused_since or time.perf_counter()
            else:
                self.all_paused_since = None

    def all_paused_for(self) -> float:
        return 0.0 if self.all_paused_since is None else time.perf_counter() - self.all_paused_since


def restart_events(client: Client) -> dict[str, object]:
    """Worker restarts for memory and unexpected worker removals, read on the scheduler
    (some "all" events hold WorkerState objects that cannot be sent to the client)."""

    def collect(dask_scheduler):
        memory = [dict(msg) for _, msg in dask_scheduler.get_events("worker-restart-memory")]
        removed = [str(msg.get("worker")) for _, msg in dask_scheduler.get_events("all")
                   if isinstance(msg, dict) and msg.get("action") == "remove-worker" and not msg.get("expected")]
        return memory, removed

    memory, removed = client.run_on_scheduler(collect)
    return {"memory_restarts": len(memory), "unexpected_worker_removals": len(removed),
            "memory_restart_events": [{k: str(v) for k, v in e.items()} for e in memory][:5]}


def run_in_thread(fn, timeout: float, watch: MemoryWatch, stall_s: float):
    """Run ``fn`` in a daemon thread; give up after ``timeout`` s, or once every worker has been
    paused for ``stall_s`` s (nothing can run then). Returns (outcome, result, exception, seconds)."""
    box: dict[str, object] = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported, not swallowed silently
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    start = time.perf_counter()
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        if time.perf_counter() - start > timeout:
            return "timed out", None, None, time.perf_counter() - start
        if watch.all_paused_for() > stall_s:
            return "stalled (all workers paused)", None, None, time.perf_counter() - start
    seconds = time.perf_counter() - start
    return ("failed" if "error" in box else "completed"), box.get("result"), box.get("error"), seconds


def time_part(args, work: str) -> dict[str, object]:
    sizes = {f: args.base_rows * f for f in FACTORS}
    stores = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for f, rows in sizes.items():
            seconds, stores[f] = timed(lambda: build_sensor_fusion(os.path.join(work, f"x{f}.zarr"), rows=rows,
                                                                   chunk_rows=args.chunk_rows))
            print(f"built {f}x store: {rows:,} rows x {N_FEATURES} ({rows * N_FEATURES * 4 / 1e6:.0f} MB) "
                  f"in {seconds:.1f} s", flush=True)
        out = os.path.join(work, "pred.zarr")
        if args.warm_up:
            seconds, _ = timed(lambda: dc.run(workflow(stores[1], out, args.rounds, args.max_iter), client,
                                              progress=False))
            print(f"warm-up 1x run (discarded): {seconds:.1f} s", flush=True)
        times, stage_times, aucs = {}, {}, {}
        for f in FACTORS:
            seconds, result = timed(lambda: dc.run(workflow(stores[f], out, args.rounds, args.max_iter), client,
                                                   progress=False))
            times[f], stage_times[f] = seconds, dict(result.timings)
            aucs[f] = round(float(result.metrics["blend"]["auc"]), 4)
            print(f"  {f:>2}x {sizes[f]:>10,} rows: {seconds:7.1f} s  ({sizes[f] / seconds:9,.0f} rows/s)  "
                  f"blend AUC {aucs[f]}  stages {stage_times[f]}", flush=True)
            client.cancel(list(client.futures))
    ratios = {f: times[f] / times[1] for f in FACTORS[1:]}
    return {"rows": sizes, "times_s": times, "stage_times_s": stage_times, "blend_auc": aucs, "ratios": ratios,
            "met": {f: ratios[f] <= TARGETS[f] for f in ratios},
            "checks": {f"t({f}x)/t(1x)": {"ratio": ratios[f], "target": TARGETS[f], "met": ratios[f] <= TARGETS[f]}
                       for f in ratios}}


def memory_part(args, work: str) -> dict[str, object]:
    per_worker = args.worker_memory_mb * 2**20
    rows = int(2 * (2 * per_worker) / (N_FEATURES * 4)) if not args.quick else 20_000
    feature_bytes = rows * N_FEATURES * 4
    store = os.path.join(work, "memory.zarr")
    seconds, _ = timed(lambda: build_sensor_fusion(store, rows=rows, chunk_rows=args.chunk_rows))
    print(f"\nbuilt memory store: {rows:,} rows x {N_FEATURES} = {feature_bytes / 2**30:.2f} GiB of features "
          f"in {seconds:.1f} s", flush=True)
    configs = {"2x total worker memory": per_worker}
    report: dict[str, object] = {"rows": rows, "feature_bytes": feature_bytes, "rounds": args.memory_rounds,
                                 "max_iter": args.memory_max_iter, "timeout_s": args.memory_timeout, "runs": {}}
    for label, per_worker in configs.items():
        limits: dict[str, int] = {}
        refusals = []
        run = memory_run(args, store, work, feature_bytes, per_worker, label)
        # daskcollab refuses to train a model on more rows than fit, naming the stage and a max_train_rows:
        # follow that advice (once per model stage) and run again
        while (advice := re.search(r"stage '([^']+)', field 'max_train_rows'.*max_train_rows=(\d+)",
                                   run.get("error") or "")) and advice.group(1) not in limits:
            refusals.append(run["error"])
            limits[advice.group(1)] = int(advice.group(2))
            run = memory_run(args, store, work, feature_bytes, per_worker, f"{label}, max_train_rows={limits}",
                             max_train_rows=dict(limits))
        run.update({"refused_first": refusals, "max_train_rows": limits})
        report["runs"][label] = run
    return report


def memory_run(args, store: str, work: str, feature_bytes: int, per_worker: int, label: str,
               max_train_rows: int | None = None) -> dict[str, object]:
    report: dict[str, object] = {"worker_memory_limit": per_worker, "total_worker_memory": 2 * per_worker,
                                 "dataset_over_total_memory": round(feature_bytes / (2 * per_worker), 3)}
    stages: dict[str, float] = {}
    outputs: dict[str, object] = {}

    def run_workflow():
        wf = workflow(store, os.path.join(work, "memory-pred.zarr"), args.memory_rounds, args.memory_max_iter,
                      max_train_rows)
        from daskcollab.runtime._executor import StageState, execute

        def done(run, state):  # stage by stage, to know how far it got if it fails
            if state is StageState.DONE:
                stages[run.name] = run.seconds
                outputs[run.name] = run.output

        execute(wf.compile(), client, run_id=f"scale-{label}", concurrency=1, on_change=done)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit=per_worker) as cluster, Client(cluster) as client:
        print(f"memory run {label!r}: 2 workers x {per_worker / 2**20:.0f} MiB = {2 * per_worker / 2**30:.2f} GiB "
              f"(dataset / total = {feature_bytes / (2 * per_worker):.2f})", flush=True)
        with MemoryWatch(client) as watch:
            outcome, _, error, seconds = run_in_thread(run_workflow, args.memory_timeout, watch, args.stall_seconds)
        report.update(restart_events(client))
        report.update({
            "completed": outcome == "completed",
            "outcome": outcome,
            "seconds": round(seconds, 2),
            "error": None if error is None else f"{type(error).__name__}: {str(error)[:500]}",
            "stage_times_s": {k: round(v, 2) for k, v in stages.items()},
            "peak_worker_memory": watch.peak,
            "peak_worker_memory_fraction": {k: round(v / per_worker, 3) for k, v in watch.peak.items()},
            "peak_spilled_to_disk_bytes": watch.spilled_peak,
            "polls_with_a_paused_worker": watch.paused_polls,
            "polls": watch.polls,
        })
        if "evaluate" in outputs:
            report["blend_auc"] = round(float(outputs["evaluate"]["blend"]["auc"]), 4)
    return report


def print_scale(args, scale: dict) -> None:
    print(f"\nworkflow time vs rows (xgboost {args.rounds} rounds, logreg max_iter {args.max_iter}, "
          f"chunks of {args.chunk_rows:,} rows; 2 workers x 1 thread):")
    print(f"| {'size':>4} | {'rows':>10} | {'seconds':>8} | {'rows/s':>9} | {'t / t(1x)':>9} | target |")
    print(f"|-----:|-----------:|---------:|----------:|----------:|:-------|")
    for f in FACTORS:
        t = scale["times_s"][f]
        ratio = t / scale["times_s"][1]
        target = f"<= {TARGETS[f]}" if f in TARGETS else ""
        print(f"| {f:>3}x | {scale['rows'][f]:>10,} | {t:8.1f} | {scale['rows'][f] / t:9,.0f} | {ratio:9.2f} | "
              f"{target:<6} |")
    for f, target in TARGETS.items():
        print(f"t({f}x) / t(1x): {verdict(scale['ratios'][f], target)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-rows", type=int, default=200_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--worker-memory-mb", type=int, default=700,
                        help="memory limit of each of the 2 workers in the memory test (data = 2x their total)")
    parser.add_argument("--memory-rounds", type=int, default=20)
    parser.add_argument("--memory-max-iter", type=int, default=20)
    parser.add_argument("--memory-timeout", type=float, default=240.0)
    parser.add_argument("--stall-seconds", type=float, default=30.0,
                        help="give up once every worker has been paused this long")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    parser.add_argument("--skip-time", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.base_rows, args.chunk_rows, args.rounds, args.max_iter, args.warm_up = 10_000, 5_000, 5, 5, False
        args.worker_memory_mb, args.memory_rounds, args.memory_max_iter, args.memory_timeout = 1024, 5, 3, 30.0
    work = tempfile.mkdtemp(prefix="bench-scale-")
    try:
        scale = None if args.skip_time else time_part(args, work)
        memory = None if args.skip_memory else memory_part(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if scale is not None:
        print_scale(args, scale)
    if memory is not None:
        print(f"\nmemory test: {memory['rows']:,} rows, {memory['feature_bytes'] / 2**30:.2f} GiB of features "
              f"(xgboost {args.memory_rounds} rounds, logreg max_iter {args.memory_max_iter}, ZarrSource(persist=None)):")
        print("| worker memory | dataset / total | outcome | seconds | memory restarts | unexpected removals "
              "| paused polls | peak memory / limit | spilled | stages done |")
        print("|---|---:|---|---:|---:|---:|---:|---|---:|---|")
        for label, run in memory["runs"].items():
            if run.get("max_train_rows"):
                label = f"{label} (max_train_rows {run['max_train_rows']})"
            print(f"| {label}: 2 x {run['worker_memory_limit'] / 2**20:.0f} MiB | {run['dataset_over_total_memory']}x "
                  f"| {run['outcome']} | {run['seconds']:.1f} | {run['memory_restarts']} "
                  f"| {run['unexpected_worker_removals']} | {run['polls_with_a_paused_worker']}/{run['polls']} "
                  f"| {', '.join(f'{v:.2f}' for v in run['peak_worker_memory_fraction'].values())} "
                  f"| {run['peak_spilled_to_disk_bytes'] / 2**20:.0f} MiB | {', '.join(run['stage_times_s']) or '-'} |")
        for label, run in memory["runs"].items():
            for refusal in run.get("refused_first", []):
                print(f"  {label}: an attempt stopped before training: {refusal}")
            if run["error"]:
                print(f"  {label}: error: {run['error']}")
            if run.get("blend_auc"):
                print(f"  {label}: stage times {run['stage_times_s']}, blend AUC {run['blend_auc']}")
    path = write_result("scale_quick" if args.quick else "scale", {
        "scale": scale, "memory": memory, "targets": TARGETS, "quick": args.quick,
        "params": {"rounds": args.rounds, "max_iter": args.max_iter, "chunk_rows": args.chunk_rows, **PARAMS},
        "command": "python benchmarks/bench_scale.py" + (" --quick" if args.quick else ""),
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
