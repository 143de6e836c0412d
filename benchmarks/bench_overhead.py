"""Overhead of daskcollab: the flights workflow through daskcollab vs the same models by hand.

Both run on one LocalCluster (2 worker processes, 1 thread each), interleaved, several times;
the ratio compares median wall times. The hand-written version uses plain dask.array,
xgboost.dask, dask-ml and scipy with the same split, models, parameters, blend and output.

    python benchmarks/bench_overhead.py [--repeats 3]

Target: daskcollab / hand-written <= 1.0x (daskcollab submits the whole workflow at once, so
independent stages overlap where the hand-written code waits step by step). Writes
benchmarks/results/overhead.json with a ``checks`` map.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import dask.array as da
import numpy as np
import zarr
from distributed import Client, LocalCluster
from scipy.optimize import minimize
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

sys.path.insert(0, os.path.dirname(__file__))
from _common import median, timed, verdict, write_result  # noqa: E402

import daskcollab as dc  # noqa: E402

XGB_PARAMS = {"max_depth": 8, "eta": 0.1, "subsample": 0.8, "min_child_weight": 5}
ROUNDS = 200
TARGET = 1.0


def daskcollab_run(client, store, out):
    src = dc.ZarrSource(store, name="source", split=dc.RowSplit(validation=0.2, test=0.2, seed=0))
    xgb = dc.XGBoostModel(src, name="xgb", params=XGB_PARAMS, rounds=ROUNDS)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    blend = dc.Blend([xgb, lin], name="blend")
    wf = dc.Workflow("flights-delay", [dc.Evaluate([xgb, lin, blend]), dc.ZarrSink([blend, xgb, lin], path=out, overwrite=True)])
    result = dc.run(wf, client, progress=False)
    return result.metrics["blend"]["auc"]


def hand_written(client, store, out):
    """What a careful user writes without daskcollab."""
    import xgboost.dask as dxgb
    from dask_ml.linear_model import LogisticRegression
    from dask_ml.preprocessing import StandardScaler

    X = da.from_zarr(store, component="X")
    y = da.from_zarr(store, component="y")
    # the same seeded per-chunk row split as daskcollab's RowSplit(0.2, 0.2, seed=0)
    codes = np.concatenate([
        np.select([d < 0.2, d < 0.4], [1, 2], 0)
        for d in (np.random.default_rng([0, i]).random(n) for i, n in enumerate(X.chunks[0]))
    ])
    X, y = client.persist([X.astype(np.float32), y])
    part = {name: codes == c for name, c in (("train", 0), ("val", 1), ("test", 2))}
    Xtr, ytr = client.persist([X[part["train"]], y[part["train"]]])

    booster = dxgb.train(client, {"objective": "binary:logistic", "tree_method": "hist", **XGB_PARAMS},
                         dxgb.DaskQuantileDMatrix(client, Xtr, ytr), num_boost_round=ROUNDS)["booster"]
    p_xgb = dxgb.inplace_predict(client, booster, X)

    scaler = StandardScaler().fit(Xtr)
    Xs = client.persist(scaler.transform(X))
    lr = LogisticRegression(solver="lbfgs").fit(client.persist(Xs[part["train"]]), ytr)
    p_lr = lr.predict_proba(Xs)[:, 1]

    P = client.persist(da.stack([p_xgb, p_lr], axis=1).astype(np.float32))
    Pv, yv = da.compute(P[part["val"]], y[part["val"]])
    Pv = np.clip(Pv, 1e-7, 1 - 1e-7)

    def loss(z):
        w = np.exp(z) / np.exp(z).sum()
        return log_loss(yv, Pv @ w, labels=[0, 1])

    z = minimize(loss, np.zeros(2), method="L-BFGS-B").x
    w = np.exp(z) / np.exp(z).sum()
    blend = (P * w).sum(axis=1).astype(np.float32)
    P_test, blend_test, y_test = da.compute(P[part["test"]], blend[part["test"]], y[part["test"]])
    metrics = {
        name: (roc_auc_score(y_test, p), accuracy_score(y_test, p >= 0.5), log_loss(y_test, np.clip(p, 1e-7, 1 - 1e-7)))
        for name, p in (("xgb", P_test[:, 0]), ("logreg", P_test[:, 1]), ("blend", blend_test))
    }
    group = zarr.open_group(out, mode="w")
    for name, arr in (("blend", blend), ("xgb", P[:, 0]), ("logreg", P[:, 1])):
        target = group.create_array(name, shape=arr.shape, chunks=(arr.chunks[0][0],), dtype="float32")
        da.store(arr.rechunk({0: arr.chunks[0][0]}), target, lock=False)
    return metrics["blend"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-overhead-")
    store = dc.data.build_flights(os.path.join(work, "flights.zarr"))
    times: dict[str, list[float]] = {"daskcollab": [], "hand-written": []}
    aucs: dict[str, float] = {}
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            for i in range(args.repeats):
                for name, fn in (("hand-written", hand_written), ("daskcollab", daskcollab_run)):
                    seconds, auc = timed(lambda: fn(client, store, os.path.join(work, f"{name}.zarr")))
                    times[name].append(seconds)
                    aucs[name] = float(auc)
                    print(f"  run {i + 1}: {name:<13} {seconds:6.2f} s  blend AUC {auc:.4f}", flush=True)
                    client.cancel(list(client.futures))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = median(times["daskcollab"]) / median(times["hand-written"])
    print(f"\nflights workflow, median of {args.repeats}: daskcollab {median(times['daskcollab']):.2f} s, "
          f"hand-written {median(times['hand-written']):.2f} s")
    print(f"overhead ratio daskcollab / hand-written: {verdict(ratio, TARGET)}")
    checks = {"daskcollab vs hand-written": {"ratio": ratio, "target": TARGET, "met": ratio <= TARGET}}
    path = write_result("overhead", {"times_s": times, "blend_auc": aucs, "ratio": ratio, "target": TARGET,
                                     "met": ratio <= TARGET, "checks": checks,
                                     "command": f"python benchmarks/bench_overhead.py --repeats {args.repeats}"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
