"""Stages that combine model predictions: blending and evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from enum import Enum
from typing import ClassVar

import dask.array as da
import numpy as np

from daskcollab._errors import DataError, WorkflowError, stage_message
from daskcollab.data._dataset import describe_chunks, select_rows
from daskcollab.data._split import Part
from daskcollab.ensemble import Stacking, Voting, WeightedAverage, blend_blocks, chunk_folds, stack_predictions
from daskcollab.evaluation._metrics import score
from daskcollab.models._fitted import Task
from daskcollab.workflow._context import StageContext
from daskcollab.workflow._data_stages import _require_models
from daskcollab.workflow._model_stages import Predictions
from daskcollab.workflow._stage import Stage, StageKind


class BlendMethod(str, Enum):
    """How a :class:`Blend` stage combines its models' predictions."""

    WEIGHTED_AVERAGE = "weighted_average"
    SOFT_VOTING = "soft_voting"
    HARD_VOTING = "hard_voting"
    STACKING = "stacking"


@dataclass(eq=False)
class Blend(Stage):
    """Blend the predictions of several model stages into one.

    Methods
    -------
    ``weighted_average``
        Non-negative weights summing to one, fitted on the validation rows by minimising
        log-loss (classification) or squared error (regression).
    ``soft_voting`` / ``hard_voting``
        Equal-weight average of probabilities / majority vote (classification only).
    ``stacking``
        A meta-learner (logistic regression on logits; non-negative least squares for
        regression) fitted on **out-of-fold** predictions: the training rows' chunks are dealt
        to ``folds`` folds, every base model is refitted once per fold without that fold and
        predicts it; the meta-learner learns from those predictions. Final predictions
        combine the base models trained on all training rows (this stage's inputs).

    Every method blends each row chunk in place (one task per chunk).

    Examples
    --------
    >>> blend = Blend([xgb, logreg], method="stacking", folds=5)  # doctest: +SKIP
    """

    models: Sequence[Stage]
    _: KW_ONLY
    method: BlendMethod | str = BlendMethod.WEIGHTED_AVERAGE
    folds: int = 5

    kind: ClassVar[StageKind] = StageKind.ENSEMBLE
    type_name: ClassVar[str] = "blend"

    def validate(self) -> None:
        super().validate()
        _require_models(self, self.models)
        if len(self.models) < 2:
            self._fail("models", "at least two model stages", [m.name for m in self.models], "models=[xgb, logreg]")
        if self.method not in {m.value for m in BlendMethod}:
            self._fail("method", f"one of {[m.value for m in BlendMethod]!r}", self.method, 'method="weighted_average"')
        if BlendMethod(self.method) is BlendMethod.STACKING and any(m.kind is not StageKind.MODEL for m in self.models):
            self._fail("models", "model stages only (stacking refits each base model per fold)",
                       [m.name for m in self.models], "blend the stacked result in a second Blend stage")
        if not isinstance(self.folds, int) or isinstance(self.folds, bool) or self.folds < 2:
            self._fail("folds", "an integer >= 2", self.folds, "folds=5")

    def run(self, ctx: StageContext, *inputs: Predictions) -> Predictions:
        first = _check_aligned(self, inputs)
        method = BlendMethod(self.method)
        if method in (BlendMethod.SOFT_VOTING, BlendMethod.HARD_VOTING) and first.task is not Task.CLASSIFICATION:
            raise WorkflowError(stage_message(self.name, "method", f"{method.value} needs classification models, "
                                              "got regression", 'use method="weighted_average" or "stacking"'))
        P = stack_predictions([p.predictions for p in inputs])
        plan = first.data.split
        if method is BlendMethod.STACKING:
            fit_X, fit_y = out_of_fold_predictions(self, ctx, inputs), select_rows(first.data.y, plan, Part.TRAIN)
        else:
            fit_X, fit_y = select_rows(P, plan, Part.VALIDATION), select_rows(first.data.y, plan, Part.VALIDATION)
        blender = _blender(method, first.task).fit(fit_X, fit_y)
        (blended,) = ctx.persist(blend_blocks(P, blender).astype(np.float32))
        return Predictions(first.task, blended, first.data, blender, _blend_details(self, blender))


def _blender(method: BlendMethod, task: Task):
    if method is BlendMethod.WEIGHTED_AVERAGE:
        return WeightedAverage(task=task.value)
    if method is BlendMethod.STACKING:
        return Stacking(task=task.value)
    return Voting(voting="soft" if method is BlendMethod.SOFT_VOTING else "hard")


def _blend_details(stage: Blend, blender) -> dict[str, object]:
    names = [m.name for m in stage.models]
    if hasattr(blender, "weights_"):
        return {"method": BlendMethod(stage.method).value, "weights": dict(zip(names, map(float, blender.weights_)))}
    meta = blender.final_estimator_
    coef = np.ravel(getattr(meta, "coef_", np.full(len(names), np.nan)))
    return {"method": "stacking", "folds": stage.folds, "weights": dict(zip(names, map(float, coef))),
            "meta_learner": type(meta).__name__}


def out_of_fold_predictions(stage: Blend, ctx: StageContext, inputs: Sequence[Predictions]) -> da.Array:
    """(n_train, n_models) predictions of the training rows, each by models that did not see it.

    The training rows' chunks are dealt to ``stage.folds`` folds (:func:`chunk_folds`); each base
    model stage is refitted once per fold on the other folds with its own trainer.
    """
    plan = inputs[0].data.split
    y_train = select_rows(inputs[0].data.y, plan, Part.TRAIN)
    folds = chunk_folds(y_train.chunks[0], min(stage.folds, len(y_train.chunks[0])))
    columns = []
    for model, out in zip(stage.models, inputs):
        X_train = select_rows(out.data.X, plan, Part.TRAIN)
        pieces: dict[int, da.Array] = {}
        for k, (train_idx, test_idx) in enumerate(folds):
            if ctx.show_progress:
                print(f"  {stage.name}: refitting {model.name!r} for fold {k + 1}/{len(folds)}", flush=True)
            fitted = model._fit(ctx, _blocks(X_train, train_idx), _blocks(y_train, train_idx), out.task)
            fold_pred = fitted.predict(_blocks(X_train, test_idx))
            for j, chunk in enumerate(test_idx):
                pieces[int(chunk)] = fold_pred.blocks[j]
        columns.append(da.concatenate([pieces[i] for i in range(len(y_train.chunks[0]))]))
    (oof,) = ctx.persist(stack_predictions(columns))
    return oof


def _blocks(arr: da.Array, idx) -> da.Array:
    return da.concatenate([arr.blocks[int(i)] for i in idx], axis=0)


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
                f"{describe_chunks(out.predictions.chunks[0])} but {stage.models[0].name!r} "
                f"{describe_chunks(first.predictions.chunks[0])}. Fix: train every blended model on the same source"
            )
    return first



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
