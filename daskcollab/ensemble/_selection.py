"""Greedy ensemble selection (Caruana et al. 2004), pure NumPy.

An ensemble is a multiset of models; its prediction is the average of its members'
predictions, so a model chosen ``c`` times has weight ``c / size``. Starting from the
``init_size`` best single models (*sorted initialisation*), each step adds the model (any,
again or anew: *with replacement*) that most lowers the loss of the average, until the
ensemble has ``size`` members; the best ensemble seen along the way is returned (so a shorter
prefix wins when later additions only overfit). *Bagged* selection repeats this on ``n_bags``
random halves of the models (seeded) and averages the bags' weights. AutoGluon's default
ensemble is this procedure with ``size=25``.
"""

from __future__ import annotations

import numpy as np

from daskcollab._errors import DataError, WorkflowError
from daskcollab.ensemble._simplex import EPS, Loss, _as_loss


def ensemble_selection_weights(
    P: np.ndarray,
    y: np.ndarray,
    loss: Loss | str,
    *,
    size: int = 25,
    init_size: int = 1,
    n_bags: int = 0,
    bag_fraction: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """Weights (non-negative, summing to one) of a greedily selected ensemble.

    Parameters
    ----------
    P : ndarray of shape (n_samples, n_models)
        ``log_loss``: each model's probability of the **observed** class of each row (see
        :func:`~daskcollab.ensemble._simplex.true_class_probability`; the blend's log-loss is
        then ``-mean(log(P @ w))`` for binary and multiclass alike). ``squared_error``: each
        model's predicted value.
    y : ndarray of shape (n_samples,)
        ``squared_error`` only: the targets (ignored for ``log_loss``).
    loss : {"log_loss", "squared_error"}
    size : int
        Members of the ensemble (with repetition), >= 1.
    init_size : int
        Sorted initialisation: the ensemble starts with this many best single models, once each.
    n_bags : int
        0 or 1: no bagging. Otherwise the selection runs ``n_bags`` times, each on a random
        ``bag_fraction`` of the models (at least one), and the weights are averaged.
    seed : int
        Seeds the bags; without bagging the result is deterministic anyway (ties go to the
        lower model index).

    Examples
    --------
    >>> Q = np.array([[0.9, 0.6], [0.6, 0.9], [0.8, 0.8]])  # probability of the observed class
    >>> ensemble_selection_weights(Q, None, "log_loss", size=4).tolist()
    [0.5, 0.5]
    """
    loss = _as_loss(loss, "ensemble_selection_weights")
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] == 0 or P.shape[1] == 0:
        raise DataError(f"ensemble_selection_weights: expected P of shape (n_samples, n_models) with both > 0, got "
                        f"shape {P.shape!r}. Fix: pass one column per model, one row per sample")
    for name, value, low in (("size", size, 1), ("init_size", init_size, 1), ("n_bags", n_bags, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise WorkflowError(f"ensemble_selection_weights: expected an integer {name} >= {low}, got {value!r}. "
                                f"Fix: {name}={max(low, 1)}")
    if not 0.0 < bag_fraction <= 1.0:
        raise WorkflowError(f"ensemble_selection_weights: expected bag_fraction in (0, 1], got {bag_fraction!r}. "
                            "Fix: bag_fraction=0.5")
    target = None if loss is Loss.LOG_LOSS else np.asarray(y, dtype=np.float64)
    m = P.shape[1]
    if n_bags <= 1:
        return _select(P, target, np.arange(m), size, init_size)
    rng = np.random.default_rng(seed)
    per_bag = max(1, int(round(bag_fraction * m)))
    total = np.zeros(m)
    for _ in range(n_bags):
        models = np.sort(rng.choice(m, size=per_bag, replace=False))
        total += _select(P, target, models, size, init_size)
    return total / total.sum()


def _loss_of_sum(S: np.ndarray, count: int, target: np.ndarray | None) -> np.ndarray:
    """Loss of the averages ``S / count``, column by column (S: (n, c))."""
    avg = S / count
    if target is None:
        return -np.log(np.clip(avg, EPS, None)).mean(axis=0)
    return ((avg - target[:, None]) ** 2).mean(axis=0)


def _select(P: np.ndarray, target: np.ndarray | None, models: np.ndarray, size: int, init_size: int) -> np.ndarray:
    """Greedy selection among the columns ``models`` of ``P``; weights over all columns."""
    cols = P[:, models]
    single = _loss_of_sum(cols, 1, target)
    order = np.argsort(single, kind="stable")  # ties: lower index first
    counts = np.zeros(len(models), dtype=np.int64)
    start = order[: min(init_size, size, len(models))]
    counts[start] += 1
    S = cols[:, start].sum(axis=1)
    n = int(counts.sum())
    best_counts, best_loss = counts.copy(), float(_loss_of_sum(S[:, None], n, target)[0])
    while n < size:
        trial = _loss_of_sum(S[:, None] + cols, n + 1, target)
        j = int(np.argmin(trial))  # first minimum: ties go to the lower index
        counts[j] += 1
        S = S + cols[:, j]
        n += 1
        if trial[j] < best_loss - 1e-15:
            best_counts, best_loss = counts.copy(), float(trial[j])
    weights = np.zeros(P.shape[1])
    weights[models] = best_counts / best_counts.sum()
    return weights
