"""How much a blend gains over its best member, per metric (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

#: Metrics a blend is judged on, and whether higher is better.
GAIN_METRICS: dict[str, bool] = {"auc": True, "log_loss": False, "rmse": False}


class Gain(NamedTuple):
    """A blend's gain on one metric: ``gain`` > 0 means the blend is better than ``best_member``.

    ``gain`` is ``blend - best`` for metrics where higher is better (AUC) and ``best - blend``
    where lower is better (log-loss, RMSE), so its sign reads the same for every metric.
    """

    gain: float
    best_member: str
    best_value: float
    blend_value: float


def blend_gains(
    metrics: Mapping[str, Mapping[str, float]],
    members: Sequence[str],
    blend: str,
    *,
    judged_on: Mapping[str, bool] = GAIN_METRICS,
) -> dict[str, Gain]:
    """The gain of ``blend`` over the best of its ``members`` on each metric both were scored on.

    The best member is chosen per metric (the member with the best AUC may not have the best
    log-loss). Members or metrics without a score are skipped.

    Parameters
    ----------
    metrics
        ``{model or blend name: {metric: value}}`` (as in ``RunResult.metrics``).
    members
        The blend's base models.
    blend
        The blend's name.
    judged_on
        ``{metric: higher is better}``.

    Examples
    --------
    >>> m = {"xgb": {"auc": 0.80, "log_loss": 0.45}, "lin": {"auc": 0.70, "log_loss": 0.50},
    ...      "blend": {"auc": 0.81, "log_loss": 0.44}}
    >>> {k: round(g.gain, 4) for k, g in blend_gains(m, ["xgb", "lin"], "blend").items()}
    {'auc': 0.01, 'log_loss': 0.01}
    """
    out: dict[str, Gain] = {}
    mine = metrics.get(blend, {})
    for metric, higher in judged_on.items():
        if metric not in mine:
            continue
        scored = [(m, metrics[m][metric]) for m in members if metric in metrics.get(m, {})]
        if not scored:
            continue
        pick = max if higher else min
        best, value = pick(scored, key=lambda item: item[1])
        delta = mine[metric] - value if higher else value - mine[metric]
        out[metric] = Gain(float(delta), best, float(value), float(mine[metric]))
    return out
