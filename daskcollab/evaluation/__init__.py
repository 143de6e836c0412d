"""Metrics of models and blends (pure functions over in-memory predictions).

Names load on first use (see :mod:`daskcollab._lazy`).
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "GAIN_METRICS": "_gains", "Gain": "_gains", "blend_gains": "_gains",
    "CLASSIFICATION_METRICS": "_metrics", "REGRESSION_METRICS": "_metrics", "score": "_metrics",
})
