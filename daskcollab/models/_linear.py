"""Linear models with dask-ml's lbfgs objective: fitted by scikit-learn in one worker process when
the training rows fit there, by dask-ml otherwise; predicted chunk-wise either way.

The objective (dask-ml ``LogisticRegression`` / ``LinearRegression`` with ``solver="lbfgs"``,
which hands it to dask-glm): the features are standardised (mean, population standard deviation
of the training rows), a column of ones is appended, and ``beta`` (intercept included) minimises

- classification: ``sum(log(1 + exp(x·beta)) - y x·beta) + ||beta||² / (2C)``;
- regression: ``sum((y - x·beta)²) + ||beta||² / (2C)``;

then ``beta`` is mapped back to the raw features. :func:`fit_linear_arrays` solves the same
problem in one process with scikit-learn (``LogisticRegression(fit_intercept=False)`` on the
standardised features plus the ones column, whose penalty ``||w||²/2 + C·sum(loss)`` has the same
minimiser; ``Ridge(alpha=1/(2C))`` in closed form for regression). dask-ml's logistic
regression is binary only, so ``k > 2`` classes are ``k`` one-vs-rest problems on both sides
(probabilities normalised to sum to one).

Which side fits (:func:`choose_linear_solver`): scikit-learn in **one worker task** (it receives
the persisted training chunks, concatenates them and fits; never on the client) when
``LOCAL_FIT_PEAK_FACTOR`` x the training rows' bytes fit in the tightest worker's memory headroom
(:func:`~daskcollab.models._memory.fits_in_one_worker`), dask-ml across the cluster otherwise.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import dask
import dask.array as da
import numpy as np
from distributed import Client

from daskcollab._errors import DataError, stage_message
from daskcollab.models._fitted import Task
from daskcollab.models._memory import LOCAL_FIT_PEAK_FACTOR, worker_headroom

logger = logging.getLogger("daskcollab")


class LinearSolver(str, Enum):
    """Who fits a linear model: chosen by memory (``auto``), or forced."""

    AUTO = "auto"
    SCIKIT_LEARN = "scikit-learn"
    DASK_ML = "dask-ml"


@dataclass
class LinearFitted:
    """Coefficients of a fitted linear model; prediction is a tiny per-chunk dot product.

    ``coef`` is (f,) with a scalar ``intercept`` (binary classification, regression), or (k, f)
    with ``intercept`` (k,) for ``k > 2`` one-vs-rest classes.
    """

    task: Task
    coef: np.ndarray
    intercept: float | np.ndarray
    estimator: object = None
    solver: str = LinearSolver.DASK_ML.value

    @property
    def n_classes(self) -> int:
        return int(self.coef.shape[0]) if np.ndim(self.coef) == 2 else 2

    def predict(self, X: da.Array) -> da.Array:
        logistic = self.task is Task.CLASSIFICATION
        if np.ndim(self.coef) == 2:
            k = self.coef.shape[0]
            return X.map_blocks(linear_scores, self.coef, np.asarray(self.intercept), logistic,
                                chunks=(X.chunks[0], (k,)), dtype=np.float32, meta=np.empty((0, 0), np.float32))
        return X.map_blocks(linear_scores, self.coef, self.intercept, logistic,
                            drop_axis=1, dtype=np.float32, meta=np.empty((0,), dtype=np.float32))

    def describe(self) -> dict[str, object]:
        return {"solver": self.solver, "coef": np.round(self.coef, 4).tolist(),
                "intercept": np.round(self.intercept, 4).tolist()}


def linear_scores(block: np.ndarray, coef: np.ndarray, intercept, logistic: bool) -> np.ndarray:
    z = block.astype(np.float64, copy=False) @ coef.T + intercept
    if logistic:
        z = 1.0 / (1.0 + np.exp(-z))
        if z.ndim == 2:  # one-vs-rest: normalise the k sigmoids
            z = z / np.maximum(z.sum(axis=1, keepdims=True), 1e-300)
    return z.astype(np.float32)


# ---- the objective in one process (pure) ---------------------------------------------------
def fit_linear_arrays(X: np.ndarray, y: np.ndarray, *, task: Task, C: float, max_iter: int = 100,
                      n_classes: int = 2) -> tuple[np.ndarray, float | np.ndarray]:
    """Minimise dask-ml's lbfgs objective (see the module docstring) with scikit-learn.

    Returns ``(coef, intercept)`` on the raw features: (f,) and a float, or (k, f) and (k,)
    for ``n_classes > 2`` (one-vs-rest, labels ``0 .. k-1``).

    Examples
    --------
    >>> rng = np.random.default_rng(0); X = rng.normal(size=(200, 2))
    >>> coef, b = fit_linear_arrays(X, X @ [2.0, -1.0] + 3.0, task=Task.REGRESSION, C=1e6)
    >>> coef.round(3).tolist(), round(b, 3)
    ([2.0, -1.0], 3.0)
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    mean, std = X.mean(axis=0), X.std(axis=0)
    constant = std == 0
    mean, std = np.where(constant, 0.0, mean), np.where(constant, 1.0, std)
    Z = np.empty((X.shape[0], X.shape[1] + 1))
    np.subtract(X, mean, out=Z[:, :-1])
    Z[:, :-1] /= std
    Z[:, -1] = 1.0
    del X
    if task is Task.REGRESSION:
        betas = [_ridge(Z, y, C)]
    elif n_classes > 2:
        betas = [_logistic(Z, (y == c).astype(np.float64), C, max_iter) for c in range(n_classes)]
    else:
        betas = [_logistic(Z, y, C, max_iter)]
    B = np.vstack(betas)  # (k or 1, f + 1) on standardised features
    coef = B[:, :-1] / std
    intercept = B[:, -1] - coef @ mean
    if len(betas) == 1:
        return coef[0], float(intercept[0])
    return coef, intercept


