"""Linear models: scikit-learn in one worker minimises dask-ml's lbfgs objective; the switch rule.

Tolerance (documented in ``daskcollab.models._linear``): coefficients agree with dask-ml's
lbfgs fit within 1e-4 x the largest coefficient (measured <= 7e-5 on breast-cancer, diabetes and
wine), predicted probabilities within 1e-4.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from daskcollab._errors import DataError
from daskcollab.models import LinearSolver, Task
from daskcollab.models._linear import LOCAL_FIT_PEAK_FACTOR, fit_linear_arrays, linear_solver_for, train_linear

REL_TOL = 1e-4


def _dask_ml_objective_gradient(X, y, beta, task, C):
    """Gradient of dask-glm's objective on standardised features plus a ones column."""
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = np.column_stack([(X - mean) / std, np.ones(len(X))])
    z = Z @ beta
    residual = 1 / (1 + np.exp(-z)) - y if task is Task.CLASSIFICATION else 2 * (z - y)
    return Z.T @ residual + beta / C


@pytest.mark.parametrize("loader, task", [(load_breast_cancer, Task.CLASSIFICATION), (load_diabetes, Task.REGRESSION),
                                          (load_wine, Task.CLASSIFICATION)])
def test_local_fit_is_the_minimiser_of_dask_mls_objective(loader, task):
    X, y = loader(return_X_y=True)
    k = len(np.unique(y)) if task is Task.CLASSIFICATION else 0
    coef, intercept = fit_linear_arrays(X, y, task=task, C=0.5, n_classes=k)
    mean, std = X.mean(axis=0), X.std(axis=0)
    for c in range(max(k, 1) if k > 2 else 1):
        w = coef[c] if k > 2 else coef
        b = intercept[c] if k > 2 else intercept
        target = (y == c).astype(float) if k > 2 else y
        beta = np.append(w * std, b + w @ mean)  # back to the standardised parametrisation
        grad = _dask_ml_objective_gradient(X, target, beta, task, 0.5)
        scale = np.abs(target).sum() if task is Task.REGRESSION else len(y)
        assert np.abs(grad).max() / scale < 1e-5


def test_coefficients_match_dask_ml_lbfgs_on_real_data(client):
    for loader, task in ((load_breast_cancer, Task.CLASSIFICATION), (load_diabetes, Task.REGRESSION)):
        X, y = loader(return_X_y=True)
        Xd = da.from_array(X.astype(np.float32), chunks=(100, -1))
        yd = da.from_array(y.astype(np.float32), chunks=100)
        reference = train_linear(Xd, yd, task=task, C=1.0, max_iter=100, solver="dask-ml")
        local = train_linear(Xd, yd, task=task, C=1.0, max_iter=100, solver="scikit-learn",
                             compute=lambda *c: dask.compute(*c, scheduler=client))
        assert reference.solver == "dask-ml" and local.solver == "scikit-learn"
        scale = np.abs(reference.coef).max()
        np.testing.assert_allclose(local.coef, reference.coef, rtol=0, atol=REL_TOL * scale)
        np.testing.assert_allclose(local.intercept, reference.intercept, rtol=0, atol=REL_TOL * max(scale, 1.0))
        pred_ref, pred_local = dask.compute(reference.predict(Xd), local.predict(Xd), scheduler=client)
        tol = 1e-4 if task is Task.CLASSIFICATION else REL_TOL * np.abs(y).max()
        np.testing.assert_allclose(pred_local, pred_ref, rtol=0, atol=tol)


def test_local_fit_runs_as_one_task_on_a_worker(client):
    from distributed import get_task_stream

    X, y = load_breast_cancer(return_X_y=True)
    Xd = da.from_array(X.astype(np.float32), chunks=(100, -1))
    yd = da.from_array(y.astype(np.float32), chunks=100)
    Xd, yd = client.persist([Xd, yd])
    with get_task_stream(client) as stream:
        fitted = train_linear(Xd, yd, task=Task.CLASSIFICATION, C=1.0, max_iter=100, solver="scikit-learn",
                              compute=lambda *c: dask.compute(*c, scheduler=client))
    fits = [t for t in stream.data if "fit_linear_arrays" in str(t["key"])]
    workers = set(client.scheduler_info()["workers"])
    assert len(fits) == 1 and fits[0]["worker"] in workers
    assert fitted.coef.shape == (30,)


def test_switch_rule_by_memory_headroom():
    gib = 2**30
    assert linear_solver_for(1 * gib, [LOCAL_FIT_PEAK_FACTOR * gib, 8 * gib]) is LinearSolver.SCIKIT_LEARN
    assert linear_solver_for(1.01 * gib, [LOCAL_FIT_PEAK_FACTOR * gib, 8 * gib]) is LinearSolver.DASK_ML  # the tightest decides
    assert linear_solver_for(10 * gib, [4 * gib], "dask-ml") is LinearSolver.DASK_ML
    assert linear_solver_for(1, [], "auto") is LinearSolver.DASK_ML  # no workers known
    with pytest.raises(DataError, match=r"stage 'lin', field 'solver': the 5,000,000 training rows \(2\.00 GiB\) do not fit "
                                        r"in one worker's memory headroom for a scikit-learn fit \(about 5x their size is "
                                        r"needed, the tightest worker has 4\.00 GiB\)\. Fix: solver=\"auto\""):
        linear_solver_for(2 * gib, [4 * gib, 9 * gib], "scikit-learn", "lin", rows=5_000_000)


def test_multiclass_is_one_vs_rest_on_both_sides(client):
    X, y = load_wine(return_X_y=True)
    Xd = da.from_array(X.astype(np.float32), chunks=(60, -1))
    yd = da.from_array(y.astype(np.float32), chunks=60)
    local = train_linear(Xd, yd, task=Task.CLASSIFICATION, C=1.0, max_iter=100, n_classes=3, solver="scikit-learn",
                         compute=lambda *c: dask.compute(*c, scheduler=client))
    assert local.coef.shape == (3, 13) and local.intercept.shape == (3,) and local.n_classes == 3
    proba = local.predict(Xd)
    assert proba.chunks == ((60, 60, 58), (3,))
    P = proba.compute(scheduler=client)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)
    assert (np.argmax(P, axis=1) == y).mean() > 0.95
