"""Workflow model: stages wired by reference, the Workflow that checks them, the YAML form."""

from daskcollab.runtime._context import StageContext
from daskcollab.workflow._data_stages import Standardize, ZarrSink, ZarrSource
from daskcollab.workflow._ensemble_stages import Blend, BlendMethod, Evaluate, FitRows
from daskcollab.workflow._lifecycle_stages import ModelSink, SavedModel, UpdateModel
from daskcollab.workflow._model_stages import LinearModel, Predictions, XGBoostModel
from daskcollab.workflow._sklearn_stages import IncrementalModel, PostFitModel, SearchModel
from daskcollab.workflow._stage import Stage, StageKind
from daskcollab.workflow._workflow import Workflow

__all__ = [
    "Blend",
    "BlendMethod",
    "Evaluate",
    "FitRows",
    "IncrementalModel",
    "LinearModel",
    "ModelSink",
    "PostFitModel",
    "Predictions",
    "SavedModel",
    "SearchModel",
    "Stage",
    "StageContext",
    "StageKind",
    "Standardize",
    "UpdateModel",
    "Workflow",
    "XGBoostModel",
    "ZarrSink",
    "ZarrSource",
]
