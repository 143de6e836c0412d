"""Blenders as scikit-learn estimators: dask arrays of base-model predictions in, dask arrays out.

``X`` is the base-model prediction matrix: (n_samples, n_models) positive-class probabilities
(binary classification) or predicted values (regression); (n_samples, n_models * n_classes)
class probabilities, model-major, for multiclass (each model's columns in sorted label order,
like ``predict_proba``). Prediction is chunk-wise (``map_blocks``,
row chunks preserved); fitting gathers its (validation or out-of-fold) rows to the client.
:func:`out_of_fold_predictions` refits base models once per fold for the out-of-fold rows.
Names load on first use (see :mod:`daskcollab._lazy`).
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "EnsembleSelection": "_ensemble_selection",
    "Loss": "_simplex", "chunk_folds": "_simplex", "fit_simplex_weights": "_simplex",
    "Stacking": "_stacking",
    "Voting": "_voting", "VotingMode": "_voting",
    "WeightedAverage": "_weighted_average",
    "blend_blocks": "_blockwise", "stack_predictions": "_blockwise",
    "ensemble_selection_weights": "_selection",
    "FoldRefit": "_out_of_fold", "ModelOutput": "_out_of_fold", "merge_fold_vectors": "_out_of_fold",
    "merge_folds": "_out_of_fold", "out_of_fold_predictions": "_out_of_fold",
})
