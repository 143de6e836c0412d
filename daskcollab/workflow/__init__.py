"""Workflow model: stages wired by reference, the Workflow that checks them, the YAML form.

Every stage class defined in the stage modules below registers itself (``STAGE_TYPES``) and is
exported from here (and from ``daskcollab``) by its class name: adding a stage is one class.
"""

from daskcollab.runtime._context import StageContext
from daskcollab.workflow import _data_stages, _ensemble_stages, _lifecycle_stages, _model_stages, _sklearn_stages
from daskcollab.workflow._ensemble_stages import BlendMethod, FitRows
from daskcollab.workflow._model_stages import Predictions
from daskcollab.workflow._stage import STAGE_TYPES, Stage, StageKind
from daskcollab.workflow._workflow import Workflow

#: The registered stage classes by class name (``ZarrSource``, ``XGBoostModel``, ...).
STAGES: dict[str, type[Stage]] = {cls.__name__: cls for cls in STAGE_TYPES.values()}
globals().update(STAGES)
del _data_stages, _ensemble_stages, _lifecycle_stages, _model_stages, _sklearn_stages

__all__ = sorted(["BlendMethod", "FitRows", "Predictions", "STAGE_TYPES", "Stage", "StageContext", "StageKind",
                  "Workflow", *STAGES])
