"""The in-flight form of tabular data: a feature matrix, labels and a resolved split.

A :class:`Dataset` holds dask arrays chunked by rows only (one column chunk), so every row
chunk is one task everywhere downstream: preprocessing, chunk-wise prediction and writing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import dask.array as da
import numpy as np

from daskcollab.data._split import Part, RowFolds, RowSample, SplitPlan


@dataclass(frozen=True)
class Dataset:
    """Features ``X`` (n, f), labels ``y`` (n,), and the split plan over their row chunks.

    ``persisted`` tells whether ``X`` is held in cluster memory or re-read from its source;
    ``binary_labels`` whether the labels are all 0 or 1, with both present; ``classes`` the
    distinct label values when every label is an integer in ``[0, MAX_CLASSES)`` (None otherwise).
    ``steps`` are the fitted preprocessing steps applied since the source (in order) and
    ``source_dtype`` the dtype of the stored features: with ``feature_names`` they say what raw
    features a model trained on this data expects (a saved pipeline records them).
    """

    X: da.Array
    y: da.Array
    split: SplitPlan
    feature_names: tuple[str, ...]
    persisted: bool = True
    binary_labels: bool = True
    classes: tuple[int, ...] | None = (0, 1)
    steps: tuple[Any, ...] = ()
    source_dtype: str = "float32"

    def part(self, part: Part | str) -> tuple[da.Array, da.Array]:
        """Rows of one split part as ``(X, y)``, chunk for chunk (no data is read now)."""
        part = Part(part)
        return select_rows(self.X, self.split, part), select_rows(self.y, self.split, part)

    def with_features(self, X: da.Array, step: Any = None) -> Dataset:
        """The same rows, labels and split with new features: ``X`` after the fitted
        preprocessing ``step`` (kept in :attr:`steps`; a ``Preprocessor``)."""
        return replace(self, X=X, steps=self.steps + ((step,) if step is not None else ()))


#: Labels with more distinct integer values than this are not summarised as classes.
MAX_CLASSES = 1_000


def row_ids(plan: SplitPlan) -> da.Array:
    """Every row's position in the source store (int64), chunked like the rows."""
    return da.arange(sum(plan.chunks), chunks=(plan.chunks,), dtype=np.int64)


def part_codes(plan: SplitPlan) -> da.Array:
    """Every row's split part as its code (:data:`~daskcollab.data._split.PART_CODES`; int8),
    chunked like the rows, one task per chunk."""
    return row_ids(plan).map_blocks(_part_codes_block, plan, dtype=np.int8, meta=np.empty((0,), dtype=np.int8))


def _part_codes_block(rows: np.ndarray, plan: SplitPlan, block_info=None) -> np.ndarray:
    return plan.codes(block_info[0]["chunk-location"][0]).astype(np.int8)


def describe_chunks(chunks: tuple[int, ...]) -> str:
    """Row chunking in a few words, for error messages: ``'6 chunks / 6000 rows'``."""
    return f"{len(chunks)} chunks / {sum(chunks)} rows"


def select_rows(arr: da.Array, plan: SplitPlan, part: Part) -> da.Array:
    """Rows of ``arr`` that fall in ``part``; output chunk ``i`` comes from input chunk ``i``.

    Chunk sizes are known up front (the plan counted them), so downstream code never meets
    NaN chunk sizes. Chunks with no row in ``part`` are dropped.
    """
    if tuple(arr.chunks[0]) != plan.chunks:
        raise ValueError(f"array row chunks {arr.chunks[0]} differ from the split plan's {plan.chunks}")
    return take_rows(arr, plan.counts[part], partial(plan.mask, part=part), drop_empty=True)


def select_fold(arr: da.Array, folds: RowFolds, fold: int, *, held_out: bool) -> da.Array:
    """The rows of fold ``fold`` (``held_out=True``, empty chunks kept so chunk ``i`` stays chunk
    ``i``) or of all other folds (``held_out=False``, empty chunks dropped, for training)."""
    return take_rows(arr, folds.counts(fold, held_out), partial(folds.mask, fold=fold, held_out=held_out),
                     drop_empty=not held_out)


def sample_rows(arr: da.Array, sample: RowSample) -> da.Array:
    """The rows of ``arr`` in ``sample`` (empty chunks dropped); same rows for every array."""
    return take_rows(arr, sample.counts(), sample.mask, drop_empty=True)


def take_rows(
    arr: da.Array, counts: tuple[int, ...], mask: Callable[[int], np.ndarray], *, drop_empty: bool
) -> da.Array:
    """Select rows chunk by chunk with ``mask(chunk_index)``; ``counts`` are the rows kept per chunk."""
    keep = [i for i, c in enumerate(counts) if c > 0 or not drop_empty]
    if len(keep) < len(counts):
        arr = da.concatenate([arr.blocks[i] for i in keep], axis=0)
    new_chunks = (tuple(counts[i] for i in keep),) + arr.chunks[1:]
    return arr.map_blocks(
        _take_rows,
        mask,
        np.asarray(keep),
        chunks=new_chunks,
        dtype=arr.dtype,
        meta=np.empty((0,) * arr.ndim, dtype=arr.dtype),
    )


def _take_rows(block: np.ndarray, mask: Callable[[int], np.ndarray], keep: np.ndarray, block_info=None) -> np.ndarray:
    chunk_index = int(keep[block_info[0]["chunk-location"][0]])
    return block[mask(chunk_index)]
