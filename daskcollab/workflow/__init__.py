"""Workflow model: stages wired by reference, the Workflow that checks them, the YAML form.

Every stage class defined in the stage modules below registers itself (``STAGE_TYPES``: the YAML
form and the checks use it); a new stage is one class, exported here by name (a test checks that
every registered stage is exported here and from ``daskcollab``). This package imports its stage
modules eagerly, because importing them is what fills the registry; ``import daskcollab`` loads
it only when a stage is first used.
"""

from daskcollab._context import StageContext
from daskcollab.workflow._data_stages import Standardize, ZarrSink, ZarrSource
from daskcollab.workflow._ensemble_stages import Blend, BlendMethod, Evaluate, FitRows
from daskcollab.workflow._lifecycle_stages import ModelSink, SavedModel, UpdateModel
from daskcollab.workflow._model_stages import LinearModel, ModelStage, Predictions, XGBoostModel
from daskcollab.workflow._paths import Access
from daskcollab.workflow._sklearn_stages import IncrementalModel, PostFitModel, SearchModel
from daskcollab.workflow._stage import STAGE_TYPES, Stage, StageKind
from daskcollab.workflow._workflow import Workflow
from daskcollab.workflow._yaml import load_workflow, workflow_schema

#: The registered stage classes by class name (``ZarrSource``, ``XGBoostModel``, ...).
STAGES: dict[str, type[Stage]] = {cls.__name__: cls for cls in STAGE_TYPES.values()}

__all__ = [
    "STAGES", "STAGE_TYPES", "Access", "Blend", "BlendMethod", "Evaluate", "FitRows", "IncrementalModel",
    "LinearModel", "ModelSink", "ModelStage", "PostFitModel", "Predictions", "SavedModel", "SearchModel", "Stage",
    "StageContext", "StageKind", "Standardize", "UpdateModel", "Workflow", "XGBoostModel", "ZarrSink", "ZarrSource",
    "load_workflow", "workflow_schema",
]
