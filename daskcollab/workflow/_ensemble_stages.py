"""Stages that combine model predictions: blending and evaluation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from enum import Enum
from typing import ClassVar

import dask
import dask.array as da
import numpy as np

from daskcollab._context import StageContext
from daskcollab._errors import DataError, WorkflowError, stage_message
from daskcollab.data import Part, RowSample, describe_chunks, sample_rows, select_rows
from daskcollab.ensemble import (
    EnsembleSelection,
    FoldRefit,
    Stacking,
    Voting,
    WeightedAverage,
    blend_blocks,
    out_of_fold_predictions,
    stack_predictions,
)
from daskcollab.evaluation import score
from daskcollab.models import Task, fits_in_one_worker, worker_headroom
from daskcollab.workflow._constraints import Choice, Integer, Number, edge, param
from daskcollab.workflow._model_stages import Predictions
from daskcollab.workflow._stage import Stage, StageKind

logger = logging.getLogger("daskcollab")


class BlendMethod(str, Enum):
    """How a :class:`Blend` stage combines its models' predictions."""

    WEIGHTED_AVERAGE = "weighted_average"
    SOFT_VOTING = "soft_voting"
    HARD_VOTING = "hard_voting"
    STACKING = "stacking"
    ENSEMBLE_SELECTION = "ensemble_selection"


class FitRows(str, Enum):
    """Which predictions a blender is fitted on."""

    OUT_OF_FOLD = "out_of_fold"
    VALIDATION = "validation"


#: Peak memory of a blender fit in one worker, as a multiple of its input's bytes (logits,
#: cross-validation copies).
BLEND_FIT_PEAK_FACTOR = 10.0


