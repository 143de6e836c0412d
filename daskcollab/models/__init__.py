"""Model adapters: xgboost.dask and dask-ml, trained on the cluster, predicted chunk-wise."""

from daskcollab.models._fitted import FittedModel, Task
from daskcollab.models._linear import LinearSolver

__all__ = ["FittedModel", "LinearSolver", "Task"]
