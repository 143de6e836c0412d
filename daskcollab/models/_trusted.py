"""Which objects a scikit-learn model file may hold: exactly the types daskcollab itself writes.

``skops.io`` rebuilds an estimator from a tree of nodes described in the file's ``schema.json``;
each node names a type (``module.class``) and a loader. A crafted file can name any callable
(``builtins.eval``, ``builtins.getattr`` on ``os``) as the constructor of a reduce node, and skops
calls it with arguments from the file. So before skops sees a file, :func:`audit_skops_file`
walks the *whole* tree itself and refuses it unless

* every node's type is in :data:`TRUSTED_TYPES` (fully qualified names, never prefixes), and
* every node's loader is in :data:`TRUSTED_LOADERS` (no function, method, partial, operator or
  generic reduce nodes: daskcollab's estimators never need them), and
* the file uses the skops protocol daskcollab writes.

This covers both what skops reports as untrusted and what it would load without asking (its
built-in defaults trust every scikit-learn estimator and many NumPy/SciPy functions).

:data:`TRUSTED_TYPES` is what the registered estimators (``models/_estimators.py``: every
incremental and post-fit estimator, binary, multiclass and regression, with the parameter variants
a search may pick) contain when fitted and dumped with skops; ``tests/models/test_model_file_security.py``
regenerates that set and fails when a registered estimator needs a type outside it.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from typing import Any

from daskcollab._errors import DataError

#: JSON primitives and containers skops writes for parameters and attributes.
_PRIMITIVES = (
    "builtins.bool", "builtins.dict", "builtins.float", "builtins.int", "builtins.list", "builtins.str",
    "builtins.tuple",
)
#: NumPy arrays, the scalar types of their elements, and the random generator of fitted estimators.
_NUMPY = (
    "numpy.ndarray", "numpy.random._generator.Generator",
    "numpy.bool_", "numpy.float16", "numpy.float32", "numpy.float64",
    "numpy.int8", "numpy.int16", "numpy.int32", "numpy.int64",
    "numpy.uint8", "numpy.uint16", "numpy.uint32", "numpy.uint64",
)
#: The registered estimators and the objects they hold once fitted (scikit-learn 1.6-1.9).
_SKLEARN = (
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.linear_model._sgd_fast.Hinge",
    "sklearn.linear_model._sgd_fast.ModifiedHuber",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
)
#: Every type a daskcollab scikit-learn model file may name (fully qualified; compared exactly).
TRUSTED_TYPES: frozenset[str] = frozenset(_PRIMITIVES + _NUMPY + _SKLEARN)
#: The skops node loaders those types are written with. Function, method, partial, operator and
#: generic reduce nodes call or return arbitrary callables and are never accepted.
TRUSTED_LOADERS: frozenset[str] = frozenset({
    "DictNode", "JsonNode", "ListNode", "LossNode", "NdArrayNode", "ObjectNode", "RandomGeneratorNode",
    "TreeNode", "TupleNode", "TypeNode",
})
#: A schema tree deeper than this is refused (daskcollab's deepest estimator is ~10 levels).
MAX_DEPTH = 64


def skops_nodes(schema: Any) -> Iterator[tuple[str | None, str | None]]:
    """Every ``(module.class, loader)`` named in a skops schema tree, depth first.

    Examples
    --------
    >>> sorted(skops_nodes({"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
    ...                     "content": []}))
    [('builtins.tuple', 'TupleNode')]
    """
    stack: list[tuple[Any, int]] = [(schema, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            yield (f"<a tree deeper than {MAX_DEPTH} levels>", None)
            return
        if isinstance(node, dict):
            if "__class__" in node or "__module__" in node or "__loader__" in node:
                name = f"{node.get('__module__')}.{node.get('__class__')}"
                yield (name, node.get("__loader__"))
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def audit_skops_file(path: str | os.PathLike) -> list[str]:
    """Check a skops file against :data:`TRUSTED_TYPES`; return the trusted names it uses.

    Nothing from the file is imported, constructed or called here: the schema is read as JSON.

    Raises
    ------
    DataError
        Not a skops file, another skops protocol, or any node whose type or loader is not trusted;
        the message names the file and every refused type.
    """
    import skops.io._protocol as protocol

    file = os.fspath(path)
    try:
        with zipfile.ZipFile(file) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"load_model: {file!r} is not a readable skops file ({exc}). "
                        "Fix: save the model again with daskcollab.save_model or a model_sink stage") from exc
    if not isinstance(schema, dict) or schema.get("protocol") != protocol.PROTOCOL:
        got = schema.get("protocol") if isinstance(schema, dict) else None
        raise DataError(f"load_model: {file!r} uses skops protocol {got!r}, expected {protocol.PROTOCOL!r} (the one "
                        "daskcollab writes). Nothing was loaded. Fix: save the model again with this daskcollab")
    used: set[str] = set()
    refused: set[str] = set()
    for name, loader in skops_nodes(schema):
        if name in TRUSTED_TYPES and loader in TRUSTED_LOADERS:
            used.add(name)
        else:
            refused.add(name if loader in TRUSTED_LOADERS or loader is None else f"{name} (loader {loader})")
    if refused:
        raise DataError(
            f"load_model: {file!r} contains types daskcollab never writes: {sorted(refused)!r}. Nothing was "
            "loaded or run. Fix: load only model files written by daskcollab; for a file from elsewhere that you "
            "trust, inspect it with skops.io.get_untrusted_types and load it yourself"
        )
    return sorted(used)


def check_loaded_structure(estimator: Any, file: str | os.PathLike) -> None:
    """Refuse trees and neighbour indices whose internal indices point outside their arrays.

    scikit-learn follows the child, feature and sample indices of a fitted tree without bounds
    checks, so a crafted file with trusted types only could still crash a worker at its first
    prediction (skops leaves ``sklearn.tree._tree.Tree`` untrusted by default for this reason).

    Raises
    ------
    DataError
        Naming the file and the inconsistent structure.
    """
    problems: list[str] = []
    for label, tree in _trees(estimator):
        n, f = int(tree.node_count), int(tree.n_features)
        for side in ("children_left", "children_right"):
            child = getattr(tree, side)
            if child.size != n or (child.size and (child.min() < -1 or child.max() >= n)):
                problems.append(f"{label}.{side}")
        feature = tree.feature
        inner = tree.children_left != -1
        if feature.size != n or (inner.any() and (feature[inner].min() < 0 or feature[inner].max() >= f)):
            problems.append(f"{label}.feature")
    for label, predictor in _predictors(estimator):
        nodes = predictor.nodes
        inner = ~nodes["is_leaf"].astype(bool)
        for field in ("left", "right"):
            if inner.any() and (nodes[field][inner].min() < 0 or nodes[field][inner].max() >= len(nodes)):
                problems.append(f"{label}.nodes[{field!r}]")
        n_features = getattr(estimator, "n_features_in_", None)
        if inner.any() and n_features is not None and (
            nodes["feature_idx"][inner].min() < 0 or nodes["feature_idx"][inner].max() >= n_features
        ):
            problems.append(f"{label}.nodes['feature_idx']")
    index = getattr(estimator, "_tree", None)
    if index is not None and hasattr(index, "get_arrays"):
        data, idx = index.get_arrays()[:2]
        if idx.size != len(data) or (idx.size and (idx.min() < 0 or idx.max() >= len(data))):
            problems.append("_tree.idx_array")
    if problems:
        raise DataError(f"load_model: {os.fspath(file)!r} holds inconsistent model structure ({', '.join(problems)}): "
                        "indices point outside their arrays, which would crash the worker that predicts with it. "
                        "Fix: load only model files written by daskcollab")


def _trees(estimator: Any) -> Iterator[tuple[str, Any]]:
    from sklearn.tree._tree import Tree

    tree = getattr(estimator, "tree_", None)
    if isinstance(tree, Tree):
        yield "tree_", tree
    for i, member in enumerate(getattr(estimator, "estimators_", None) or ()):
        for label, sub in _trees(member):
            yield f"estimators_[{i}].{label}", sub


def _predictors(estimator: Any) -> Iterator[tuple[str, Any]]:
    for i, round_ in enumerate(getattr(estimator, "_predictors", None) or ()):
        for j, predictor in enumerate(round_):
            yield f"_predictors[{i}][{j}]", predictor
