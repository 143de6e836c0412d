"""Checks on training labels shared by the model adapters."""

from __future__ import annotations

import dask.array as da
import numpy as np

from daskcollab._errors import DataError
from daskcollab.models._fitted import Task


def check_labels(y: da.Array, task: Task, stage: str) -> None:
    """Binary classification needs both labels 0 and 1 among the training rows.

    (NaN labels are rejected earlier, by the source stage.) Reads the labels once.
    """
    if task is Task.CLASSIFICATION:
        values = np.asarray(da.unique(y).compute())
        if not set(values.tolist()) <= {0, 1} or len(values) < 2:
            raise DataError(
                f"stage {stage!r}, field 'labels': binary classification needs labels 0 and 1, "
                f"got {values[:10].tolist()!r}. Fix: encode the target as 0/1 "
                "(or use task='regression')"
            )
