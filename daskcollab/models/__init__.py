"""Model adapters: xgboost (daskcollab's own collective over xgboost's public API) and dask-ml /
scikit-learn estimators, trained on the cluster, predicted chunk-wise.

Every adapter returns a :class:`FittedModel`. Names load on first use (see :mod:`daskcollab._lazy`):
``from daskcollab.models import FittedModel`` does not import xgboost or scikit-learn.
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    # the contract every adapter honours
    "FittedModel": "_fitted", "Task": "_fitted",
    # modes (shared enums)
    "Device": "daskcollab._types", "Impute": "daskcollab._types",
    # adapters (train / update)
    "LinearSolver": "_linear", "choose_linear_solver": "_linear", "train_linear": "_linear",
    "XGBoostFitted": "_xgboost", "train_xgboost": "_xgboost", "update_xgboost": "_xgboost",
    "train_incremental": "_incremental", "update_incremental": "_incremental",
    "train_postfit": "_postfit", "SklearnFitted": "_sklearn_fitted",
    "INCREMENTAL_ESTIMATORS": "_estimators", "POSTFIT_ESTIMATORS": "_estimators", "make_estimator": "_estimators",
    "SearchMethod": "_search", "SearchResult": "_search", "UNAVAILABLE_METHODS": "_search",
    "check_search": "_search", "search": "_search",
    # in-process fits of small training sets
    "LocalLinear": "_local", "LocalModel": "_local", "LocalXGBoost": "_local", "fit_predict_local": "_local",
    # checks before training
    "check_labels": "_labels", "check_xgboost_params": "_params",
    "check_training_fits": "_memory", "check_worker_memory": "_memory", "fits_in_one_worker": "_memory",
    "worker_headroom": "_memory",
    "fit_preprocess": "_preprocess",
    # files and pipelines
    "load_model": "_files", "load_pipeline": "_files", "read_model_meta": "_files", "save_model": "_files",
    "save_pipeline": "_files", "InputSpec": "_pipeline", "Pipeline": "_pipeline",
})
