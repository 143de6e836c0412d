"""Pure maths of blending: simplex weight fitting, probability clipping, chunk folds.

Nothing here knows about Dask or scikit-learn estimators; every function takes and returns
NumPy arrays or plain Python data, so it is unit-tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import numpy as np
from scipy.optimize import minimize

from daskcollab._errors import DataError, WorkflowError

#: Probabilities are clipped to ``[EPS, 1 - EPS]`` before a logarithm or a logit is taken.
EPS = 1e-7


class Loss(str, Enum):
    """What :func:`fit_simplex_weights` minimises."""

    LOG_LOSS = "log_loss"
    SQUARED_ERROR = "squared_error"


def fit_simplex_weights(P: np.ndarray, y: np.ndarray, loss: Loss | str) -> np.ndarray:
    """Non-negative weights summing to one that minimise the loss of the blend ``P @ w``.

    Parameters
    ----------
    P : ndarray of shape (n_samples, n_models) or (n_samples, n_models, n_classes)
        Base-model predictions. ``log_loss`` with 2-D ``P``: column ``j`` is model ``j``'s
        probability of the positive class and ``y`` is 0/1. ``log_loss`` with 3-D ``P``: model
        ``j``'s class probabilities in ``P[:, j, :]`` and ``y`` holds class indices
        ``0 .. n_classes - 1``. ``squared_error``: 2-D ``P`` of predicted values, ``y`` numbers.
    y : ndarray of shape (n_samples,)
        Targets, as described above.
    loss : {"log_loss", "squared_error"} or Loss

    Returns
    -------
    weights : ndarray of shape (n_models,)
        Non-negative, summing to one. Deterministic: SLSQP from equal weights with analytic
        gradients; both losses are convex in ``w``, so the optimum is global.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> good = np.clip(0.8 * y + 0.1 + 0.05 * rng.normal(size=500), 0, 1)
    >>> noise = rng.uniform(size=500)
    >>> w = fit_simplex_weights(np.column_stack([good, noise]), y, "log_loss")
    >>> bool(w[0] > 0.9), float(round(w.sum(), 6))
    (True, 1.0)
    """
    loss = _as_loss(loss)
    P = np.asarray(P, dtype=np.float64)
    y = np.asarray(y)
    if P.ndim not in (2, 3) or P.shape[0] != y.shape[0] or P.shape[0] == 0 or P.shape[1] == 0:
        raise DataError(
            f"fit_simplex_weights: expected P of shape (n_samples, n_models[, n_classes]) with n_samples "
            f"= len(y) > 0, got P.shape={P.shape!r} and y.shape={y.shape!r}. Fix: pass one row per label"
        )
    n_models = P.shape[1]
    if n_models == 1:
        return np.ones(1)
    if loss is Loss.LOG_LOSS:
        Q = true_class_probability(P, y)
        objective = _log_loss_objective(np.clip(Q, EPS, 1.0))
    else:
        if P.ndim != 2:
            raise DataError(
                f"fit_simplex_weights: squared_error needs 2-D P (n_samples, n_models), got shape {P.shape!r}. "
                "Fix: pass one predicted value per model"
            )
        objective = _squared_error_objective(P, y.astype(np.float64))
    w0 = np.full(n_models, 1.0 / n_models)
    result = minimize(
        objective,
        w0,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n_models,
        constraints=({"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)},),
        options={"ftol": 1e-12, "maxiter": 500},
    )
    w = np.clip(result.x, 0.0, None)
    if not np.isfinite(w).all() or w.sum() <= 0:
        w = w0
    # Keep the start point if the solver wandered off to something worse (it never should).
    if objective(w / w.sum())[0] > objective(w0)[0]:
        w = w0
    return w / w.sum()


def true_class_probability(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each model's probability of the observed class, shape (n_samples, n_models).

    ``P`` 2-D: positive-class probabilities and 0/1 ``y``; ``P`` 3-D: class probabilities and
    class indices. Log-loss of a blend is then ``-mean(log(Q @ w))``, the same in both cases.

    Examples
    --------
    >>> true_class_probability(np.array([[0.9, 0.2]]), np.array([0]))
    array([[0.1, 0.8]])
    """
    if P.ndim == 2:
        return np.where(np.asarray(y)[:, None] == 1, P, 1.0 - P)
    idx = np.asarray(y, dtype=np.intp)
    return np.take_along_axis(P, idx[:, None, None], axis=2)[:, :, 0]


def _log_loss_objective(Q: np.ndarray):
    n = Q.shape[0]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        q = np.clip(Q @ w, EPS, None)
        return float(-np.log(q).sum() / n), -(Q / q[:, None]).sum(axis=0) / n

    return objective


def _squared_error_objective(P: np.ndarray, y: np.ndarray):
    # Rescale so SLSQP's absolute tolerance means the same for every unit of y; the argmin is unchanged.
    scale = float(np.sqrt(np.mean(y**2))) or 1.0
    P, y = P / scale, y / scale
    n = P.shape[0]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        r = P @ w - y
        return float(r @ r / n), 2.0 * (P.T @ r) / n

    return objective


