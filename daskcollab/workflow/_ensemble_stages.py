"""Stages that combine model predictions: blending and evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from enum import Enum
from typing import ClassVar

import dask.array as da
import numpy as np

from daskcollab._errors import DataError
from daskcollab.data._dataset import select_rows
from daskcollab.data._split import Part
from daskcollab.evaluation._metrics import score
from daskcollab.workflow._context import StageContext
from daskcollab.workflow._data_stages import _require_models
from daskcollab.workflow._model_stages import Predictions
from daskcollab.workflow._stage import Stage, StageKind


class BlendMethod(str, Enum):
    """How a :class:`Blend` stage combines its models' predictions."""

    WEIGHTED_AVERAGE = "weighted_average"


@dataclass(eq=False)
class Blend(Stage):
    """Blend the predictions of several model stages into one.

    ``weighted_average`` fits non-negative weights that sum to one on the validation rows,
    minimising log-loss (classification) or squared error (regression), then blends every row
    chunk in place.

    Examples
    --------
    >>> blend = Blend([xgb, logreg], method="weighted_average")  # doctest: +SKIP
    """

    models: Sequence[Stage]
    _: KW_ONLY
    method: BlendMethod | str = BlendMethod.WEIGHTED_AVERAGE

    kind: ClassVar[StageKind] = StageKind.ENSEMBLE
    type_name: ClassVar[str] = "blend"

    def validate(self) -> None:
        super().validate()
        _require_models(self, self.models)
        if len(self.models) < 2:
            self._fail("models", "at least two model stages", [m.name for m in self.models], "models=[xgb, logreg]")
        if self.method not in {m.value for m in BlendMethod}:
            self._fail("method", f"one of {[m.value for m in BlendMethod]!r}", self.method, 'method="weighted_average"')

    def run(self, ctx: StageContext, *inputs: Predictions) -> Predictions:
        first = _check_aligned(self, inputs)
        from daskcollab.ensemble import WeightedAverage

        P = da.stack([p.predictions for p in inputs], axis=1)
        plan = first.data.split
        P_val = select_rows(P, plan, Part.VALIDATION)
        y_val = select_rows(first.data.y, plan, Part.VALIDATION)
        blender = WeightedAverage(task=first.task.value).fit(P_val, y_val)
        blended = blender.predict_positive(P) if first.task.value == "classification" else blender.predict(P)
        (blended,) = ctx.persist(blended.astype(np.float32))
        weights = {m.name: float(w) for m, w in zip(self.models, blender.weights_)}
        return Predictions(first.task, blended, first.data, blender, {"weights": weights})


def _check_aligned(stage: Stage, inputs: Sequence[Predictions]) -> Predictions:
    first = inputs[0]
    for model, out in zip(stage.models[1:], inputs[1:]):
        if out.task is not first.task:
            raise DataError(
                f"stage {stage.name!r}, field 'models': {model.name!r} is a {out.task.value} model but "
                f"{stage.models[0].name!r} is {first.task.value}. Fix: blend models of one task"
            )
        if out.predictions.chunks[0] != first.predictions.chunks[0] or out.data.split != first.data.split:
            raise DataError(
                f"stage {stage.name!r}, field 'models': {model.name!r} predicts rows chunked "
                f"{_short(out.predictions.chunks[0])} but {stage.models[0].name!r} "
                f"{_short(first.predictions.chunks[0])}. Fix: train every blended model on the same source"
            )
    return first


def _short(chunks: tuple[int, ...]) -> str:
    return f"{len(chunks)} chunks / {sum(chunks)} rows"


@dataclass(eq=False)
class Evaluate(Stage):
    """Score models and blends on one split part (default: the test rows).

    Classification: AUC, accuracy (threshold 0.5) and log-loss; regression: RMSE and R².
    The part's labels and predictions (n_part floats per model) are gathered to the client.
    """

    models: Sequence[Stage]
    _: KW_ONLY
    part: str = Part.TEST.value

    kind: ClassVar[StageKind] = StageKind.EVALUATE
    type_name: ClassVar[str] = "evaluate"

    def validate(self) -> None:
        super().validate()
        _require_models(self, self.models)
        if self.part not in {p.value for p in Part}:
            self._fail("part", f"one of {[p.value for p in Part]!r}", self.part, 'part="test"')

    def run(self, ctx: StageContext, *inputs: Predictions) -> dict[str, dict[str, float]]:
        first = _check_aligned(self, inputs)
        part = Part(self.part)
        plan = first.data.split
        y, *preds = ctx.compute(
            select_rows(first.data.y, plan, part), *(select_rows(p.predictions, plan, part) for p in inputs)
        )
        return {m.name: score(first.task, np.asarray(y), p) for m, p in zip(self.models, preds)}
