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
from daskcollab._errors import (  # noqa: F401  (public, listed in __all__ below)
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
from daskcollab._lazy import exports

__version__ = "0.1.0"

_ERRORS = ["BudgetError", "ClusterError", "DaskCollabError", "DataError", "RecoveryError", "RunCancelledError",
           "UnplaceableError", "UsageError", "WorkflowError", "WorkflowFileError"]
_STAGES = ["Blend", "BlendMethod", "Evaluate", "FitRows", "IncrementalModel", "LinearModel", "ModelSink",
           "PostFitModel", "Predictions", "SavedModel", "SearchModel", "Stage", "StageKind", "Standardize",
           "UpdateModel", "Workflow", "XGBoostModel", "ZarrSink", "ZarrSource", "load_workflow"]

# Everything else loads on first use (PEP 562): ``import daskcollab`` is cheap, and a scheduler or
# worker preload (``daskcollab.deploy.scheduler`` / ``.worker``) imports no scikit-learn, scipy,
# pandas, zarr or xgboost. Each name comes from its sub-package's public exports.
__getattr__, __dir__, _lazy_all = exports(__name__, {
    **{name: "daskcollab.workflow" for name in _STAGES},
    "RunResult": "daskcollab.runtime", "connect": "daskcollab.runtime", "local_cluster": "daskcollab.runtime",
    "run": "daskcollab.runtime",
    "CompiledStage": "daskcollab.compile", "CompiledWorkflow": "daskcollab.compile",
    "BUILDERS": "daskcollab.data", "ChunkSplit": "daskcollab.data", "Dataset": "daskcollab.data",
    "RowSplit": "daskcollab.data", "write_zarr_dataset": "daskcollab.data",
    "LinearSolver": "daskcollab.models", "Task": "daskcollab.models", "InputSpec": "daskcollab.models",
    "Pipeline": "daskcollab.models", "load_model": "daskcollab.models", "load_pipeline": "daskcollab.models",
    "save_model": "daskcollab.models", "save_pipeline": "daskcollab.models",
    "EnsembleSelection": "daskcollab.ensemble", "Stacking": "daskcollab.ensemble", "Voting": "daskcollab.ensemble",
    "WeightedAverage": "daskcollab.ensemble",
})
__all__ = sorted([*_ERRORS, *_lazy_all])
