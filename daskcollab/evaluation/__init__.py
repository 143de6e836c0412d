"""Metrics of models and blends (pure functions over in-memory predictions)."""

from daskcollab.evaluation._gains import GAIN_METRICS, Gain, blend_gains
from daskcollab.evaluation._metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS, score

__all__ = ["CLASSIFICATION_METRICS", "GAIN_METRICS", "Gain", "REGRESSION_METRICS", "blend_gains", "score"]
