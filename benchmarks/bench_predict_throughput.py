"""Prediction throughput: the full blend (3 base models + a blender, Zarr -> Zarr) vs the same blend
computed single-process in NumPy on in-memory data (the physical limit of this machine).

One run, one LocalCluster (2 worker processes x 1 thread), on a seeded synthetic binary
classification problem of ``--rows`` x 32 float32 features stored in Zarr (8 row chunks).
Three base models are trained on the first two chunks with daskcollab's model layer
(two ``train_xgboost`` models of different depth, one ``train_linear`` logistic regression)
and two blenders, ``Stacking`` and ``EnsembleSelection``, are fitted on the third chunk's
predictions. Then, side by side, for each blender:

(a) daskcollab: Zarr -> 3 models ``predict`` chunk-wise -> ``blend_blocks`` -> chunk-aligned write
    with ``daskcollab.data.write_predictions``; timed from building the lazy graph to the
    completed (renamed, marked complete) store;
(d) the physical limit: the same 3 models and blender single-process in NumPy on the rows
    already in memory (boosters at nthread=2, no IO);
(b) reference: single-process ``booster.inplace_predict`` (nthread=2) of ONE xgboost model;
(c) reference only, on the first ``--naive-rows`` rows: a naive Dask version (booster pickled
    into every task, a DMatrix per chunk, default nthread, each model's predictions gathered
    to the client, stacking and the Zarr write in a second pass on the client).

    python benchmarks/bench_predict_throughput.py [--rows 2000000] [--repeats 3] [--quick]

Target (``checks``): rows/s of (a) / rows/s of (d) >= 0.9 for each blender (medians of the
repeats). Writes benchmarks/results/predict_throughput.json (``--quick``: predict_throughput_quick.json).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import dask
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
from daskcollab.ensemble import EnsembleSelection, Stacking, blend_blocks, stack_predictions  # noqa: E402
from daskcollab.models import Task  # noqa: E402
from daskcollab.models._linear import train_linear  # noqa: E402
from daskcollab.models._xgboost import train_xgboost  # noqa: E402

N_FEATURES = 32
N_CHUNKS = 8
TARGET = 0.9
BLENDERS = ("stacking", "ensemble_selection")
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
    """Three base models on chunks 0-1 (train), the blenders on chunk 2 (held out)."""
    X = da.from_zarr(store, component="X")
    y = da.from_zarr(store, component="y")
    X_train, y_train = X[: 2 * chunk], y[: 2 * chunk]
    models = {}
    for name, (params, rounds) in XGB_MODELS.items():
        models[name] = train_xgboost(client, X_train, y_train, task=Task.CLASSIFICATION, params=params,
                                     rounds=rounds, device="cpu")
    models["logreg"] = train_linear(X_train, y_train, task=Task.CLASSIFICATION, C=1.0, max_iter=100,
                                    solver="scikit-learn", compute=lambda *c: dask.compute(*c, scheduler=client))
    X_hold, y_hold = X[2 * chunk: 3 * chunk], y[2 * chunk: 3 * chunk]
    P_hold, y_hold = client.compute([stack_predictions([m.predict(X_hold) for m in models.values()]), y_hold],
                                    sync=True)
    blenders = {"stacking": Stacking().fit(P_hold, y_hold), "ensemble_selection": EnsembleSelection().fit(P_hold, y_hold)}
    return models, blenders


def daskcollab_path(store: str, out: str, models, blender) -> str:
    """(a) Zarr -> predict x3 -> blend_blocks -> write_predictions, all lazy until the write."""
    X = da.from_zarr(store, component="X")
    blend = blend_blocks([m.predict(X) for m in models.values()], blender)
    return write_predictions(out, {"blend": blend}, attrs={"benchmark": "predict_throughput"},
                             overwrite=True, stage="bench")


def numpy_blend(X: np.ndarray, boosters, linear, blender) -> np.ndarray:
    """(d) The same blend single-process on NumPy in memory (boosters at nthread=2, no IO)."""
    cols = [b.inplace_predict(X) for b in boosters]
    cols.append(1.0 / (1.0 + np.exp(-(X.astype(np.float64) @ linear.coef + linear.intercept))))
    return blender.predict_positive(np.column_stack(cols).astype(np.float32))


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
            seconds, (models, blenders) = timed(lambda: train_models(client, store, chunk))
            print(f"trained {', '.join(models)} on {2 * chunk:,} rows and {', '.join(blenders)} on {chunk:,} "
                  f"held-out rows in {seconds:.1f} s; ensemble selection weights "
                  f"{np.round(blenders['ensemble_selection'].weights_, 3).tolist()}", flush=True)
            boosters = {}
            for name in XGB_MODELS:
                boosters[name] = models[name].booster.copy()
                boosters[name].set_param({"nthread": 2})
            baseline_booster = boosters["xgb_deep"]
            times: dict[str, list[float]] = {"baseline": [], "naive": []}
            for b in BLENDERS:
                times[f"daskcollab_{b}"], times[f"numpy_{b}"] = [], []
            for i in range(args.repeats):
                line = []
                for b, blender in blenders.items():  # interleaved: each pair shares the machine's state
                    t, _ = timed(lambda: daskcollab_path(store, os.path.join(work, f"{b}.zarr"), models, blender))
                    times[f"daskcollab_{b}"].append(t)
                    t2, _ = timed(lambda: numpy_blend(X_np, boosters.values(), models["logreg"], blender))
                    times[f"numpy_{b}"].append(t2)
                    line.append(f"{b}: daskcollab {t_fmt(t, rows)}, NumPy {t_fmt(t2, rows)}")
                t, _ = timed(lambda: baseline_booster.inplace_predict(X_np))
                times["baseline"].append(t)
                print(f"  run {i + 1}: " + "; ".join(line) + f"; 1 booster {t_fmt(t, rows)}", flush=True)
            steps = {} if args.quick else breakdown(store, models, blenders["stacking"])
            t, _ = timed(lambda: naive_path(store, os.path.join(work, "naive.zarr"), args.naive_rows,
                                            models, blenders["stacking"]))
            times["naive"].append(t)
            print(f"  naive Dask blend on {args.naive_rows:,} rows: {t_fmt(t, args.naive_rows)}", flush=True)

            # the written stores are the real blends: complete, chunk-aligned, and as good as the models
            test = slice(3 * chunk, rows)  # rows no model or blender saw
            X_test = da.from_zarr(store, component="X")[test]
            auc = {name: float(roc_auc_score(y_np[test], m.predict(X_test).compute())) for name, m in models.items()}
            store_check = {}
            for b in BLENDERS:
                group = zarr.open_group(os.path.join(work, f"{b}.zarr"), mode="r")
                written = group["blend"][:]
                auc[b] = float(roc_auc_score(y_np[test], written[test]))
                store_check[b] = {"complete": bool(group.attrs.get("complete")), "chunks": list(group["blend"].chunks),
                                  "rows": int(written.shape[0]), "nan": int(np.isnan(written).sum())}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rate = {k: (rows if k != "naive" else args.naive_rows) / median(v) for k, v in times.items()}
    checks = {}
    for b in BLENDERS:
        ratio = rate[f"daskcollab_{b}"] / rate[f"numpy_{b}"]
        checks[f"{b}_vs_numpy_blend"] = {"ratio": ratio, "target": TARGET, "met": bool(ratio >= TARGET)}
    paired = {b: [n / d for d, n in zip(times[f"daskcollab_{b}"], times[f"numpy_{b}"])] for b in BLENDERS}
    print(f"\nprediction throughput, {rows:,} x {N_FEATURES} rows, median of {args.repeats} "
          f"(2 workers x 1 thread vs 1 process x 2 threads):")
    print(f"| {'path':<62} | {'median s':>8} | {'rows/s':>10} | {'vs NumPy blend':>14} |")
    print(f"|{'-' * 64}|{'-' * 9}:|{'-' * 11}:|{'-' * 15}:|")
    for b in BLENDERS:
        for key, label in ((f"daskcollab_{b}", f"(a) daskcollab: Zarr -> 3 models -> {b} -> Zarr"),
                           (f"numpy_{b}", f"(d) same blend ({b}) single-process NumPy, no IO")):
            print(f"| {label:<62} | {median(times[key]):8.2f} | {rate[key]:10,.0f} | "
                  f"{rate[key] / rate[f'numpy_{b}']:13.3f}x |")
    for key, label in (("baseline", "(b) one booster (xgb_deep) inplace_predict, NumPy, nthread=2"),
                       ("naive", f"(c) naive Dask stacking blend ({args.naive_rows:,} rows)")):
        print(f"| {label:<62} | {median(times[key]):8.2f} | {rate[key]:10,.0f} | "
              f"{rate[key] / rate['numpy_stacking']:13.3f}x |")
    print("\ntest-row AUC: " + ", ".join(f"{k} {v:.4f}" for k, v in auc.items()))
    print(f"written stores: {store_check}")
    if steps:
        print("\nbreakdown of (a, stacking) on the cluster (cumulative, result reduced to one number, no write):")
        for name, t in steps.items():
            print(f"  {name:<28} {t:6.2f} s  {rows / t:10,.0f} rows/s")
    for b in BLENDERS:
        print(f"paired per-run ratios ({b}): {', '.join(f'{r:.3f}' for r in paired[b])}")
        print(f"throughput daskcollab / NumPy blend ({b}): "
              f"{verdict(checks[f'{b}_vs_numpy_blend']['ratio'], TARGET, lower_is_better=False)}")
    path = write_result("predict_throughput_quick" if args.quick else "predict_throughput", {
        "checks": checks, "rows": rows, "features": N_FEATURES, "chunk_rows": chunk, "repeats": args.repeats,
        "quick": args.quick, "times_s": times, "rows_per_s": rate, "naive_rows": args.naive_rows,
        "paired_ratios": paired, "vs_one_booster": {b: rate[f"daskcollab_{b}"] / rate["baseline"] for b in BLENDERS},
        "breakdown_s": steps, "target": TARGET, "auc_test": auc, "store_check": store_check,
        "models": {k: v[0] | {"rounds": v[1]} for k, v in XGB_MODELS.items()},
        "command": "python benchmarks/bench_predict_throughput.py" + (" --quick" if args.quick else ""),
    })
    print(f"wrote {path}")


def t_fmt(seconds: float, rows: int) -> str:
    return f"{seconds:6.2f} s ({rows / seconds:9,.0f} rows/s)"


if __name__ == "__main__":
    main()
