"""Model stages: train on the training rows, predict every row chunk by chunk."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

import dask.array as da

from daskcollab._context import StageContext
from daskcollab.data import Dataset, Part, RowSample, sample_rows
from daskcollab.models import (
    Device,
    FittedModel,
    LinearSolver,
    LocalLinear,
    LocalModel,
    LocalXGBoost,
    Task,
    check_labels,
    check_training_fits,
    check_xgboost_params,
    choose_linear_solver,
    train_linear,
)
from daskcollab.workflow._constraints import Choice, Integer, Number, Table, edge, param
from daskcollab.workflow._stage import Stage, StageKind

logger = logging.getLogger("daskcollab")


@dataclass(frozen=True)
class Predictions:
    """A model's (or blend's) predictions for every row of its dataset, persisted on the cluster:
    (n,) for binary classification (positive-class probability) and regression, (n, k) class
    probabilities for k > 2 classes, chunked by rows like the data.

    ``cache`` holds what later stages derive from this model once per run (its out-of-fold
    predictions, shared by every blend of it)."""

    task: Task
    predictions: da.Array
    data: Dataset
    fitted: Any
    details: Mapping[str, Any] = field(default_factory=dict)
    cache: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(eq=False)
class ModelStage(Stage):
    """The common part of the model stages (not a stage type of its own): train on a source's
    training rows, predict every row, and hand on :class:`Predictions`."""

    data: Stage = edge(StageKind.SOURCE, StageKind.PREPROCESS)
    _: KW_ONLY
    task: Task | str = param(Choice(Task), Task.CLASSIFICATION)
    max_train_rows: int | None = param(Integer(min=1, what="a positive integer or None"), None, example=1_000_000)

    kind: ClassVar[StageKind] = StageKind.MODEL
    #: Peak worker memory while training, as a multiple of the worker's share of the training rows.
    memory_factor: ClassVar[float] = 2.5

    def run(self, ctx: StageContext, data: Dataset) -> Predictions:
        task = Task(self.task)
        X_train, y_train = data.part(Part.TRAIN)
        n_classes = check_labels(data, task, self.name)
        fitted = self._fit(ctx, X_train, y_train, task, n_classes)
        (pred,) = ctx.persist(fitted.predict(data.X))
        return Predictions(task, pred, data, fitted, fitted.describe())

    def _fit(self, ctx: StageContext, X: da.Array, y: da.Array, task: Task, n_classes: int = 2) -> FittedModel:
        """Train on ``(X, y)``: sampled down to ``max_train_rows``, checked to fit in worker memory,
        then persisted once for the trainer. ``n_classes > 2``: labels ``0 .. k-1``, the model
        predicts (n, k) class probabilities."""
        n_rows = sum(X.chunks[0])
        if self.max_train_rows is not None and n_rows > self.max_train_rows:
            sample = RowSample(self.max_train_rows / n_rows, seed=0, chunks=X.chunks[0])
            X, y = sample_rows(X, sample), sample_rows(y, sample)
        check_training_fits(ctx.client, X, self.name, peak_factor=self.memory_factor)
        # select (and read, if the source is not in memory) the training rows once, not once per
        # training iteration: dask-ml's lbfgs computes over them at every step
        X, y = ctx.persist(X, y)
        return self._train(ctx, X, y, task, n_classes)

    def _train(self, ctx: StageContext, X: da.Array, y: da.Array, task: Task, n_classes: int) -> FittedModel:
        raise NotImplementedError  # pragma: no cover

    def _local_model(self, task: Task, n_classes: int = 2) -> LocalModel | None:
        """The same estimator for single-process fits (stacking folds), or None if there is none."""
        return None


@dataclass(eq=False)
class XGBoostModel(ModelStage):
    """Gradient-boosted trees trained with ``xgboost.dask`` on a ``DaskQuantileDMatrix``.

    Parameters
    ----------
    data
        A source or preprocessing stage.
    task
        ``"classification"`` (labels 0/1, or ``0 .. k-1``: ``multi:softprob``, (n, k)
        predictions) or ``"regression"``.
    params
        xgboost booster parameters (``max_depth``, ``eta``, ...); an unknown name is an error
        when the workflow is built, with close matches and every valid name.
    rounds
        Boosting rounds.
    device
        ``"cpu"`` or ``"cuda"``; with ``"cuda"`` also request ``resources={"GPU": 1}``.
    max_train_rows
        Train on a seeded random sample of at most this many training rows. xgboost.dask
        loads every worker's share of the training rows into its memory at once; when they
        would not fit, the stage stops before training with a :class:`DataError` that
        suggests a value for this field, instead of letting workers be killed. (Every model
        stage has this field.)

    Examples
    --------
    >>> xgb = XGBoostModel(src, params={"max_depth": 6, "eta": 0.1}, rounds=200)  # doctest: +SKIP
    """

    params: Mapping[str, Any] = param(Table(what="a mapping of xgboost parameter names to values"), {},
                                      example={"max_depth": 6})
    rounds: int = param(Integer(min=1), 100)
    device: str = param(Choice(Device), Device.CPU)

    type_name: ClassVar[str] = "xgboost"

    def validate(self) -> None:
        super().validate()
        for reserved in ("objective", "num_class", "num_boost_round", "n_estimators"):
            if reserved in self.params:
                self._fail(f"params.{reserved}", "not set here (the stage sets it)", self.params[reserved],
                           "use task= for the objective and rounds= for the number of rounds")
        check_xgboost_params(self.params, self.name, task=Task(self.task))

    def _train(self, ctx, X, y, task, n_classes):
        from daskcollab.models import train_xgboost

        return train_xgboost(ctx.client, X, y, task=task, params=self.params, rounds=self.rounds, device=self.device,
                             n_classes=n_classes)

    def _local_model(self, task: Task, n_classes: int = 2) -> LocalModel | None:
        return LocalXGBoost(task, dict(self.params), self.rounds, n_classes) if self.device == Device.CPU else None


@dataclass(eq=False)
class LinearModel(ModelStage):
    """Logistic regression (classification) or L2-regularised least squares (regression) with
    dask-ml's lbfgs objective, fitted where it is fastest.

    **Who fits** (``solver="auto"``): scikit-learn, in **one worker process** (a single Dask task
    receives the persisted training chunks, concatenates them and fits; never on the client),
    when ``LOCAL_FIT_PEAK_FACTOR`` (5) x the training rows' bytes fit in the tightest worker's
    memory headroom (70 % of its memory limit less what it uses); dask-ml
    (``LogisticRegression`` / ``LinearRegression``, ``solver="lbfgs"``) across the cluster
    otherwise. Both minimise the same objective (standardised features, intercept penalised
    too, ``||beta||² / (2C)``; see :mod:`daskcollab.models._linear`), so the switch does not
    change the model beyond solver tolerance. Predictions are chunk-wise either way. ``k > 2``
    classes: ``k`` one-vs-rest logistic regressions, probabilities normalised.

    Parameters
    ----------
    C
        Inverse regularisation strength.
    max_iter
        Maximum lbfgs iterations (dask-ml; scikit-learn iterates to a tight tolerance).
    solver
        ``"auto"``, or force ``"scikit-learn"`` (a :class:`DataError` if the rows do not fit one
        worker) or ``"dask-ml"``.
    """

    C: float = param(Number(min=0, exclusive_min=True), 1.0)
    max_iter: int = param(Integer(min=1), 100)
    solver: LinearSolver | str = param(Choice(LinearSolver), LinearSolver.AUTO)

    type_name: ClassVar[str] = "linear"
    #: dask-glm persists the training rows and its per-iteration intermediates.
    memory_factor: ClassVar[float] = 2.0

    def _train(self, ctx, X, y, task, n_classes):
        solver = choose_linear_solver(ctx.client, X, self.solver, self.name)
        logger.info("%s: fitting with %s on %d rows", self.name,
                    "scikit-learn in one worker" if solver is LinearSolver.SCIKIT_LEARN else "dask-ml", sum(X.chunks[0]))
        return train_linear(X, y, task=task, C=float(self.C), max_iter=self.max_iter, n_classes=n_classes,
                            solver=solver, compute=ctx.compute)

    def _local_model(self, task: Task, n_classes: int = 2) -> LocalModel | None:
        return LocalLinear(task, float(self.C), self.max_iter, n_classes)