@dataclass(eq=False)
class Blend(Stage):
    """Blend the predictions of several model stages into one.

    Methods
    -------
    ``weighted_average``
        Non-negative weights summing to one, minimising log-loss (classification) or squared
        error (regression).
    ``soft_voting`` / ``hard_voting``
        Equal-weight average of probabilities / majority vote (classification only).
    ``stacking``
        A meta-learner: logistic regression on the logits, ``C`` chosen by cross-validated
        log-loss; ridge regression (penalty by leave-one-out) for regression. If its cross-validated loss is
        worse than the best member's, the blend is that member (see :class:`Stacking`).
    ``ensemble_selection``
        Caruana's greedy selection with replacement from a sorted initialisation,
        ``ensemble_size`` members (optionally ``bags`` bagged runs), as in AutoGluon
        (see :class:`EnsembleSelection`).

    Fitting rows (``fit_rows``)
    ---------------------------
    ``"out_of_fold"``: the rows of every training chunk are dealt evenly to ``folds`` folds
    (seeded); every base model is refitted once per fold without that fold and predicts it.
    When a model's training rows take at most ``local_fold_fraction`` of the tightest worker's
    memory headroom, its fold refits run side by side, one task per fold training the same
    estimator in-process; otherwise its own trainer runs once per fold (see
    :func:`daskcollab.ensemble.out_of_fold_predictions`). Blends of the same models in one run
    share these predictions.
    ``"validation"``: the models' predictions of the validation rows. Default: out-of-fold
    for ``stacking`` and ``ensemble_selection`` (validation when a member is not a model
    stage), validation for the others.

    The blender is fitted in one worker task (its input gathered there, not on the client);
    if that input would not fit the tightest worker's headroom (``BLEND_FIT_PEAK_FACTOR`` x its
    bytes), on a seeded sample of the rows that does. Final predictions combine the models
    trained on all training rows (this stage's inputs), each row chunk in place (one task per
    chunk): (n,) for binary and regression, (n, k) class probabilities for k > 2 classes.

    Examples
    --------
    >>> blend = Blend([xgb, logreg], method="ensemble_selection", folds=5)  # doctest: +SKIP
    """

    models: Sequence[Stage] = edge(StageKind.MODEL, StageKind.ENSEMBLE, min_items=2, example="xgb, logreg")
    _: KW_ONLY
    method: BlendMethod | str = param(Choice(BlendMethod), BlendMethod.WEIGHTED_AVERAGE)
    folds: int = param(Integer(min=2), 5)
    local_fold_fraction: float = param(Number(min=0, max=1, what="a fraction in [0, 1]"), 0.1)
    fit_rows: FitRows | str | None = param(Choice(FitRows), None, example=FitRows.OUT_OF_FOLD)
    ensemble_size: int = param(Integer(min=1), 25)
    bags: int = param(Integer(min=0, what="an integer >= 0 (0: no bagging)"), 0, example=20)

    kind: ClassVar[StageKind] = StageKind.ENSEMBLE
    type_name: ClassVar[str] = "blend"

    def validate(self) -> None:
        super().validate()
        refittable = all(m.kind is StageKind.MODEL and hasattr(m, "_fit") for m in self.models)
        if self.fit_rows is not None and FitRows(self.fit_rows) is FitRows.OUT_OF_FOLD and not refittable:
            self._fail("models", "model stages only (out-of-fold fitting refits each base model per fold)",
                       [m.name for m in self.models], 'fit_rows="validation", or blend the blend in a second stage')
        if (BlendMethod(self.method) is BlendMethod.STACKING and self.fit_rows is None and not refittable):
            self._fail("models", "model stages only (stacking refits each base model per fold)",
                       [m.name for m in self.models], 'fit_rows="validation", or blend the blend in a second stage')

    def resolved_fit_rows(self) -> FitRows:
        """The rows the blender is fitted on (``fit_rows``, or the method's default)."""
        if self.fit_rows is not None:
            return FitRows(self.fit_rows)
        refittable = all(m.kind is StageKind.MODEL and hasattr(m, "_fit") for m in self.models)
        method = BlendMethod(self.method)
        if method in (BlendMethod.STACKING, BlendMethod.ENSEMBLE_SELECTION) and refittable:
            return FitRows.OUT_OF_FOLD
        return FitRows.VALIDATION

    def run(self, ctx: StageContext, *inputs: Predictions) -> Predictions:
        first = _check_aligned(self, inputs)
        method = BlendMethod(self.method)
        if method in (BlendMethod.SOFT_VOTING, BlendMethod.HARD_VOTING) and first.task is not Task.CLASSIFICATION:
            raise WorkflowError(stage_message(self.name, "method", f"{method.value} needs classification models, "
                                              "got regression", 'use method="weighted_average" or "stacking"'))
        P = stack_predictions([p.predictions for p in inputs])
        plan = first.data.split
        rows = self.resolved_fit_rows()
        if rows is FitRows.OUT_OF_FOLD:
            refits = [FoldRefit(m.name, m._fit, m._local_model) for m in self.models]
            oof = out_of_fold_predictions(ctx, refits, inputs, folds=self.folds,
                                          local_fold_fraction=self.local_fold_fraction, stage=self.name)
            fit_X, fit_y = oof, select_rows(first.data.y, plan, Part.TRAIN)
        else:
            if plan.size(Part.VALIDATION) == 0:
                raise DataError(stage_message(self.name, "fit_rows", "the source has no validation rows to fit the "
                                              "blender on", 'fit_rows="out_of_fold", or a split with validation rows'))
            fit_X, fit_y = select_rows(P, plan, Part.VALIDATION), select_rows(first.data.y, plan, Part.VALIDATION)
        blender = fit_blender(ctx, self._blender(first.task), fit_X, fit_y, self.name)
        (blended,) = ctx.persist(blend_blocks(P, blender).astype(np.float32))
        return Predictions(first.task, blended, first.data, blender, _blend_details(self, blender, rows))

    def _blender(self, task: Task):
        method = BlendMethod(self.method)
        if method is BlendMethod.WEIGHTED_AVERAGE:
            return WeightedAverage(task=task.value)
        if method is BlendMethod.STACKING:
            return Stacking(task=task.value)
        if method is BlendMethod.ENSEMBLE_SELECTION:
            return EnsembleSelection(task=task.value, ensemble_size=self.ensemble_size, n_bags=self.bags)
        return Voting(voting="soft" if method is BlendMethod.SOFT_VOTING else "hard")


