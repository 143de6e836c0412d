"""A reusable prediction pipeline: the whole path from raw features to predictions.

A model trained behind preprocessing (``Standardize``) is only right on features preprocessed the
same way, and only on the features it was trained on, in that order. A :class:`Pipeline` keeps
both: the inputs it expects (:class:`InputSpec`: feature names, hence their count, and the stored
dtype), the fitted preprocessing steps, and the model. :meth:`Pipeline.check_inputs` refuses data
that differs, with a :class:`DataError` naming the mismatch, instead of predicting nonsense.
Pure data and chunk-wise dask graphs; files are written by :mod:`daskcollab.models._files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da

from daskcollab._errors import DataError
from daskcollab.models._fitted import FittedModel
from daskcollab.models._preprocess import Preprocessor


@dataclass(frozen=True)
class InputSpec:
    """What raw features a pipeline expects: names (in order; their number is the feature count)
    and the dtype of the stored feature array."""

    feature_names: tuple[str, ...]
    dtype: str

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def to_dict(self) -> dict[str, Any]:
        return {"feature_names": list(self.feature_names), "n_features": self.n_features, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        return cls(tuple(str(n) for n in d["feature_names"]), str(d["dtype"]))

    def mismatch(self, feature_names: Sequence[str], dtype: str) -> str | None:
        """What differs between these inputs and ``(feature_names, dtype)``, in words, or None."""
        names = tuple(feature_names)
        if len(names) != self.n_features:
            return f"the data has {len(names)} features, the model expects {self.n_features}"
        if names != self.feature_names:
            i = next(i for i, (a, b) in enumerate(zip(names, self.feature_names)) if a != b)
            missing = sorted(set(self.feature_names) - set(names))
            extra = sorted(set(names) - set(self.feature_names))
            what = (f"missing {missing!r}, unexpected {extra!r}" if missing or extra
                    else "the same names in another order")
            return (f"feature names differ from the model's ({what}; first difference at column {i}: "
                    f"{names[i]!r}, expected {self.feature_names[i]!r})")
        if str(dtype) != self.dtype:
            return f"the features are stored as {dtype}, the model was trained on {self.dtype}"
        return None


@dataclass(frozen=True, eq=False)
class Pipeline:
    """Preprocessing ``steps`` (applied in order) and a fitted ``model``, for raw features matching
    ``inputs`` (None: a model saved without its inputs, which are then not checked)."""

    model: FittedModel
    steps: tuple[Preprocessor, ...] = ()
    inputs: InputSpec | None = None

    @property
    def task(self) -> Any:
        return self.model.task

    def check_inputs(self, feature_names: Sequence[str], dtype: str, *, where: str) -> None:
        """Raise :class:`DataError` (starting with ``where``) unless the data matches :attr:`inputs`."""
        if self.inputs is None:
            return
        problem = self.inputs.mismatch(feature_names, dtype)
        if problem is not None:
            raise DataError(f"{where}: {problem}. Fix: predict on data with the features the model was trained on "
                            f"({self.inputs.n_features}: {list(self.inputs.feature_names[:5])!r}"
                            f"{' ...' if self.inputs.n_features > 5 else ''}, {self.inputs.dtype})")

    def transform(self, X: da.Array) -> da.Array:
        """The raw features after every preprocessing step (chunk-wise, lazy)."""
        for step in self.steps:
            X = step.transform(X)
        return X

    def predict(self, X: da.Array) -> da.Array:
        """Predictions for raw features ``X`` (row-chunked), chunk by chunk."""
        return self.model.predict(self.transform(X))

    def describe(self) -> dict[str, object]:
        out = dict(self.model.describe())
        out["preprocess"] = [s.describe() for s in self.steps]
        if self.inputs is not None:
            out["n_features"] = self.inputs.n_features
        return out
