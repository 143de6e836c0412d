"""Prediction throughput: the full blend (3 base models + stacking, Zarr -> Zarr) vs one booster in memory.

One run, one LocalCluster (2 worker processes x 1 thread), on a seeded synthetic binary
classification problem of ``--rows`` x 32 float32 features stored in Zarr (8 row chunks).
Three base models are trained on the first two chunks with daskcollab's model layer
(two ``train_xgboost`` models of different depth, one ``train_linear`` logistic regression,
100 rounds / iterations each) and a ``Stacking`` blender is fitted on the third chunk's
predictions. Then, side by side:

(a) daskcollab: Zarr -> 3 models ``predict`` chunk-wise -> ``blend_blocks`` -> chunk-aligned write
    with ``daskcollab.data.write_predictions``; timed from building the lazy graph to the
    completed (renamed, marked complete) store;
(b) baseline: single-process ``booster.inplace_predict`` (nthread=2) of ONE xgboost model (the
    deeper one, ``xgb_deep``) on the same rows already in NumPy memory;
(c) reference only, on the first ``--naive-rows`` rows: a naive Dask version (booster pickled
    into every task, a DMatrix per chunk, default nthread, each model's predictions gathered
    to the client, stacking and the Zarr write in a second pass on the client).

    python benchmarks/bench_predict_throughput.py [--rows 2000000] [--repeats 3] [--quick]

Target: rows/s of (a) / rows/s of (b) >= 0.5. Writes benchmarks/results/predict_throughput.json (``--quick``: predict_throughput_quick.json).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import dask.array as da
import numpy as np
import xgboost as xgb
import zarr
from distributed import Client, LocalCluster
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(__file__))
from _common import median, timed, verdict, write_result  # noqa: E402

import daskcollab as dc  # noqa: E402
from daskcollab.data import write_predictions  # noqa: E402
from daskcollab.ensemble import Stacking, blend_blocks, stack_predictions  # noqa: E402
from daskcollab.models import Task  # noqa: E402
from daskcollab.models._linear import train_linear  # noqa: E402
from daskcollab.models._xgboost import train_xgboost  # noqa: E402

N_FEATURES = 32
N_CHUNKS = 8
TARGET = 0.5
XGB_MODELS = {
    "xgb_deep": ({"max_depth": 6, "eta": 0.1, "subsample": 0.8}, 100),
    "xgb_shallow": ({"max_depth": 3, "eta": 0.2, "colsample_bytree": 0.5}, 100),
}


def synthetic(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded binary classification: 32 Gaussian features, a non-linear logit, ~40 % positives."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, N_FEATURES), dtype=np.float32)
    logit = (
        1.2 * X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + 0.8 * X[:, 3] - 0.6 * X[:, 4]
        + 0.7 * (X[:, 5] > 0.5) + 0.4 * np.abs(X[:, 6]) + 0.3 * X[:, 7:12].sum(axis=1) - 0.6
    )
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.uint8)
    return X, y


def train_models(client: Client, store: str, chunk: int):
    """Three base models on chunks 0-1 (train), a Stacking blender on chunk 2 (held out)."""
    X = da.from_zarr(store, component="X")
    y = da.from_zarr(store, component="y")
    X_train, y_train = X[: 2 * chunk], y[: 2 * chunk]
    models = {}
    for name, (params, rounds) in XGB_MODELS.items():
        models[name] = train_xgboost(client, X_train, y_train, task=Task.CLASSIFICATION, params=params,
                                     rounds=rounds, device="cpu")
    models["logreg"] = train_linear(X_train, y_train, task=Task.CLASSIFICATION, C=1.0, max_iter=100)
    X_hold, y_hold = X[2 * chunk: 3 * chunk], y[2 * chunk: 3 * chunk]
    stacking = Stacking().fit(stack_predictions([m.predict(X_hold) for m in models.values()]), y_hold)
    return models, stacking


def daskcollab_path(store: str, out: str, models, stacking) -> str:
    """(a) Zarr -> predict x3 -> blend_blocks -> write_predictions, all lazy until the write."""
    X = da.from_zarr(store, component="X")
    blend = blend_blocks([m.predict(X) for m in models.values()], stacking)
    return write_predictions(out, {"blend": blend}, attrs={"benchmark": "predict_throughput"},
                             overwrite=True, stage="bench")


def numpy_blend(X: np.ndarray, boosters, linear, stacking) -> np.ndarray:
    """(d) The same blend single-process on NumPy in memory (boosters at nthread=2, no IO)."""
    cols = [b.inplace_predict(X) for b in boosters]
    cols.append(1.0 / (1.0 + np.exp(-(X.astype(np.float64) @ linear.coef + linear.intercept))))
    return stacking.predict_positive(np.column_stack(cols).astype(np.float32))


def breakdown(store: str, models, stacking) -> dict[str, float]:
    """Cumulative cost of the steps of (a) on the cluster, each reduced to one number (no write)."""
    X = da.from_zarr(store, component="X")
    preds = [m.predict(X) for m in models.values()]
    steps = {
        "read Zarr": X.sum(axis=1),
        "read + xgb_deep": preds[0],
        "read + 3 models": stack_predictions(preds).sum(axis=1),
        "read + 3 models + stacking": blend_blocks(preds, stacking),
    }
    return {name: timed(lambda: float(arr.sum().compute()))[0] for name, arr in steps.items()}


def naive_path(store: str, out: str, rows: int, models, stacking) -> None:
    """(c) What a first attempt looks like: the booster travels inside every task, a DMatrix per
    chunk with xgboost's default thread count, per-model results gathered, blend on the client."""
    X = da.from_zarr(store, component="X")[:rows]
    cols = []
    for name, fitted in models.items():
        if name == "logreg":
            cols.append(fitted.predict(X).compute())
            continue
        booster = fitted.booster.copy()
        booster.set_param({"nthread": 0})  # 0 = all cores, in each of the 2 worker processes
        cols.append(X.map_blocks(lambda b, bst=booster: bst.predict(xgb.DMatrix(b)).astype(np.float32),
                                 drop_axis=1, dtype=np.float32).compute())
    blend = stacking.predict_positive(np.column_stack(cols)).astype(np.float32)
    group = zarr.open_group(out, mode="w")
    group.create_array("blend", shape=blend.shape, chunks=(X.chunks[0][0],), dtype="float32")[:] = blend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-rows", type=int, default=500_000)
    parser.add_argument("--quick", action="store_true", help="200k rows, 1 repeat (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats, args.naive_rows = 200_000, 1, 50_000
    rows, chunk = args.rows, -(-args.rows // N_CHUNKS)
    args.naive_rows = min(args.naive_rows, rows)
    work = tempfile.mkdtemp(prefix="bench-predict-")
    try:
        X_np, y_np = synthetic(rows)
        seconds, store = timed(lambda: dc.write_zarr_dataset(os.path.join(work, "data.zarr"), X_np, y_np,
                                                             chunk_rows=chunk))
        print(f"data: {rows:,} x {N_FEATURES} float32 ({X_np.nbytes / 1e6:.0f} MB) in Zarr, {N_CHUNKS} chunks "
              f"of {chunk:,} rows, written in {seconds:.1f} s", flush=True)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            seconds, (models, stacking) = timed(lambda: train_models(client, store, chunk))
            print(f"trained {', '.join(models)} on {2 * chunk:,} rows and Stacking on {chunk:,} held-out rows "
                  f"in {seconds:.1f} s", flush=True)
            boosters = {}
            for name in XGB_MODELS:
                boosters[name] = models[name].booster.copy()
                boosters[name].set_param({"nthread": 2})
            baseline_booster = boosters["xgb_deep"]
            out = os.path.join(work, "blend.zarr")
            times: dict[str, list[float]] = {"daskcollab": [], "baseline": [], "numpy_blend": [], "naive": []}
            for i in range(args.repeats):
                t, _ = timed(lambda: daskcollab_path(store, out, models, stacking))
                times["daskcollab"].append(t)
                t, base_pred = timed(lambda: baseline_booster.inplace_predict(X_np))
                times["baseline"].append(t)
                t, _ = timed(lambda: numpy_blend(X_np, boosters.values(), models["logreg"], stacking))
                times["numpy_blend"].append(t)
                print(f"  run {i + 1}: daskcollab full blend {t_fmt(times['daskcollab'][-1], rows)}   "
                      f"baseline 1 booster {t_fmt(times['baseline'][-1], rows)}   "
                      f"NumPy blend {t_fmt(t, rows)}", flush=True)
            steps = {} if args.quick else breakdown(store, models, stacking)
            t, _ = timed(lambda: naive_path(store, os.path.join(work, "naive.zarr"), args.naive_rows,
                                            models, stacking))
            times["naive"].append(t)
            print(f"  naive Dask blend on {args.naive_rows:,} rows: {t_fmt(t, args.naive_rows)}", flush=True)

            # the written store is the real blend: complete, chunk-aligned, and as good as the models
            group = zarr.open_group(out, mode="r")
            written = group["blend"][:]
            test = slice(3 * chunk, rows)  # rows no model or blender saw
            X_test = da.from_zarr(store, component="X")[test]
            auc = {name: float(roc_auc_score(y_np[test], m.predict(X_test).compute())) for name, m in models.items()}
            auc["blend"] = float(roc_auc_score(y_np[test], written[test]))
            check = {"complete": bool(group.attrs.get("complete")), "chunks": list(group["blend"].chunks),
                     "rows": int(written.shape[0]), "nan": int(np.isnan(written).sum())}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rate = {k: (rows if k != "naive" else args.naive_rows) / median(v) for k, v in times.items()}
    ratio = rate["daskcollab"] / rate["baseline"]
    paired = [b / a for a, b in zip(times["daskcollab"], times["baseline"])]  # per run: robust to shared-CPU noise
    naive_ratio = rate["naive"] / rate["baseline"]
    print(f"\nprediction throughput, {rows:,} x {N_FEATURES} rows, median of {args.repeats} "
          f"(2 workers x 1 thread vs 1 process x 2 threads):")
    print(f"| {'path':<58} | {'median s':>8} | {'rows/s':>10} | {'vs baseline':>11} |")
    print(f"|{'-' * 60}|{'-' * 9}:|{'-' * 11}:|{'-' * 12}:|")
    for key, label in (
        ("daskcollab", "(a) daskcollab: Zarr -> 3 models -> stacking -> Zarr"),
        ("baseline", "(b) baseline: xgb_deep inplace_predict, NumPy, nthread=2"),
        ("naive", f"(c) naive Dask blend (reference, {args.naive_rows:,} rows)"),
        ("numpy_blend", "(d) same blend single-process, NumPy, nthread=2, no IO"),
    ):
        print(f"| {label:<58} | {median(times[key]):8.2f} | {rate[key]:10,.0f} | {rate[key] / rate['baseline']:10.3f}x |")
    print(f"\ntest-row AUC: " + ", ".join(f"{k} {v:.4f}" for k, v in auc.items()))
    print(f"written store: {check}")
    if steps:
        print(f"\nbreakdown of (a) on the cluster (cumulative, result reduced to one number, no write):")
        for name, t in steps.items():
            print(f"  {name:<28} {t:6.2f} s  {rows / t:10,.0f} rows/s")
    print(f"paired per-run ratios: {', '.join(f'{r:.3f}' for r in paired)}")
    print(f"daskcollab / single-process NumPy blend of the same 3 models: "
          f"{rate['daskcollab'] / rate['numpy_blend']:.3f}x")
    print(f"throughput ratio daskcollab / baseline: {verdict(ratio, TARGET, lower_is_better=False)}")
    path = write_result("predict_throughput_quick" if args.quick else "predict_throughput", {
        "rows": rows, "features": N_FEATURES, "chunk_rows": chunk, "repeats": args.repeats, "quick": args.quick,
        "times_s": times, "rows_per_s": rate, "naive_rows": args.naive_rows,
        "ratio": ratio, "paired_ratios": paired, "naive_ratio": naive_ratio,
        "numpy_blend_ratio": rate["daskcollab"] / rate["numpy_blend"], "breakdown_s": steps, "target": TARGET, "met": ratio >= TARGET,
        "auc_test": auc, "store_check": check, "models": {k: v[0] | {"rounds": v[1]} for k, v in XGB_MODELS.items()},
        "command": "python benchmarks/bench_predict_throughput.py" + (" --quick" if args.quick else ""),
    })
    print(f"wrote {path}")


def t_fmt(seconds: float, rows: int) -> str:
    return f"{seconds:6.2f} s ({rows / seconds:9,.0f} rows/s)"


if __name__ == "__main__":
    main()
