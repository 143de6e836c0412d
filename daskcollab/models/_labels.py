"""Checks on training labels shared by the model stages."""

from __future__ import annotations

from daskcollab._errors import DataError
from daskcollab.data import MAX_CLASSES, Dataset
from daskcollab.models._fitted import Task


def check_labels(data: Dataset, task: Task, stage: str) -> int:
    """The number of classes ``k`` of a classification source (2 for binary; 0 for regression).

    Classification needs integer labels ``0 .. k-1``, every one present, ``k >= 2`` (the source
    stage summarised them; NaN labels were rejected there). ``k > 2`` models predict (n, k)
    class probabilities.

    Raises
    ------
    DataError
        Labels that are not ``0 .. k-1``, naming the values found and the fix.
    """
    if task is not Task.CLASSIFICATION:
        return 0
    classes = data.classes
    if classes is None or len(classes) < 2 or classes != tuple(range(len(classes))):
        found = (f"the values {list(classes)!r}" if classes is not None and len(classes) <= 20
                 else f"{len(classes)} distinct values" if classes is not None
                 else f"values that are not integers in [0, {MAX_CLASSES})")
        raise DataError(
            f"stage {stage!r}, field 'labels': classification needs integer labels 0 .. k-1 (k >= 2, every class "
            f"present), got {found}. Fix: encode the target as 0/1 (binary) or 0 .. k-1 (multiclass), "
            "or use task='regression'"
        )
    return len(classes)
