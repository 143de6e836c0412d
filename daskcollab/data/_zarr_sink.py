"""Write prediction arrays to a Zarr v3 store chunk by chunk, atomically.

Every Dask chunk is written as exactly one whole Zarr chunk (unaligned writes lose data with
process workers, see DESIGN.md). The store is written to a temporary sibling folder and moved
into place only after every chunk landed, then marked ``complete`` in its attributes: a failed
run never leaves a store that looks finished. ``overwrite`` replaces only a prediction store
daskcollab wrote (see :mod:`daskcollab.data._atomic`).

Arrays name their dimensions: ``("row",)`` for a score or label per row, ``("row", "class")`` for
class probabilities, so ``xarray.open_zarr`` opens the store as one dataset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dask.array as da

from daskcollab._errors import DataError
from daskcollab.data._atomic import OutputKind, atomic_group, new_array


def write_predictions(
    path: str | os.PathLike,
    arrays: Mapping[str, da.Array],
    *,
    attrs: Mapping[str, object],
    array_attrs: Mapping[str, Mapping[str, object]] | None = None,
    overwrite: bool,
    stage: str,
) -> str:
    """Compute ``arrays`` (same row chunks) into a new Zarr group at ``path``; return the path.

    Only one chunk per task is in memory at a time; nothing is gathered on the client.
    ``array_attrs`` are attributes of single arrays, by name.
    """
    path = os.fspath(path)
    array_attrs = dict(array_attrs or {})
    if os.path.exists(path) and not overwrite:
        raise DataError(
            f"stage {stage!r}, field 'path': {path!r} already exists. "
            "Fix: set overwrite=True or choose another path"
        )
    with atomic_group(path, OutputKind.PREDICTIONS, where=f"stage {stage!r}, field 'overwrite'") as group:
        writes = []
        for name, arr in arrays.items():
            arr = _regular_rows(arr)
            target = new_array(group, name, shape=arr.shape, chunks=tuple(c[0] for c in arr.chunks),
                               dtype=arr.dtype, dims=_DIMS[: arr.ndim])
            target.attrs.update(array_attrs.get(name, {}))
            writes.append((arr, target))
        # da.store, not da.to_zarr: to_zarr (2026.8) re-chunks its input to "auto" chunk sizes,
        # merging our row chunks; store writes each dask chunk into exactly one Zarr chunk.
        da.store([a for a, _ in writes], [t for _, t in writes], lock=False, compute=True)
        group.attrs.update({**attrs, "complete": True})
    return path


_DIMS = ("row", "class")


def _regular_rows(arr: da.Array) -> da.Array:
    """Zarr chunks are regular: all row chunks but the last must have one size."""
    rows = arr.chunks[0]
    if len(set(rows[:-1])) <= 1 and (len(rows) == 1 or rows[-1] <= rows[0]):
        return arr
    return arr.rechunk({0: max(rows)})
