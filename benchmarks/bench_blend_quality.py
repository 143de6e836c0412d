"""Blend quality: base models, equal averaging, WeightedAverage and Stacking vs scikit-learn's
StackingClassifier, on the real flights table and on the synthetic sensor-fusion set.

daskcollab trains xgboost.dask and dask-ml LogisticRegression on a 2-worker LocalCluster and
blends them; scikit-learn's StackingClassifier gets the same base models (XGBClassifier with the
same parameters and n_jobs=2, StandardScaler + LogisticRegression), the same training rows in
memory and the same number of (shuffled, stratified) folds, on the same 2 cores. Both are scored on the same test rows.

    python benchmarks/bench_blend_quality.py [--quick]

Targets: Stacking AUC >= best single model and >= StackingClassifier's; Stacking wall time
(base models + out-of-fold refits + meta-learner) <= 1.0x StackingClassifier's fit + predict.
Writes benchmarks/results/blend_quality.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
from distributed import Client, LocalCluster
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(__file__))
from _common import timed, verdict, write_result  # noqa: E402

import daskcollab as dc  # noqa: E402
from daskcollab.data import Part, open_dataset  # noqa: E402

PARAMS = {"max_depth": 6, "eta": 0.1, "subsample": 0.8}
SPLIT = dc.RowSplit(validation=0.2, test=0.2, seed=0)


def daskcollab_side(client, store, rounds, folds):
    src = dc.ZarrSource(store, name="src", split=SPLIT)
    xgb = dc.XGBoostModel(src, name="xgb", params=PARAMS, rounds=rounds)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    blends = [dc.Blend([xgb, lin], name=m, method=m, folds=folds) for m in ("soft_voting", "weighted_average", "stacking")]
    result = dc.run(dc.Workflow("quality", [dc.Evaluate([xgb, lin, *blends], name="eval")]), client, progress=False)
    seconds = sum(result.timings[s] for s in ("xgb", "scaled", "logreg", "stacking"))
    return result, seconds


def sklearn_side(store, rounds, folds):
    from xgboost import XGBClassifier

    data = open_dataset(store, "X", "y", SPLIT, stage="src")
    parts = {p: tuple(np.asarray(a.compute(scheduler="threads")) for a in data.part(p)) for p in (Part.TRAIN, Part.TEST)}
    (X_train, y_train), (X_test, y_test) = parts[Part.TRAIN], parts[Part.TEST]
    model = StackingClassifier(
        estimators=[
            ("xgb", XGBClassifier(n_estimators=rounds, tree_method="hist", n_jobs=2, **PARAMS)),
            ("logreg", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
        ],
        final_estimator=LogisticRegression(max_iter=1000),
        # shuffled folds: the flights store is in date order, and unshuffled folds would hold out
        # whole months (daskcollab's folds deal every chunk's rows to all folds)
        cv=StratifiedKFold(folds, shuffle=True, random_state=0),
        n_jobs=1,
    )

    def fit_predict():
        model.fit(X_train, y_train)
        return model.predict_proba(X_test)[:, 1]

    seconds, proba = timed(fit_predict)
    return {"auc": roc_auc_score(y_test, proba), "log_loss": log_loss(y_test, proba)}, seconds


def one_dataset(client, name, store, rounds, folds):
    result, ours_s = daskcollab_side(client, store, rounds, folds)
    sk_scores, sk_s = sklearn_side(store, rounds, folds)
    rows = {m: {"auc": s["auc"], "log_loss": s["log_loss"]} for m, s in result.metrics.items()}
    rows["sklearn StackingClassifier"] = sk_scores
    print(f"\n== {name}  (test rows scored; daskcollab stacking {ours_s:.1f} s, sklearn {sk_s:.1f} s)")
    print(f"  {'model':<28} {'AUC':>7} {'log-loss':>9}")
    labels = {"soft_voting": "equal average", "weighted_average": "WeightedAverage", "stacking": "Stacking"}
    for m, s in rows.items():
        print(f"  {labels.get(m, m):<28} {s['auc']:7.4f} {s['log_loss']:9.4f}")
    best_single = max(rows["xgb"]["auc"], rows["logreg"]["auc"])
    stack = rows["stacking"]["auc"]
    checks = {
        "stacking_auc_minus_best_single": stack - best_single,
        "stacking_auc_minus_sklearn": stack - sk_scores["auc"],
        "time_ratio_vs_sklearn": ours_s / sk_s,
    }
    print(f"  Stacking AUC - best single: {checks['stacking_auc_minus_best_single']:+.4f} "
          f"({'MET' if checks['stacking_auc_minus_best_single'] >= 0 else 'MISSED'}, target >= 0)")
    print(f"  Stacking AUC - sklearn StackingClassifier: {checks['stacking_auc_minus_sklearn']:+.4f} "
          f"({'MET' if checks['stacking_auc_minus_sklearn'] >= 0 else 'MISSED'}, target >= 0)")
    print(f"  wall time daskcollab stacking / sklearn: {verdict(checks['time_ratio_vs_sklearn'], 1.0)}")
    print("  daskcollab stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))
    return {"scores": rows, "seconds": {"daskcollab_stacking": ours_s, "sklearn": sk_s, "stages": dict(result.timings)},
            "weights": result.weights, **checks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, few rounds (smoke run)")
    args = parser.parse_args()
    rounds, folds = (20, 3) if args.quick else (200, 5)
    work = tempfile.mkdtemp(prefix="bench-quality-")
    out = {}
    try:
        stores = {
            "sensor-fusion (synthetic)": dc.data.build_sensor_fusion(
                os.path.join(work, "sensors.zarr"), rows=30_000 if args.quick else 300_000,
                chunk_rows=5_000 if args.quick else 30_000),
        }
        if not args.quick:
            stores = {"flights (real)": dc.data.build_flights(os.path.join(work, "flights.zarr")), **stores}
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            for name, store in stores.items():
                out[name] = one_dataset(client, name, store, rounds, folds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = write_result("blend_quality" + ("_quick" if args.quick else ""),
                        {"datasets": out, "rounds": rounds, "folds": folds,
                         "command": "python benchmarks/bench_blend_quality.py" + (" --quick" if args.quick else "")})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