def _logistic(Z: np.ndarray, y: np.ndarray, C: float, max_iter: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():  # one class only (a one-vs-rest class absent from these rows)
        beta = np.zeros(Z.shape[1])
        beta[-1] = -30.0 if y[0] == 0 else 30.0
        return beta
    # scikit-learn scales the loss by 1/n, so its gradient tolerance is looser than dask-glm's
    # (pgtol on the summed loss); a small tol and enough iterations reach the same minimiser
    model = LogisticRegression(C=C, fit_intercept=False, tol=1e-6, max_iter=max(max_iter, 1000))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)  # ConvergenceWarning at max_iter
        model.fit(Z, y)
    return model.coef_.ravel()


def _ridge(Z: np.ndarray, y: np.ndarray, C: float) -> np.ndarray:
    # ||y - Zb||² + ||b||² / (2C): normal equations (Z'Z + I/(2C)) b = Z'y, intercept penalised too
    gram = Z.T @ Z
    gram[np.diag_indices_from(gram)] += 1.0 / (2.0 * C)
    return np.linalg.solve(gram, Z.T @ y)


# ---- who fits ------------------------------------------------------------------------------
def linear_solver_for(nbytes: float, headroom: list[float], requested: LinearSolver | str = LinearSolver.AUTO,
                      stage: str = "linear", rows: int | None = None) -> LinearSolver:
    """The switch rule (pure): ``scikit-learn`` when ``LOCAL_FIT_PEAK_FACTOR * nbytes`` fits in the
    tightest of the workers' ``headroom`` (bytes each), else ``dask-ml``; ``requested`` forces one.

    Raises
    ------
    DataError
        ``scikit-learn`` forced but the rows do not fit one worker.

    Examples
    --------
    >>> linear_solver_for(100e6, [4e9, 3e9]).value
    'scikit-learn'
    >>> linear_solver_for(1e9, [4e9, 3e9]).value
    'dask-ml'
    """
    requested = LinearSolver(requested)
    fits = bool(headroom) and LOCAL_FIT_PEAK_FACTOR * nbytes <= min(headroom)
    if requested is LinearSolver.SCIKIT_LEARN and not fits:
        what = f"the {rows:,} training rows" if rows is not None else "the training rows"
        raise DataError(stage_message(
            stage, "solver", f"{what} ({nbytes / 2**30:.2f} GiB) do not fit in one worker's memory headroom for a "
                             f"scikit-learn fit (about {LOCAL_FIT_PEAK_FACTOR:g}x their size is needed, the tightest "
                             f"worker has {min(headroom, default=0) / 2**30:.2f} GiB)",
            'solver="auto" (dask-ml across the cluster) or max_train_rows=N'))
    if requested is LinearSolver.AUTO:
        return LinearSolver.SCIKIT_LEARN if fits else LinearSolver.DASK_ML
    return requested


