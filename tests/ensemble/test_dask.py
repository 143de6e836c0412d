"""Dask in, Dask out: same row chunks, nothing computed until asked, equal to the NumPy path.

Computation runs on the session's real LocalCluster (2 worker processes, see tests/conftest.py).
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from daskcollab import DataError
from daskcollab.ensemble import Stacking, Voting, WeightedAverage, blend_blocks, stack_predictions

ROW_CHUNKS = (250, 250, 250, 123)
N = sum(ROW_CHUNKS)


def _forbid(*args, **kwargs):
    raise AssertionError("a blender computed something while only building a graph")


def _binary_data(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, N)
    good = 1 / (1 + np.exp(-(2.0 * (2 * y - 1) + rng.normal(size=N))))
    return np.column_stack([good, rng.uniform(size=N), 0.5 * good + 0.25]).astype(dtype), y


def _multiclass_data(seed=0, k=3, models=2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, N)
    blocks = []
    for m in range(models):
        p = rng.dirichlet(np.ones(k), N)
        p[np.arange(N), y] += 1.0 + m
        blocks.append(p / p.sum(axis=1, keepdims=True))
    return np.hstack(blocks), np.array(["bronze", "gold", "silver"])[y]  # sorted: columns follow classes_


def _per_model_dask(P):
    """Per-model dask columns stacked the way the workflow does it (one column chunk per model)."""
    return da.stack([da.from_array(P[:, j], chunks=(ROW_CHUNKS,)) for j in range(P.shape[1])], axis=1)


def test_binary_blenders_fit_on_dask_and_predict_lazily(client):
    P, y = _binary_data()
    P_dask = _per_model_dask(P)
    assert P_dask.chunks[1] == (1, 1, 1)
    y_dask = da.from_array(y, chunks=(ROW_CHUNKS,))
    for make in (WeightedAverage, Stacking, lambda: Voting(voting="hard")):
        fitted_dask = make().fit(P_dask, y_dask)  # gathers the (N, 3) matrix on the cluster's client
        fitted_np = make().fit(P, y)
        if hasattr(fitted_np, "weights_"):
            np.testing.assert_array_equal(fitted_dask.weights_, fitted_np.weights_)
        with dask.config.set(scheduler=_forbid):
            pos = fitted_dask.predict_positive(P_dask)
            proba = fitted_dask.predict_proba(P_dask)
            labels = fitted_dask.predict(P_dask)
            blended = blend_blocks(P_dask, fitted_dask)
        for out in (pos, proba, labels, blended):
            assert isinstance(out, da.Array)
            assert out.chunks[0] == ROW_CHUNKS
        assert proba.chunks == (ROW_CHUNKS, (2,)) and pos.chunks == (ROW_CHUNKS,)
        assert pos.dtype == np.float64 and labels.dtype == y.dtype
        assert len(pos.dask.layers[pos.name]) == len(ROW_CHUNKS)  # one task per row chunk
        got_pos, got_proba, got_labels, got_blend = client.compute([pos, proba, labels, blended], sync=True)
        np.testing.assert_array_equal(got_pos, fitted_np.predict_positive(P))
        np.testing.assert_array_equal(got_proba, fitted_np.predict_proba(P))
        np.testing.assert_array_equal(got_labels, fitted_np.predict(P))
        np.testing.assert_array_equal(got_blend, got_pos)


def test_multiclass_and_string_labels(client):
    P, y = _multiclass_data()
    P_dask = da.from_array(P, chunks=(ROW_CHUNKS, 3))  # column-chunked per model: rechunked lazily
    for blender in (WeightedAverage().fit(P, y), Stacking().fit(P, y), Voting(voting="hard").fit(P, y)):
        with dask.config.set(scheduler=_forbid):
            proba = blend_blocks(P_dask, blender)
            labels = blender.predict(P_dask)
        assert proba.chunks == (ROW_CHUNKS, (3,))
        assert labels.chunks == (ROW_CHUNKS,) and labels.dtype == blender.classes_.dtype
        got_proba, got_labels = client.compute([proba, labels], sync=True)
        np.testing.assert_array_equal(got_proba, blender.predict_proba(P))
        np.testing.assert_array_equal(got_labels, blender.predict(P))
    assert WeightedAverage().fit(P, y).weights_[1] > 0.5  # model 1 is the sharper one


def test_regression_and_float32(client):
    rng = np.random.default_rng(5)
    P = rng.normal(size=(N, 2)).astype(np.float32)
    y = 0.3 * P[:, 0] + 0.7 * P[:, 1] + 0.01 * rng.normal(size=N)
    P_dask = da.from_array(P, chunks=(ROW_CHUNKS, 2))
    for blender in (WeightedAverage(task="regression").fit(P, y), Stacking(task="regression").fit(P, y)):
        with dask.config.set(scheduler=_forbid):
            pred = blend_blocks([P_dask[:, 0], P_dask[:, 1]], blender)
        assert pred.chunks == (ROW_CHUNKS,) and pred.dtype == np.float32  # float32 stays float32
        np.testing.assert_array_equal(client.compute(pred, sync=True), blender.predict(P))


def test_unknown_chunk_sizes_stay_lazy(client):
    P, y = _binary_data(seed=3)
    P_dask = da.from_array(P, chunks=(ROW_CHUNKS, 3))
    keep = P[:, 1] > 0.3
    filtered = P_dask[da.from_array(keep, chunks=(ROW_CHUNKS,))]
    assert np.isnan(filtered.shape[0])
    wa = WeightedAverage().fit(P, y)
    with dask.config.set(scheduler=_forbid):
        pos = wa.predict_positive(filtered)
    assert pos.numblocks == (len(ROW_CHUNKS),)
    np.testing.assert_array_equal(client.compute(pos, sync=True), wa.predict_positive(P[keep]))


def test_mismatched_dask_inputs_raise_without_computing():
    P, y = _binary_data()
    wa = WeightedAverage().fit(P, y)
    a = da.from_array(P[:, 0], chunks=(ROW_CHUNKS,))
    b = da.from_array(P[:, 1], chunks=200)
    with dask.config.set(scheduler=_forbid):
        with pytest.raises(DataError, match=r"WeightedAverage: base models have different row chunking: model 0 "
                           r"4 chunks / 873 rows, model 1 5 chunks / 873 rows\. Fix: predict every base model"):
            blend_blocks([a, b], wa)
        with pytest.raises(DataError, match=r"WeightedAverage: base models predict different row counts"):
            blend_blocks([a, a[:-1]], wa)
        with pytest.raises(DataError, match=r"all predictions as dask arrays or all as NumPy arrays, got a mix"):
            stack_predictions([a, P[:, 1]], wa)
        with pytest.raises(DataError, match=r"WeightedAverage.predict_positive: X has shape \(873, 2\) but "
                           r"WeightedAverage is expecting 3 features"):
            wa.predict_positive(da.from_array(P[:, :2], chunks=(ROW_CHUNKS, 2)))
