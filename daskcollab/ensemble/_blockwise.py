"""Chunk-wise Dask helpers: stack per-model predictions and blend them in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
from sklearn.utils.validation import check_is_fitted

from daskcollab._errors import DataError
from daskcollab.data import describe_chunks
from daskcollab.models import Task


def stack_predictions(predictions: Sequence[Any], blender: object | None = None) -> Any:
    """Stack per-model predictions into the blender input matrix, model-major.

    Parameters
    ----------
    predictions : sequence of arrays of shape (n_samples,) or (n_samples, n_classes)
        One per base model, all NumPy or all Dask. Dask arrays must share row chunks.
    blender : estimator, optional
        Only used to name the blender in error messages.

    Returns
    -------
    array of shape (n_samples, n_models) or (n_samples, n_models * n_classes)
        A dask array (row chunks preserved, no computation) if the inputs are dask arrays.

    Examples
    --------
    >>> import dask.array as da
    >>> a = da.ones(10, chunks=5); b = da.zeros(10, chunks=5)
    >>> stack_predictions([a, b]).chunks
    ((5, 5), (2,))
    """
    who = type(blender).__name__ if blender is not None else "stack_predictions"
    preds = list(predictions)
    if not preds:
        raise DataError(f"{who}: expected at least one base model's predictions, got none. Fix: pass a list of arrays")
    lazy = [isinstance(p, da.Array) for p in preds]
    if any(lazy) and not all(lazy):
        raise DataError(
            f"{who}: expected all predictions as dask arrays or all as NumPy arrays, got a mix "
            f"(dask: {lazy!r}). Fix: wrap NumPy predictions with da.from_array(p, chunks=first.chunks)"
        )
    if not all(lazy):
        preds = [np.asarray(p) for p in preds]
    first = preds[0]
    for i, p in enumerate(preds):
        if p.ndim not in (1, 2) or p.ndim != first.ndim or p.shape[1:] != first.shape[1:]:
            raise DataError(
                f"{who}: expected every model's predictions with the shape of model 0 {first.shape!r}, "
                f"got {p.shape!r} for model {i}. Fix: give every model the same task and classes"
            )
        if p.shape[0] != first.shape[0]:
            raise DataError(
                f"{who}: base models predict different row counts: model 0 has {first.shape[0]} rows, model "
                f"{i} has {p.shape[0]}. Fix: predict every base model on the same rows"
            )
        if all(lazy) and p.chunks[0] != first.chunks[0]:
            raise DataError(
                f"{who}: base models have different row chunking: model 0 {describe_chunks(first.chunks[0])}, model {i} "
                f"{describe_chunks(p.chunks[0])}. Fix: predict every base model on the same row-chunked array "
                f"(or p.rechunk({{0: {first.chunks[0]!r}}}))"
            )
    cols = [p[:, None] if p.ndim == 1 else p for p in preds]
    return da.concatenate(cols, axis=1).rechunk({1: -1}) if all(lazy) else np.concatenate(cols, axis=1)


def blend_blocks(P: Any, blender: Any) -> Any:
    """Blend base predictions chunk by chunk with a fitted blender.

    Binary classification gives the positive-class probability (n_samples,), multiclass the
    class probabilities (n_samples, n_classes), regression the values (n_samples,). A dask
    input gives a lazy dask array with the input's row chunks (one ``map_blocks`` task per
    chunk, nothing computed); NumPy gives NumPy.

    Parameters
    ----------
    P : array or sequence of arrays
        The (n_samples, n_columns) matrix, or per-model predictions for :func:`stack_predictions`.
    blender : fitted WeightedAverage, Voting or Stacking

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> from daskcollab.ensemble import WeightedAverage
    >>> y = np.array([0, 1, 0, 1])
    >>> wa = WeightedAverage().fit(np.column_stack([y * 0.8 + 0.1, np.full(4, 0.5)]), y)
    >>> blend_blocks(da.from_array(np.full((6, 2), 0.9), chunks=3), wa).chunks
    ((3, 3),)
    """
    check_is_fitted(blender)
    if isinstance(P, (list, tuple)):
        P = stack_predictions(P, blender)
    if blender._task() is Task.REGRESSION:
        return blender.predict(P)
    if len(blender.classes_) == 2:
        return blender.predict_positive(P)
    return blender.predict_proba(P)

