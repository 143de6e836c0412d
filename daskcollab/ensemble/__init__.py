"""Blenders as scikit-learn estimators: dask arrays of base-model predictions in, dask arrays out.

``X`` is the base-model prediction matrix: (n_samples, n_models) positive-class probabilities
(binary classification) or predicted values (regression); (n_samples, n_models * n_classes)
class probabilities, model-major, for multiclass (each model's columns in sorted label order,
like ``predict_proba``). Prediction is chunk-wise (``map_blocks``,
row chunks preserved); fitting gathers its (validation or out-of-fold) rows to the client.
"""

from daskcollab.ensemble._blockwise import blend_blocks, stack_predictions
from daskcollab.ensemble._ensemble_selection import EnsembleSelection
from daskcollab.ensemble._selection import ensemble_selection_weights
from daskcollab.ensemble._simplex import Loss, chunk_folds, fit_simplex_weights
from daskcollab.ensemble._stacking import Stacking
from daskcollab.ensemble._voting import Voting, VotingMode
from daskcollab.ensemble._weighted_average import WeightedAverage

__all__ = [
    "EnsembleSelection",
    "Loss",
    "Stacking",
    "Voting",
    "VotingMode",
    "WeightedAverage",
    "blend_blocks",
    "chunk_folds",
    "ensemble_selection_weights",
    "fit_simplex_weights",
    "stack_predictions",
]