def choose_linear_solver(client: Client, X: da.Array, requested: LinearSolver | str, stage: str) -> LinearSolver:
    """:func:`linear_solver_for` with the training rows ``X`` and the workers of ``client``."""
    return linear_solver_for(X.nbytes, worker_headroom(client), requested, stage, rows=sum(X.chunks[0]))


def train_linear(
    X: da.Array,
    y: da.Array,
    *,
    task: Task,
    C: float,
    max_iter: int,
    n_classes: int = 2,
    solver: LinearSolver | str = LinearSolver.DASK_ML,
    compute: Callable[..., tuple] | None = None,
) -> LinearFitted:
    """Fit a linear model on row-chunked training rows.

    Parameters
    ----------
    X, y
        Training features (n, f) and labels (0/1, ``0 .. k-1``, or numbers), persisted ideally.
    solver
        ``"scikit-learn"``: one Dask task receives every chunk, concatenates them and fits with
        :func:`fit_linear_arrays` (on the worker that runs it). ``"dask-ml"``: dask-ml's lbfgs
        across the cluster (``k`` one-vs-rest fits for ``k > 2`` classes). Pick with
        :func:`choose_linear_solver`.
    compute
        How to compute the one task (a stage passes ``ctx.compute``); default ``dask.compute``.
    """
    solver = LinearSolver(solver)
    if solver is LinearSolver.SCIKIT_LEARN:
        job = dask.delayed(fit_linear_arrays, pure=True)(X, y, task=task, C=C, max_iter=max_iter, n_classes=n_classes)
        ((coef, intercept),) = (compute or dask.compute)(job)
        return LinearFitted(task, np.asarray(coef, dtype=np.float64), intercept, None, solver.value)
    return _train_dask_ml(X, y, task=task, C=C, max_iter=max_iter, n_classes=n_classes)


def _train_dask_ml(X: da.Array, y: da.Array, *, task: Task, C: float, max_iter: int, n_classes: int) -> LinearFitted:
    """dask-ml's LogisticRegression (lbfgs; admm is ~20x slower) or LinearRegression."""
    from dask_ml.linear_model import LinearRegression, LogisticRegression

    def fit(target: da.Array):
        est = (LogisticRegression if task is Task.CLASSIFICATION else LinearRegression)(
            solver="lbfgs", C=C, max_iter=max_iter)
        with warnings.catch_warnings():
            # dask-ml 2025.1.0 reads a dask config key renamed in 2025; harmless, but noisy on every fit
            warnings.filterwarnings("ignore", "Dask configuration key 'fuse_ave_width'", FutureWarning)
            est.fit(X, target)
        return est

    if task is Task.CLASSIFICATION and n_classes > 2:
        logger.info("dask-ml: fitting %d one-vs-rest logistic regressions", n_classes)
        ests = [fit((y == c).astype(np.float64)) for c in range(n_classes)]
        coef = np.vstack([np.asarray(e.coef_, dtype=np.float64).ravel() for e in ests])
        intercept = np.array([float(np.asarray(e.intercept_).ravel()[0]) for e in ests])
        return LinearFitted(task, coef, intercept, ests, LinearSolver.DASK_ML.value)
    est = fit(y)
    coef = np.asarray(est.coef_, dtype=np.float64).ravel()
    return LinearFitted(task, coef, float(np.asarray(est.intercept_).ravel()[0]), est, LinearSolver.DASK_ML.value)
