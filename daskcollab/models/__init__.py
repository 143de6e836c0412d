"""Model adapters: xgboost.dask and dask-ml, trained on the cluster, predicted chunk-wise."""

from daskcollab.models._fitted import FittedModel, Task

__all__ = ["FittedModel", "Task"]