def fit_blender(ctx: StageContext, blender, X: da.Array, y: da.Array, stage: str):
    """Fit ``blender`` in one worker task on ``(X, y)`` (gathered there, not on the client).

    When ``BLEND_FIT_PEAK_FACTOR`` x their bytes exceed the tightest worker's headroom, a seeded
    sample of the rows that fits is used instead (logged).
    """
    nbytes = X.nbytes + y.nbytes
    if not fits_in_one_worker(ctx.client, nbytes, peak_factor=BLEND_FIT_PEAK_FACTOR):
        free = min(worker_headroom(ctx.client), default=0.0)
        fraction = max(min(0.9 * free / (BLEND_FIT_PEAK_FACTOR * nbytes), 1.0), 1e-6)
        sample = RowSample(fraction, seed=0, chunks=X.chunks[0])
        X, y = sample_rows(X, sample), sample_rows(y, sample)
        logger.info("%s: fitting the blender on a %.1f %% sample of its %d rows (the rest would not fit one worker)",
                    stage, 100 * fraction, sum(sample.chunks))
    (fitted,) = ctx.compute(dask.delayed(_fit, pure=True)(blender, X, y))
    return fitted


def _fit(blender, X: np.ndarray, y: np.ndarray):
    return blender.fit(X, y)


def _blend_details(stage: Blend, blender, rows: FitRows) -> dict[str, object]:
    names = [m.name for m in stage.models]
    method = BlendMethod(stage.method)
    details: dict[str, object] = {"method": method.value, "models": names, "fit_rows": rows.value}
    if rows is FitRows.OUT_OF_FOLD:
        details["folds"] = stage.folds
    if method is BlendMethod.ENSEMBLE_SELECTION:
        details.update(ensemble_size=stage.ensemble_size, bags=stage.bags)
    if hasattr(blender, "weights_"):
        return {**details, "weights": dict(zip(names, map(float, blender.weights_)))}
    if blender.fallback_ is not None:
        weights = np.eye(len(names))[blender.fallback_]
        return {**details, "weights": dict(zip(names, map(float, weights))), "meta_learner": None,
                "fallback": names[blender.fallback_]}
    meta = blender.final_estimator_
    coef = np.atleast_2d(getattr(meta, "coef_", np.full(len(names), np.nan)))
    # one coefficient per model's logit (binary, regression); with k classes, each model's k
    # columns: the mean absolute coefficient over them and the classes
    per_model = coef[0] if coef.shape == (1, len(names)) else np.abs(coef).reshape(
        coef.shape[0], len(names), -1).mean(axis=(0, 2))
    return {**details, "weights": dict(zip(names, map(float, per_model))), "meta_learner": type(meta).__name__,
            "C": blender.C_}


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

    models: Sequence[Stage] = edge(StageKind.MODEL, StageKind.ENSEMBLE, example="xgb, blend")
    _: KW_ONLY
    part: str = param(Choice(Part), Part.TEST)

    kind: ClassVar[StageKind] = StageKind.EVALUATE
    type_name: ClassVar[str] = "evaluate"

    def run(self, ctx: StageContext, *inputs: Predictions) -> dict[str, dict[str, float]]:
        first = _check_aligned(self, inputs)
        part = Part(self.part)
        plan = first.data.split
        y, *preds = ctx.compute(
            select_rows(first.data.y, plan, part), *(select_rows(p.predictions, plan, part) for p in inputs)
        )
        return {m.name: score(first.task, np.asarray(y), p) for m, p in zip(self.models, preds)}
