"""daskcollab: collaborative machine-learning workflows compiled to annotated Dask graphs.

Everything users need is importable from here::

    import daskcollab as dc
    src = dc.ZarrSource("data/flights.zarr", builder="flights")
    xgb = dc.XGBoostModel(src, rounds=200)
    lin = dc.LinearModel(dc.Standardize(src))
    blend = dc.Blend([xgb, lin])
    wf = dc.Workflow("flights", [dc.Evaluate([xgb, lin, blend]), dc.ZarrSink([blend], path="out.zarr")])
    print(dc.run(wf).table())
"""

from daskcollab import _config  # noqa: F401  (registers the collab.* config defaults)
from daskcollab._errors import (
    BudgetError,
    ClusterError,
    DaskCollabError,
    DataError,
    RecoveryError,
    RunCancelledError,
    UnplaceableError,
    UsageError,
    WorkflowError,
    WorkflowFileError,
)
from daskcollab._result import RunResult
from daskcollab.runtime._runner import connect, local_cluster, run
from daskcollab.compile import CompiledStage, CompiledWorkflow
from daskcollab.data import BUILDERS, ChunkSplit, Dataset, RowSplit, write_zarr_dataset
from daskcollab.models import LinearSolver, Task
from daskcollab.ensemble import EnsembleSelection, Stacking, Voting, WeightedAverage
from daskcollab.models._files import load_model, load_pipeline, save_model, save_pipeline
from daskcollab.models._pipeline import InputSpec, Pipeline
from daskcollab.workflow import (
    Blend,
    BlendMethod,
    Evaluate,
    FitRows,
    IncrementalModel,
    LinearModel,
    ModelSink,
    PostFitModel,
    Predictions,
    SavedModel,
    SearchModel,
    Stage,
    StageKind,
    Standardize,
    UpdateModel,
    Workflow,
    XGBoostModel,
    ZarrSink,
    ZarrSource,
)
from daskcollab.workflow._yaml import load_workflow

__version__ = "0.1.0"

__all__ = [
    "BUILDERS",
    "Blend",
    "BlendMethod",
    "BudgetError",
    "ChunkSplit",
    "ClusterError",
    "CompiledStage",
    "CompiledWorkflow",
    "DaskCollabError",
    "DataError",
    "Dataset",
    "EnsembleSelection",
    "Evaluate",
    "FitRows",
    "IncrementalModel",
    "InputSpec",
    "LinearModel",
    "LinearSolver",
    "ModelSink",
    "Pipeline",
    "PostFitModel",
    "Predictions",
    "RecoveryError",
    "RowSplit",
    "RunCancelledError",
    "RunResult",
    "SavedModel",
    "SearchModel",
    "Stacking",
    "Stage",
    "StageKind",
    "Standardize",
    "Task",
    "UnplaceableError",
    "UpdateModel",
    "UsageError",
    "Voting",
    "WeightedAverage",
    "Workflow",
    "WorkflowError",
    "WorkflowFileError",
    "XGBoostModel",
    "ZarrSink",
    "ZarrSource",
    "connect",
    "load_model",
    "load_pipeline",
    "load_workflow",
    "local_cluster",
    "run",
    "save_model",
    "save_pipeline",
    "write_zarr_dataset",
]
