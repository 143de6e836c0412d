"""Out-of-fold predictions: refit each base model once per fold, and put the held-out predictions
back in row order, chunk by chunk (Dask glue, one task per chunk).

Every training chunk's rows are dealt evenly to ``k`` folds (:class:`RowFolds`, seeded); fold
``k``'s predictions cover the rows of every chunk whose fold code is ``k``; merging writes them
back to their rows. Predictions are (n,) or (n, n_classes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from daskcollab._context import StageContext
from daskcollab.data import Dataset, Part, RowFolds, select_fold, select_rows
from daskcollab.ensemble._blockwise import stack_predictions
from daskcollab.models import FittedModel, LocalModel, Task, fit_predict_local, worker_headroom

logger = logging.getLogger("daskcollab")
#: Serialises the look-up and filling of the per-run out-of-fold columns (blends of the same models
#: in one run run in threads side by side, and share them).
_OOF_LOCK = threading.Lock()


@dataclass(frozen=True)
class FoldRefit:
    """How one base model is refitted on a fold's rows.

    Attributes
    ----------
    name
        The model's stage name (for messages).
    fit
        Its own trainer: ``fit(ctx, X, y, task, n_classes) -> FittedModel`` (distributed).
    local_model
        ``local_model(task, n_classes)``: the same estimator for single-process fits, or None.
    """

    name: str
    fit: Callable[[StageContext, da.Array, da.Array, Task, int], FittedModel]
    local_model: Callable[[Task, int], LocalModel | None]


class ModelOutput(Protocol):
    """What out-of-fold fitting reads of a model's predictions (a workflow ``Predictions``)."""

    task: Task
    predictions: da.Array
    data: Dataset
    #: per-run values derived from the model; the out-of-fold column is kept here
    cache: dict[Any, Any]


def out_of_fold_predictions(ctx: StageContext, refits: Sequence[FoldRefit], inputs: Sequence[ModelOutput], *,
                            folds: int, local_fold_fraction: float, stage: str, seed: int = 0) -> da.Array:
    """(n_train, n_columns) predictions of the training rows, each by models that did not see it.

    Every training chunk's rows are dealt evenly to ``folds`` folds (:class:`RowFolds`, seeded);
    each base model (``refits[i]`` for ``inputs[i]``) is refitted once per fold, with its own
    trainer, on the rows of the other folds, and predicts the fold's rows. Dealing rows within
    chunks (rather than whole chunks) keeps every fold representative when the store is in time
    order. When a model's training rows take at most ``local_fold_fraction`` of the tightest
    worker's memory headroom, its fold refits run side by side, one task per fold training the
    same estimator in-process; otherwise its own trainer runs once per fold. A model's column is
    computed once per run, fold count, seed and ``local_fold_fraction`` (kept in its output's
    ``cache``), so blends of the same models share it. ``stage`` names the blend in the log.
    """
    key = ("out_of_fold", folds, seed, local_fold_fraction)
    with _OOF_LOCK:
        missing = [(refit, out) for refit, out in zip(refits, inputs) if key not in out.cache]
        # every model's side-by-side fold fits are submitted before any is waited for, so the
        # workers stay busy across models (one model's last fold beside the next model's first)
        lazy = [_out_of_fold_column(ctx, refit, out, folds=folds, seed=seed, local_fold_fraction=local_fold_fraction,
                                    stage=stage) for refit, out in missing]
        for (_, out), column in zip(missing, ctx.persist(*lazy) if lazy else ()):
            out.cache[key] = column
    return stack_predictions([out.cache[key] for out in inputs])


