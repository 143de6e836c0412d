"""Read a feature array and a label array from a Zarr v3 store as a :class:`Dataset`."""

from __future__ import annotations

import os

import dask.array as da
import numpy as np
import zarr

from daskcollab._errors import DataError
from daskcollab.data._dataset import Dataset
from daskcollab.data._split import Split, resolve_split


def open_dataset(path: str | os.PathLike, features: str, labels: str, split: Split, *, stage: str) -> Dataset:
    """Open ``features`` (n, f) and ``labels`` (n,) of the Zarr group at ``path`` lazily.

    Only metadata is read here. Features keep the store's row chunks and get a single column
    chunk; labels are rechunked to the features' row chunks.

    Raises
    ------
    DataError
        Missing store or array, non-numeric dtypes, shape mismatch, empty split part.
    """
    # absolute: the chunk reads run in worker processes, whose working directory may differ
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        raise DataError(
            f"stage {stage!r}, field 'path': no Zarr store at {path!r}. Fix: create it with "
            "daskcollab.write_zarr_dataset(...) or `daskcollab data NAME PATH`, or give a 'builder'"
        )
    try:
        group = zarr.open_group(path, mode="r")
    except Exception as exc:  # zarr raises several types for "not a group"
        raise DataError(
            f"stage {stage!r}, field 'path': {path!r} is not a readable Zarr group ({exc}). "
            "Fix: point 'path' at the group written by daskcollab.write_zarr_dataset"
        ) from exc
    X = _array(group, features, "features", path, stage)
    y = _array(group, labels, "labels", path, stage)
    if X.ndim != 2:
        raise DataError(
            f"stage {stage!r}, field 'features': array {features!r} must be 2-D (rows, features), "
            f"got shape {X.shape!r}. Fix: store features as one (n_rows, n_features) array"
        )
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(
            f"stage {stage!r}, field 'labels': shape mismatch between X and y: features "
            f"{features!r} has shape {X.shape!r}, labels {labels!r} has shape {y.shape!r}; "
            f"expected ({X.shape[0]},). Fix: write one label per feature row"
        )
    dX = da.from_zarr(X)
    if dX.numblocks[1] != 1:
        dX = dX.rechunk({1: -1})
    dy = da.from_zarr(y)
    if dy.chunks[0] != dX.chunks[0]:
        dy = dy.rechunk({0: dX.chunks[0]})
    plan = resolve_split(split, dX.chunks[0], stage)
    names = tuple(X.attrs.get("feature_names") or (f"f{i}" for i in range(X.shape[1])))
    return Dataset(dX, dy, plan, names, source_dtype=str(X.dtype))


def _array(group: zarr.Group, name: str, field: str, path: str, stage: str) -> zarr.Array:
    try:
        arr = group[name] if name in group else None
    except (ValueError, TypeError) as exc:  # metadata zarr cannot read, e.g. a pickled object array
        raise DataError(
            f"stage {stage!r}, field {field!r}: array {name!r} in {path!r} has metadata zarr cannot read "
            f"({exc}); daskcollab reads int, float or bool arrays only and never decodes pickled objects. "
            "Fix: rewrite the data with daskcollab.write_zarr_dataset"
        ) from exc
    if arr is None:
        arrays = sorted(k for k, _ in group.arrays())
        raise DataError(
            f"stage {stage!r}, field {field!r}: missing Zarr array {name!r} in {path!r} "
            f"(arrays there: {arrays!r}). Fix: set {field!r} to one of them"
        )
    if not isinstance(arr, zarr.Array):
        raise DataError(
            f"stage {stage!r}, field {field!r}: {name!r} in {path!r} is a group, not an array. "
            f"Fix: set {field!r} to an array's name"
        )
    if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise DataError(
            f"stage {stage!r}, field {field!r}: non-numeric features/labels: array {name!r} has "
            f"dtype {str(arr.dtype)!r}; expected int, float or bool. Fix: encode text columns as "
            "numbers, e.g. daskcollab.write_zarr_dataset(frame, ...) stores categories as codes"
        )
    return arr
