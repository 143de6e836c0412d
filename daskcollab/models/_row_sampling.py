"""Row subsampling for xgboost that does not depend on how the rows are spread over workers.

xgboost's ``subsample`` draws, on every worker, one random number per *local* row from a
generator seeded alike on all workers, so which rows a round uses depends on which worker holds
which rows: the same data trained on one worker or on two gives different models (measured here:
the deep xgboost of ``flights-stacking.yaml`` reached AUC 0.8005 on one worker and 0.7998 on two).
xgboost samples by zeroing the gradient and hessian of the rows left out of a round; this module
does the same with a draw keyed by the row's *global* index and the round, so

- the rows a round uses are the same for any layout and any number of workers, and
- a training continued from a checkpoint of round ``k`` draws for round ``k + 1`` what a clean run
  draws (continuation is exact, as it is without sampling).

:class:`LayoutFreeSubsample` computes the gradient of the three objectives daskcollab configures
(``binary:logistic``, ``reg:squarederror``, ``multi:softprob``; as xgboost computes them, with the
same hessian floor and ``scale_pos_weight``) and masks it. Other objectives keep xgboost's own
sampling (:func:`supported`). Pure: NumPy only, tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Objectives whose gradients :class:`LayoutFreeSubsample` computes.
OBJECTIVES = ("binary:logistic", "reg:squarederror", "multi:softprob")
#: xgboost's floor on the hessian of the logistic and softmax objectives.
_HESS_EPS = 1e-16

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def supported(params: Mapping[str, Any]) -> bool:
    """True when ``params`` subsample rows with an objective whose gradient this module computes."""
    return float(params.get("subsample", 1.0)) < 1.0 and params.get("objective") in OBJECTIVES


def keep_mask(rows: np.ndarray, round_: int, seed: int, rate: float) -> np.ndarray:
    """Which of the global row indices ``rows`` round ``round_`` uses: an independent draw per
    (seed, round, row) that keeps each row with probability ``rate`` (splitmix64 of the three)."""
    with np.errstate(over="ignore"):
        z = (np.asarray(rows, dtype=np.uint64)
             + np.uint64(round_ & 0xFFFFFFFF) * _GOLDEN
             + np.uint64(seed & 0xFFFFFFFF) * _MIX2)
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    uniform = (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return uniform < rate


def row_indices(starts: Sequence[int], lengths: Sequence[int]) -> np.ndarray:
    """Global row indices of parts that start at ``starts`` and hold ``lengths`` rows, in order."""
    if not len(starts):
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.arange(s, s + n, dtype=np.int64) for s, n in zip(starts, lengths)])


def label_stats(objective: str, label: np.ndarray, num_class: int = 0, scale_pos_weight: float = 1.0) -> np.ndarray:
    """What :func:`base_score` needs from one worker's labels (summed over workers):
    ``[weight, weighted sum of labels]`` (positives weigh ``scale_pos_weight`` for
    ``binary:logistic``), or the count per class for ``multi:softprob``."""
    label = np.asarray(label, dtype=np.float64)
    if objective == "multi:softprob":
        return np.bincount(label.astype(np.int64), minlength=int(num_class)).astype(np.float64)
    weight = np.where(label == 1.0, float(scale_pos_weight), 1.0) if objective == "binary:logistic" else 1.0
    return np.array([float(np.sum(np.broadcast_to(weight, label.shape))), float(np.sum(weight * label))])


def base_score(objective: str, stats: np.ndarray) -> float | str:
    """The intercept xgboost would estimate from the labels (it estimates none for a custom
    objective): the (weighted) mean label, a probability for ``binary:logistic``, or the centred
    log class priors for ``multi:softprob`` (xgboost's string form of a vector). Equal to xgboost's
    estimate to float32 rounding, except with ``scale_pos_weight`` (within 1e-3: xgboost takes a
    Newton step there)."""
    stats = np.asarray(stats, dtype=np.float64)
    if objective == "multi:softprob":
        logp = np.log(np.maximum(stats / max(stats.sum(), 1.0), 1e-16))
        return "[" + ",".join(repr(float(v)) for v in logp - logp.mean()) + "]"
    mean = float(stats[1] / stats[0]) if stats[0] > 0 else 0.5
    if objective == "binary:logistic":
        return min(max(mean, 1e-6), 1.0 - 1e-6)
    return mean


def gradient(objective: str, margin: np.ndarray, label: np.ndarray, params: Mapping[str, Any]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and hessian of ``objective`` at ``margin`` (as xgboost's built-in objective)."""
    margin = np.asarray(margin, dtype=np.float64)
    label = np.asarray(label, dtype=np.float64)
    if objective == "binary:logistic":
        p = 1.0 / (1.0 + np.exp(-margin))
        weight = np.where(label == 1.0, float(params.get("scale_pos_weight", 1.0)), 1.0)
        return (p - label) * weight, np.maximum(p * (1.0 - p), _HESS_EPS) * weight
    if objective == "reg:squarederror":
        return margin - label, np.ones_like(margin)
    if objective == "multi:softprob":
        margin = margin.reshape(label.shape[0], -1)
        shifted = np.exp(margin - margin.max(axis=1, keepdims=True))
        p = shifted / shifted.sum(axis=1, keepdims=True)
        onehot = np.zeros_like(p)
        onehot[np.arange(label.shape[0]), label.astype(np.int64)] = 1.0
        return p - onehot, np.maximum(2.0 * p * (1.0 - p), _HESS_EPS)
    raise ValueError(f"no layout-free subsampling for objective {objective!r}; supported: {', '.join(OBJECTIVES)}")


class LayoutFreeSubsample:
    """An xgboost custom objective (``xgboost.train(obj=...)``): the built-in gradient of ``params``'
    objective, zeroed for the rows :func:`keep_mask` leaves out of the round.

    ``rows`` are the global indices of this worker's training rows, in DMatrix order; ``first_round``
    is the number of rounds the booster already holds (a continued training), so the draw of every
    round depends on its absolute number.
    """

    def __init__(self, params: Mapping[str, Any], rows: np.ndarray, first_round: int = 0) -> None:
        self.objective = str(params["objective"])
        self.rate = float(params["subsample"])
        self.seed = int(params.get("seed", params.get("random_state", 0)) or 0)
        self.params = dict(params)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.round = int(first_round)  # xgboost calls the objective once per round, in order

    def __call__(self, margin: np.ndarray, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
        grad, hess = gradient(self.objective, margin, dtrain.get_label(), self.params)
        grad, hess = self.masked(self.round, grad, hess)
        self.round += 1
        return grad, hess

    def masked(self, round_: int, grad: np.ndarray, hess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``grad`` and ``hess`` with the rows left out of ``round_`` set to zero (row-major rows)."""
        keep = keep_mask(self.rows, round_, self.seed, self.rate)
        keep = keep.reshape((-1,) + (1,) * (grad.ndim - 1))
        return np.where(keep, grad, 0.0), np.where(keep, hess, 0.0)


def without_subsample(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` for xgboost when :class:`LayoutFreeSubsample` samples the rows instead."""
    return {k: v for k, v in params.items() if k != "subsample"}