def _out_of_fold_column(ctx: StageContext, refit: FoldRefit, out: ModelOutput, *, folds: int, seed: int,
                        local_fold_fraction: float, stage: str) -> da.Array:
    """One model's out-of-fold column, lazy (side-by-side fold fits already submitted)."""
    plan = out.data.split
    y_train = select_rows(out.data.y, plan, Part.TRAIN)
    row_folds = RowFolds(folds, seed=seed, chunks=y_train.chunks[0])
    worker_memory = min(worker_headroom(ctx.client), default=float("inf"))
    X_train = select_rows(out.data.X, plan, Part.TRAIN)
    n_classes = out.predictions.shape[1] if out.predictions.ndim == 2 else (2 if out.task is Task.CLASSIFICATION else 0)
    local = refit.local_model(out.task, n_classes)
    side_by_side = local is not None and X_train.nbytes <= local_fold_fraction * worker_memory
    logger.info("%s: refitting %r on %d folds (%s)", stage, refit.name, row_folds.k,
                "side by side, one task per fold" if side_by_side else "one fit after another")
    held_out = []
    for k in range(row_folds.k):
        X_fit = select_fold(X_train, row_folds, k, held_out=False)
        y_fit = select_fold(y_train, row_folds, k, held_out=False)
        X_new = select_fold(X_train, row_folds, k, held_out=True)
        if side_by_side:
            # the arrays reach the task through finalize keys named afresh per call: a key of the
            # run's own keeps a repeated run from resubmitting this key with other dependencies
            name = "fit_predict_local-" + tokenize(local, X_fit.name, y_fit.name, X_new.name, ctx.run_id)
            held_out.append(dask.delayed(fit_predict_local, pure=True)(local, X_fit, y_fit, X_new, dask_key_name=name))
        else:
            held_out.append(refit.fit(ctx, X_fit, y_fit, out.task, n_classes).predict(X_new))
    if side_by_side:
        # run the K fits now, side by side; merge from their results (never refit per chunk)
        return merge_fold_vectors(row_folds, ctx.client.compute(held_out), out.predictions.shape[1:])
    return merge_folds(row_folds, held_out)


def merge_fold_vectors(folds: RowFolds, vectors: Sequence, tail: tuple[int, ...] = ()) -> da.Array:
    """Merge one in-memory result per fold (its held-out rows, chunk after chunk; futures or
    delayed objects) into a dask array chunked like ``folds.chunks``; ``tail`` is the shape
    of one row's prediction (``()`` or ``(k,)``)."""
    offsets = [np.concatenate([[0], np.cumsum(folds.counts(k, True))]) for k in range(folds.k)]
    pieces = [
        da.from_delayed(
            dask.delayed(_merge_chunk_from_vectors)(folds, i, offsets, *vectors),
            shape=(n, *tail), dtype=np.float32, meta=np.empty((0,) * (1 + len(tail)), np.float32),
        )
        for i, n in enumerate(folds.chunks)
    ]
    return da.concatenate(pieces)


def merge_folds(folds: RowFolds, held_out: Sequence[da.Array]) -> da.Array:
    """Merge one dask array per fold (chunk ``i`` holds that fold's rows of chunk ``i``)."""
    first = held_out[0]
    tail = first.shape[1:]
    pieces = [
        da.from_delayed(
            dask.delayed(merge_chunk)(folds, i, *(pred.blocks[i] for pred in held_out)),
            shape=(n, *tail), dtype=first.dtype, meta=np.empty((0,) * first.ndim, first.dtype),
        )
        for i, n in enumerate(folds.chunks)
    ]
    return da.concatenate(pieces)


def _merge_chunk_from_vectors(folds: RowFolds, chunk_index: int, offsets, *vectors: np.ndarray) -> np.ndarray:
    i = chunk_index
    return merge_chunk(folds, i, *(np.asarray(v)[o[i]:o[i + 1]] for v, o in zip(vectors, offsets)))


def merge_chunk(folds: RowFolds, chunk_index: int, *fold_predictions: np.ndarray) -> np.ndarray:
    """Chunk ``chunk_index``'s rows in order, each from the fold that held it out (pure)."""
    codes = folds.codes(chunk_index)
    first = np.asarray(fold_predictions[0])
    out = np.empty((len(codes), *first.shape[1:]), dtype=first.dtype)
    for k, pred in enumerate(fold_predictions):
        out[codes == k] = pred
    return out
