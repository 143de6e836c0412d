"""Stages that combine model predictions: blending and evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from enum import Enum
from typing import ClassVar

import dask
import dask.array as da
import numpy as np

from daskcollab._errors import DataError, WorkflowError, stage_message
from daskcollab.data._dataset import describe_chunks, select_fold, select_rows
from daskcollab.data._split import Part, RowFolds
from daskcollab.ensemble import Stacking, Voting, WeightedAverage, blend_blocks, stack_predictions
from daskcollab.evaluation._metrics import score
from daskcollab.models._fitted import Task
from daskcollab.models._local import fit_predict_local
from daskcollab.models._memory import worker_headroom
from daskcollab.runtime._context import StageContext
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
        regression) fitted on **out-of-fold** predictions: the rows of every training chunk are
        dealt evenly to ``folds`` folds (seeded), every base model is refitted once per fold
        without that fold and predicts it; the meta-learner learns from those predictions.
        When a model's training rows take at most ``local_fold_fraction`` of the tightest
        worker's memory headroom, its fold refits run side by side, one task per fold training the
        same estimator in-process (see ``daskcollab.models._local``); otherwise one
        distributed fit after another. Final predictions
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
    local_fold_fraction: float = 0.1

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
        if not isinstance(self.local_fold_fraction, (int, float)) or not 0 <= self.local_fold_fraction <= 1:
            self._fail("local_fold_fraction", "a fraction in [0, 1]", self.local_fold_fraction, "local_fold_fraction=0.1")

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

    Every training chunk's rows are dealt evenly to ``stage.folds`` folds (:class:`RowFolds`,
    seeded); each base model stage is refitted once per fold, with its own trainer, on the rows
    of the other folds, and predicts the fold's rows. Dealing rows within chunks (rather than
    whole chunks) keeps every fold representative when the store is in time order.
    """
    plan = inputs[0].data.split
    y_train = select_rows(inputs[0].data.y, plan, Part.TRAIN)
    folds = RowFolds(stage.folds, seed=0, chunks=y_train.chunks[0])
    worker_memory = min(worker_headroom(ctx.client), default=float("inf"))
    columns = []
    for model, out in zip(stage.models, inputs):
        X_train = select_rows(out.data.X, plan, Part.TRAIN)
        local = model._local_model(out.task)
        side_by_side = local is not None and X_train.nbytes <= stage.local_fold_fraction * worker_memory
        how = "side by side, one task per fold" if side_by_side else "one distributed fit after another"
        ctx.log("refitting %r on %d folds (%s)", model.name, folds.k, how)
        held_out = []
        for k in range(folds.k):
            X_fit, y_fit = select_fold(X_train, folds, k, held_out=False), select_fold(y_train, folds, k, held_out=False)
            X_new = select_fold(X_train, folds, k, held_out=True)
            if side_by_side:
                held_out.append(dask.delayed(fit_predict_local, pure=True)(local, X_fit, y_fit, X_new))
            else:
                held_out.append(model._fit(ctx, X_fit, y_fit, out.task).predict(X_new))
        if side_by_side:
            # run the K fits now, side by side; merge from their results (never refit per chunk)
            columns.append(_merge_fold_vectors(folds, ctx.client.compute(held_out)))
        else:
            columns.append(_merge_folds(folds, held_out))
    (oof,) = ctx.persist(stack_predictions(columns))
    return oof


def _merge_fold_vectors(folds: RowFolds, vectors: Sequence) -> da.Array:
    """Like :func:`_merge_folds`, from one vector per fold (its held-out rows, chunk after chunk)."""
    offsets = [np.concatenate([[0], np.cumsum(folds.counts(k, True))]) for k in range(folds.k)]
    pieces = [
        da.from_delayed(
            dask.delayed(_merge_chunk_from_vectors)(folds, i, offsets, *vectors),
            shape=(n,), dtype=np.float32, meta=np.empty((0,), np.float32),
        )
        for i, n in enumerate(folds.chunks)
    ]
    return da.concatenate(pieces)


def _merge_chunk_from_vectors(folds: RowFolds, chunk_index: int, offsets, *vectors: np.ndarray) -> np.ndarray:
    i = chunk_index
    return _merge_chunk(folds, i, *(v[o[i]:o[i + 1]] for v, o in zip(vectors, offsets)))



def _merge_folds(folds: RowFolds, held_out: Sequence[da.Array]) -> da.Array:
    """Put each fold's predictions back in row order, chunk by chunk (one task per chunk)."""
    pieces = [
        da.from_delayed(
            dask.delayed(_merge_chunk)(folds, i, *(pred.blocks[i] for pred in held_out)),
            shape=(n,), dtype=held_out[0].dtype, meta=np.empty((0,), held_out[0].dtype),
        )
        for i, n in enumerate(folds.chunks)
    ]
    return da.concatenate(pieces)


def _merge_chunk(folds: RowFolds, chunk_index: int, *fold_predictions: np.ndarray) -> np.ndarray:
    codes = folds.codes(chunk_index)
    out = np.empty(len(codes), dtype=fold_predictions[0].dtype)
    for k, pred in enumerate(fold_predictions):
        out[codes == k] = pred
    return out


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
