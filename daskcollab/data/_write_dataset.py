"""Turn an in-memory table (NumPy or pandas) into a chunked Zarr v3 dataset store."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from daskcollab._errors import DataError
from daskcollab.data._atomic import OutputKind, atomic_group, new_array


def write_zarr_dataset(
    path: str | os.PathLike,
    X: np.ndarray | pd.DataFrame,
    y: np.ndarray | pd.Series,
    *,
    chunk_rows: int = 50_000,
    feature_names: Sequence[str] | None = None,
    features: str = "X",
    labels: str = "y",
    overwrite: bool = False,
) -> str:
    """Write features and labels to a Zarr v3 group chunked by rows; return the path.

    Numeric columns are stored as float32. pandas categorical, string and boolean columns are
    stored as integer codes (float32, missing = NaN) and the categories are kept in the
    array's ``categories`` attribute. The store is written to a temporary sibling folder and
    renamed into place, so a failed write never leaves a store that looks complete.
    ``overwrite=True`` replaces only a dataset store daskcollab wrote (its ``daskcollab`` marker);
    any other existing path is refused with a :class:`DataError`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = write_zarr_dataset(os.path.join(d, "toy.zarr"), np.ones((10, 3)), np.zeros(10), chunk_rows=4)
    >>> import zarr; zarr.open_group(p)["X"].chunks
    (4, 3)
    """
    path = os.fspath(path)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise DataError(f"write_zarr_dataset: field 'chunk_rows': expected a positive integer, got {chunk_rows!r}. "
                        "Fix: chunk_rows=50_000")
    if os.path.exists(path) and not overwrite:
        raise DataError(f"write_zarr_dataset: {path!r} exists. Fix: pass overwrite=True or another path")
    matrix, names, categories = _to_matrix(X, feature_names)
    labels_arr = np.asarray(y)
    if labels_arr.ndim != 1 or labels_arr.shape[0] != matrix.shape[0]:
        raise DataError(
            f"write_zarr_dataset: shape mismatch between X and y: X has {matrix.shape[0]} rows, "
            f"y has shape {labels_arr.shape!r}. Fix: pass one label per row"
        )
    if not np.issubdtype(labels_arr.dtype, np.number) and labels_arr.dtype != bool:
        raise DataError(
            f"write_zarr_dataset: labels must be numeric, got dtype {labels_arr.dtype!r}. "
            "Fix: encode them, e.g. y.astype('category').cat.codes"
        )
    with atomic_group(path, OutputKind.DATASET, where="write_zarr_dataset, field 'overwrite'") as group:
        xa = new_array(group, features, shape=matrix.shape, chunks=(chunk_rows, matrix.shape[1]), dtype="float32",
                       dims=("row", "feature"))
        xa[:] = matrix
        xa.attrs["feature_names"] = list(names)
        xa.attrs["categories"] = categories
        ya = new_array(group, labels, shape=labels_arr.shape, chunks=(chunk_rows,),
                       dtype=labels_arr.dtype if labels_arr.dtype != bool else "uint8", dims=("row",))
        ya[:] = labels_arr
    return path


def _to_matrix(X, feature_names):
    if isinstance(X, pd.DataFrame):
        categories: dict[str, list] = {}
        columns = []
        for name in X.columns:
            col = X[name]
            if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object or pd.api.types.is_string_dtype(col):
                cat = col.astype("category")
                categories[str(name)] = [str(c) for c in cat.cat.categories]
                codes = cat.cat.codes.to_numpy().astype("float32")
                codes[codes < 0] = np.nan
                columns.append(codes)
            else:
                columns.append(pd.to_numeric(col).to_numpy(dtype="float32", na_value=np.nan))
        matrix = np.column_stack(columns) if columns else np.empty((len(X), 0), "float32")
        return matrix, [str(c) for c in X.columns], categories
    matrix = np.asarray(X)
    if matrix.ndim != 2:
        raise DataError(f"write_zarr_dataset: X must be 2-D, got shape {matrix.shape!r}. Fix: reshape to (rows, features)")
    if not np.issubdtype(matrix.dtype, np.number) and matrix.dtype != bool:
        raise DataError(
            f"write_zarr_dataset: non-numeric features (dtype {matrix.dtype!r}). "
            "Fix: pass a pandas DataFrame (text columns become category codes) or encode them"
        )
    names = list(feature_names) if feature_names is not None else [f"f{i}" for i in range(matrix.shape[1])]
    return matrix.astype("float32"), names, {}
