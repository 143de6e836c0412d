"""Checks on training labels shared by the model stages."""

from __future__ import annotations

from daskcollab._errors import DataError
from daskcollab.data._dataset import Dataset
from daskcollab.models._fitted import Task


def check_labels(data: Dataset, task: Task, stage: str) -> None:
    """Binary classification needs labels 0 and 1 (the source stage summarised them; NaN
    labels were rejected there)."""
    if task is Task.CLASSIFICATION and not data.binary_labels:
        raise DataError(
            f"stage {stage!r}, field 'labels': binary classification needs labels 0 and 1 (both present), "
            "got other values. Fix: encode the target as 0/1 (or use task='regression')"
        )
