"""Multiclass end to end on a small real store: scikit-learn's handwritten digits (1,797 x 64,
10 classes), through every model stage, the blends, evaluation and the sink."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

import daskcollab as dc

K = 10


@pytest.fixture
def digits_store(tmp_path):
    X, y = load_digits(return_X_y=True)
    return dc.write_zarr_dataset(tmp_path / "digits.zarr", X.astype("float32"), y.astype("uint8"), chunk_rows=300)


@pytest.mark.slow
def test_multiclass_models_blends_metrics_and_sink(client, digits_store, tmp_path):
    src = dc.ZarrSource(digits_store, name="src", split=dc.RowSplit(validation=0.2, test=0.25, seed=0))
    scaled = dc.Standardize(src, name="scaled")
    xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 4, "eta": 0.3}, rounds=20)
    lin = dc.LinearModel(scaled, name="lin", C=0.1)
    sgd = dc.IncrementalModel(scaled, name="sgd", estimator="sgd", passes=3)
    rf = dc.PostFitModel(scaled, name="rf", params={"n_estimators": 30})
    search = dc.SearchModel(scaled, name="search", estimator="extra_trees", grid={"max_depth": [4, None],
                                                                                    "n_estimators": [20]}, cv=2)
    models = [xgb, lin, sgd, rf, search]
    blends = [dc.Blend(models, name=m, method=m, folds=3) for m in ("weighted_average", "stacking",
                                                                     "ensemble_selection", "soft_voting")]
    sink = dc.ZarrSink([xgb, *blends], path=tmp_path / "pred.zarr", overwrite=True)
    result = dc.run(dc.Workflow("digits", [dc.Evaluate([*models, *blends], name="eval"), sink]), client,
                    progress=False)

    for name in [m.name for m in models] + [b.name for b in blends]:
        assert set(result.metrics[name]) == {"auc", "accuracy", "log_loss"}
        assert result.metrics[name]["auc"] > 0.95, (name, result.metrics[name])
    assert result.models["lin"]["solver"] == "scikit-learn" and np.shape(result.models["lin"]["coef"]) == (K, 64)
    assert result.models["search"]["scoring"] == "roc_auc_ovr"
    assert result.blends["stacking"]["fit_rows"] == "out_of_fold"
    assert sum(result.weights["ensemble_selection"].values()) == pytest.approx(1.0)

    store = zarr.open_group(tmp_path / "pred.zarr", mode="r")
    n = 1_797
    for name in ("xgb", *(b.name for b in blends)):
        arr = store[name]
        assert arr.shape == (n, K) and arr.chunks == (300, K)
        P = arr[:]
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-4)
    # the evaluated AUC is the one-vs-rest AUC of the written probabilities on the test rows
    from daskcollab.data import Part, open_dataset, select_rows

    data = open_dataset(digits_store, "X", "y", src.split, stage="src")
    y_test = select_rows(data.y, data.split, Part.TEST).compute()
    mask = np.concatenate([data.split.mask(i, Part.TEST) for i in range(len(data.split.chunks))])
    auc = roc_auc_score(y_test, store["stacking"][:][mask], multi_class="ovr")
    assert auc == pytest.approx(result.metrics["stacking"]["auc"], abs=1e-6)


def test_multiclass_update_keeps_k_columns(client, digits_store):
    from daskcollab.workflow import StageContext

    ctx = StageContext(client, "t", "s", False)
    src = dc.ZarrSource(digits_store, name="src")
    data = src.run(ctx)
    assert data.classes == tuple(range(K)) and not data.binary_labels
    xgb = dc.XGBoostModel(src, name="xgb", rounds=3)
    first = xgb.run(ctx, data)
    assert first.predictions.shape == (1_797, K) and first.predictions.chunks[1] == (K,)
    updated = dc.UpdateModel(xgb, src, name="more", rounds=2).run(ctx, first, data)
    assert updated.predictions.shape == (1_797, K) and updated.details["rounds"] == 5
    assert set(updated.details["after"]) == {"auc", "accuracy", "log_loss"}
