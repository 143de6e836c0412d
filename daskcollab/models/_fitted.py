"""What every trained model hands to the rest of the workflow."""

from __future__ import annotations

from enum import Enum
from typing import Protocol

import dask.array as da


class Task(str, Enum):
    """What a model predicts: the positive-class probability, or a number."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class FittedModel(Protocol):
    """A trained model that predicts chunk by chunk.

    ``predict(X)`` maps a row-chunked dask array (n, f) to a dask array (n,) with the same row
    chunks: the probability of the positive class for classification, the value for regression.
    """

    task: Task

    def predict(self, X: da.Array) -> da.Array: ...

    def describe(self) -> dict[str, object]: ...
