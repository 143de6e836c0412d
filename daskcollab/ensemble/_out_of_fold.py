"""Put out-of-fold predictions back in row order, chunk by chunk (Dask glue, one task per chunk).

Fold ``k``'s predictions cover the rows of every chunk whose fold code (:class:`RowFolds`) is
``k``; merging writes them back to their rows. Predictions are (n,) or (n, n_classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import dask
import dask.array as da
import numpy as np

from daskcollab.data import RowFolds


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
