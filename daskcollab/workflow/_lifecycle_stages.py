"""Stages that keep models beyond one run: save them, load them, update them on new data."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, replace
from typing import ClassVar

import numpy as np

from daskcollab._context import StageContext
from daskcollab._errors import DataError, WorkflowError, stage_message
from daskcollab.data import Dataset, OutputKind, Part, select_rows
from daskcollab.evaluation import score
from daskcollab.models import (
    InputSpec,
    Pipeline,
    SearchResult,
    SklearnFitted,
    Task,
    XGBoostFitted,
    load_pipeline,
    read_model_meta,
    save_pipeline,
    update_incremental,
    update_xgboost,
)
from daskcollab.workflow._constraints import Integer, Path, edge, param
from daskcollab.workflow._model_stages import Predictions
from daskcollab.workflow._paths import Access, PathUse
from daskcollab.workflow._stage import Stage, StageKind

_DATA = (StageKind.SOURCE, StageKind.PREPROCESS)


@dataclass(eq=False)
class ModelSink(Stage):
    """Save model stages' fitted models, one folder each (``<path>/<stage name>``), in safe formats
    (xgboost UBJ, linear coefficients as JSON, scikit-learn estimators as skops). An existing
    folder is replaced only if it is a saved model.

    Each folder is a whole prediction pipeline: the preprocessing the model was trained behind
    (``Standardize`` statistics) and the raw inputs it expects (feature names, count, stored
    dtype), so ``SavedModel`` (or :func:`daskcollab.load_pipeline`) predicts on raw features."""

    models: Sequence[Stage] = edge(StageKind.MODEL, example="xgb, logreg")
    _: KW_ONLY
    path: str | os.PathLike = param(Path(), "models", yaml_required=True)

    kind: ClassVar[StageKind] = StageKind.SINK
    type_name: ClassVar[str] = "model_sink"

    def paths(self) -> tuple[PathUse, ...]:
        return tuple(PathUse("path", os.path.join(os.fspath(self.path), m.name), Access.WRITE, OutputKind.MODEL,
                             "model folder") for m in self.models)

    def run(self, ctx: StageContext, *outputs: Predictions) -> str:
        for stage, out in zip(self.models, outputs):
            data = out.data
            pipeline = Pipeline(out.fitted, data.steps, InputSpec(tuple(data.feature_names), data.source_dtype))
            save_pipeline(pipeline, os.path.join(os.fspath(self.path), stage.name))
        return os.fspath(self.path)


@dataclass(eq=False)
class SavedModel(Stage):
    """A model saved earlier (by ``ModelSink``), predicting every row of ``data``.

    ``data`` is the raw source: the saved preprocessing is applied first. Data whose features
    differ from the ones the model was trained on (count, names or order, stored dtype) is refused
    with a :class:`DataError` naming the difference."""

    data: Stage = edge(*_DATA)
    _: KW_ONLY
    path: str | os.PathLike = param(Path(what="the folder of a saved model"), example="models/xgb")

    kind: ClassVar[StageKind] = StageKind.MODEL
    type_name: ClassVar[str] = "saved_model"

    def paths(self) -> tuple[PathUse, ...]:
        return (PathUse("path", os.fspath(self.path), Access.READ, what="saved model"),)

    def run(self, ctx: StageContext, data: Dataset) -> Predictions:
        if read_model_meta(pathlib.Path(self.path))["kind"] == "preprocess":
            raise DataError(stage_message(self.name, "path", f"{os.fspath(self.path)!r} holds fitted preprocessing, "
                                                             "not a model", "point at a folder a model_sink wrote"))
        pipeline = load_pipeline(self.path, ctx.client)
        if data.steps:
            raise DataError(stage_message(self.name, "data", f"{self.data.name!r} is preprocessed already, and the "
                                                             "saved pipeline applies its own preprocessing",
                                          "pass the source stage itself"))
        pipeline.check_inputs(data.feature_names, data.source_dtype,
                              where=f"stage {self.name!r}, field 'data'")
        (pred,) = ctx.persist(pipeline.predict(data.X))
        # the rows as the model saw them: saving this stage's model again keeps the whole path
        seen = replace(data, steps=pipeline.steps)
        return Predictions(pipeline.task, pred, seen, pipeline.model,
                           {"loaded_from": os.fspath(self.path), **pipeline.describe()})


@dataclass(eq=False)
class UpdateModel(Stage):
    """Continue training a model on new rows and report its test metrics before and after.

    ``model`` is an xgboost, incremental or saved model stage; ``data`` the new rows (a source
    or preprocessing stage with its own split). xgboost adds ``rounds`` boosting rounds
    (``xgb_model=`` continuation); incremental estimators run ``passes`` more ``partial_fit``
    passes. The updated model predicts every row of ``data``.
    """

    model: Stage = edge(StageKind.MODEL)
    data: Stage = edge(*_DATA)
    _: KW_ONLY
    rounds: int = param(Integer(min=1), 50)
    passes: int = param(Integer(min=1), 1)

    kind: ClassVar[StageKind] = StageKind.MODEL
    type_name: ClassVar[str] = "update"

    def run(self, ctx: StageContext, previous: Predictions, data: Dataset) -> Predictions:
        fitted = previous.fitted
        if isinstance(fitted, SearchResult):
            fitted = fitted.model  # the search's best estimator
        X_train, y_train = data.part(Part.TRAIN)
        if isinstance(fitted, XGBoostFitted):
            updated = update_xgboost(ctx.client, fitted, X_train, y_train, rounds=self.rounds)
        elif isinstance(fitted, SklearnFitted) and hasattr(fitted.estimator, "partial_fit"):
            updated = update_incremental(fitted, X_train, y_train, passes=self.passes, client=ctx.client,
                                         stage=self.name)
        else:
            raise WorkflowError(stage_message(
                self.name, "model", f"{self.model.name!r} holds a {type(fitted).__name__}, which cannot continue "
                                    "training", "update an xgboost or incremental model",
            ))
        before, after = (fitted.predict(data.X), updated.predict(data.X))
        (after,) = ctx.persist(after)
        y_test, p_before, p_after = ctx.compute(*(select_rows(a, data.split, Part.TEST) for a in (data.y, before, after)))
        details = {
            "before": score(fitted.task, np.asarray(y_test), p_before),
            "after": score(fitted.task, np.asarray(y_test), p_after),
            **updated.describe(),
        }
        return Predictions(Task(fitted.task), after, data, updated, details)