def _as_loss(loss: Loss | str, who: str = "fit_simplex_weights") -> Loss:
    try:
        return Loss(loss)
    except ValueError:
        raise WorkflowError(
            f"{who}: expected loss in {[m.value for m in Loss]!r}, got {loss!r}. "
            'Fix: loss="log_loss" for classification or loss="squared_error" for regression'
        ) from None


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities clipped to ``[EPS, 1 - EPS]`` (finite for any input).

    Examples
    --------
    >>> logit(np.array([0.5, 1.0])).round(2)
    array([ 0.  , 16.12])
    """
    p = np.clip(p, EPS, 1.0 - EPS)
    return np.log(p) - np.log1p(-p)


def chunk_folds(chunks: Sequence[int] | int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Assign whole row chunks to ``k`` folds; return ``(train_chunk_idx, test_chunk_idx)`` per fold.

    Chunks are taken in order and each goes to the fold holding the fewest rows so far (ties:
    the lowest fold), so equal chunks are dealt round-robin and folds stay balanced in rows.
    Deterministic; every chunk is in exactly one test set.

    Parameters
    ----------
    chunks : sequence of int or int
        Row-chunk sizes (for example ``X.chunks[0]``), or the number of equal chunks.
    k : int
        Number of folds, ``2 <= k <= n_chunks``.

    Examples
    --------
    >>> [(tr.tolist(), te.tolist()) for tr, te in chunk_folds((100, 100, 100, 50), 2)]
    [([1, 3], [0, 2]), ([0, 2], [1, 3])]
    """
    raw = [1.0] * int(chunks) if isinstance(chunks, (int, np.integer)) else [float(c) for c in chunks]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise WorkflowError(f"chunk_folds: expected an integer k >= 2, got k={k!r}. Fix: k=5")
    if any(not np.isfinite(s) or s < 0 for s in raw):
        raise DataError(
            f"chunk_folds: expected known, non-negative chunk sizes, got {tuple(chunks)!r}. "
            "Fix: call compute_chunk_sizes() on the array first"
        )
    sizes = [int(s) for s in raw]
    if len(sizes) < k:
        raise DataError(
            f"chunk_folds: {k} folds need at least {k} row chunks, got {len(sizes)}. "
            f"Fix: use k <= {len(sizes)} or rechunk the rows into at least {k} chunks"
        )
    load = np.zeros(k, dtype=np.int64)
    fold_of = np.empty(len(sizes), dtype=np.intp)
    for i, size in enumerate(sizes):
        f = int(np.argmin(load))
        fold_of[i] = f
        load[f] += size
    index = np.arange(len(sizes))
    return [(index[fold_of != f], index[fold_of == f]) for f in range(k)]


def model_probabilities(X: np.ndarray, n_classes: int) -> np.ndarray:
    """Reshape a base-prediction matrix to per-model class probabilities (n_samples, n_models, n_classes).

    Binary (``n_classes == 2``): column ``j`` is model ``j``'s positive-class probability.
    Multiclass: model ``j``'s probabilities are columns ``j*K .. j*K + K - 1``. Values are
    clipped to ``[0, 1]`` so any input yields valid probabilities.

    Examples
    --------
    >>> model_probabilities(np.array([[0.9, 0.2]]), 2)[0].tolist()
    [[0.09999999999999998, 0.9], [0.8, 0.2]]
    """
    X = np.clip(np.asarray(X, dtype=np.float64), 0.0, 1.0)
    if n_classes == 2:
        return np.stack([1.0 - X, X], axis=2)
    return X.reshape(X.shape[0], X.shape[1] // n_classes, n_classes)


def normalise_rows(P: np.ndarray) -> np.ndarray:
    """Scale each row to sum to one; an all-zero row becomes uniform.

    Examples
    --------
    >>> normalise_rows(np.array([[1.0, 3.0], [0.0, 0.0]])).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    total = P.sum(axis=1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, P / safe, 1.0 / P.shape[1])


def blend_probabilities(P: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted average over models of (n_samples, n_models, n_classes) probabilities, rows sum to one."""
    return normalise_rows(np.einsum("nmk,m->nk", P, weights))


def hard_votes(P: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted share of models voting for each class, (n_samples, n_classes); ties go to the lower class.

    Examples
    --------
    >>> P = model_probabilities(np.array([[0.9, 0.8, 0.1]]), 2)
    >>> hard_votes(P, np.full(3, 1 / 3)).round(3).tolist()
    [[0.333, 0.667]]
    """
    n, m, k = P.shape
    votes = np.argmax(P, axis=2)  # (n, m); argmax picks the lower class on a tie
    out = np.zeros((n, k))
    for j in range(m):
        out[np.arange(n), votes[:, j]] += weights[j]
    return normalise_rows(out)
