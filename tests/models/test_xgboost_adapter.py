"""xgboost.dask adapter: the device path and continued training."""

from __future__ import annotations

import numpy as np
import pytest
from modeldata import make_data, score

from daskcollab._errors import WorkflowError
from daskcollab.models import Device
from daskcollab.models._fitted import Task
from daskcollab.models._xgboost import train_xgboost, update_xgboost, xgboost_params


class _Stop(Exception):
    pass


def test_cuda_device_reaches_xgboost(client, monkeypatch):
    # no GPU here: check the parameters the training collective receives, then stop before training
    from daskcollab.models import _xgboost

    seen = {}

    def fake_train(client, X, y, params, rounds, **kwargs):
        seen.update(params)
        raise _Stop

    monkeypatch.setattr(_xgboost, "train_collective", fake_train)
    X, y = make_data("classification", rows=1_000)
    with pytest.raises(_Stop):
        train_xgboost(client, X, y, task=Task.CLASSIFICATION, params={"max_depth": 3, "device": "cpu"}, rounds=5,
                      device="cuda")
    assert seen["device"] == "cuda" and seen["objective"] == "binary:logistic" and seen["max_depth"] == 3


def test_xgboost_params_and_bad_device():
    assert xgboost_params(Task.REGRESSION, {"tree_method": "approx"}, "cuda:1") == {
        "objective": "reg:squarederror", "tree_method": "approx", "device": "cuda:1"}
    device = xgboost_params(Task.REGRESSION, {}, Device.CUDA)["device"]
    assert device == "cuda" and type(device) is str  # the plain string reaches xgboost and model files
    with pytest.raises(WorkflowError, match=r"field 'device': expected 'cpu', 'cuda' or 'cuda:<n>', got 'gpu'"):
        xgboost_params(Task.REGRESSION, {}, "gpu")


def test_update_xgboost_adds_rounds_and_improves(client, task):
    X_old, y_old = make_data(task, rows=1_000, seed=1)
    X_new, y_new = make_data(task, rows=2_000, seed=2)
    X_test, y_test = make_data(task, rows=2_000, seed=3)
    first = train_xgboost(client, X_old, y_old, task=Task(task), params={"max_depth": 3, "eta": 0.1}, rounds=10,
                          device="cpu")
    updated = update_xgboost(client, first, X_new, y_new, rounds=30)
    assert first.booster.num_boosted_rounds() == 10 and updated.booster.num_boosted_rounds() == 40
    pred = updated.predict(X_test)
    assert pred.chunks[0] == X_test.chunks[0]
    np.testing.assert_allclose(pred.compute(), updated.booster.inplace_predict(X_test.compute()), rtol=1e-5, atol=1e-6)
    y_np = y_test.compute()
    before, after = score(task, y_np, first.predict(X_test).compute()), score(task, y_np, pred.compute())
    print(f"{task} xgboost update: metric before {before:.4f} after {after:.4f}")
    assert after > before
    with pytest.raises(WorkflowError, match=r"update_xgboost: field 'rounds': expected a positive integer, got 0"):
        update_xgboost(client, first, X_new, y_new, rounds=0)
