"""A model file never runs code: crafted skops files are refused before anything is constructed.

The payloads below are what an attacker would ship: a skops reduce node whose constructor is
``builtins.eval`` (with a Python expression as its argument), and one that reaches ``os.system``
through ``builtins.getattr``. Each would create a marker file; the tests prove it does not exist.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import skops.io

import daskcollab as dc
from daskcollab._errors import DataError
from daskcollab.models._estimators import POSTFIT_ESTIMATORS
from daskcollab.models._files import load_model
from daskcollab.models._fitted import Task
from daskcollab.models._trusted import TRUSTED_LOADERS, TRUSTED_TYPES, skops_nodes


def _node(obj):
    """The skops schema node of a plain object (as skops itself writes it)."""
    with zipfile.ZipFile(io.BytesIO(skops.io.dumps(obj))) as z:
        schema = json.loads(z.read("schema.json"))
    schema.pop("protocol"), schema.pop("_skops_version")
    return schema


def _call(module, name, args, loader="ConstructorFromReduceNode"):
    """A node that makes skops call ``module.name(*args)`` while loading."""
    args = args if isinstance(args, dict) else _node(tuple(args))
    if loader == "ConstructorFromReduceNode":
        return {"__class__": name, "__module__": module, "__loader__": loader, "content": args}
    # the reduce form of scikit-learn's loss objects: constructor(*args), then its state
    return {"__class__": name, "__module__": module, "__loader__": loader, "__reduce__": {"args": args},
            "content": _node({})}


def _write_model_folder(folder, schema):
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"format": 1, "kind": "sklearn", "task": "classification",
                                                   "estimator": "SGDClassifier", "details": {}, "adapter": {}}))
    schema = {**schema, "protocol": skops.io._protocol.PROTOCOL, "_skops_version": skops.__version__}
    with zipfile.ZipFile(folder / "estimator.skops", "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    return folder


def eval_payload(marker):
    # a "loss object" whose constructor is eval: LossNode is a loader daskcollab's own files use
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('pwned')"
    return _call("builtins", "eval", [code], loader="LossNode")


def getattr_system_payload(marker):
    # getattr(os.system("touch marker"), "real"): building getattr's arguments calls os.system
    system = _call("os", "system", [f"touch {marker}"])
    args = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
            "content": [system, _node("real")]}
    return _call("builtins", "getattr", args)


PAYLOADS = {"eval": (eval_payload, ["builtins.eval"]), "getattr-os-system": (getattr_system_payload,
                                                                              ["builtins.getattr", "os.system"])}


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_payloads_are_real_exploits(tmp_path, name):
    """Control: skops runs each crafted file when its types are trusted (what a prefix rule allowed)."""
    payload, names = PAYLOADS[name]
    marker = tmp_path / "control-pwned"
    folder = _write_model_folder(tmp_path / "control", payload(marker))
    try:
        skops.io.load(folder / "estimator.skops",
                      trusted=names + ["builtins.tuple", "builtins.str", "builtins.dict", "builtins.list",
                                       "builtins.int"])
    except Exception:  # the payload may fail after it ran (getattr(0, "real") is fine; eval's value is not a loss)
        pass
    assert marker.exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_crafted_skops_files_are_refused_and_nothing_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    folder = _write_model_folder(tmp_path / "evil", PAYLOADS[name][0](marker))
    with pytest.raises(DataError, match=r"load_model: '.*estimator\.skops' contains types daskcollab never writes: "
                                        r"\[.*'builtins\.(eval|getattr)( \(loader \w+\))?'.*Nothing was loaded or run"):
        load_model(folder)
    assert not marker.exists()


def test_a_saved_model_stage_pointed_at_a_crafted_file_fails_cleanly(client, clf_store, tmp_path):
    marker = tmp_path / "pwned"
    folder = _write_model_folder(tmp_path / "evil", eval_payload(marker))
    src = dc.ZarrSource(clf_store, name="src")
    loaded = dc.SavedModel(src, name="loaded", path=str(folder))
    with pytest.raises(DataError, match=r"never writes: \[.*builtins\.eval"):
        dc.run(dc.Workflow("evil", [dc.Evaluate([loaded])]), client, progress=False)
    assert not marker.exists()


def test_a_trusted_type_with_a_calling_loader_is_refused(tmp_path):
    # a trusted *name* is not enough: FunctionNode/MethodNode/... would hand out callables
    schema = {"__class__": "SGDClassifier", "__module__": "sklearn.linear_model._stochastic_gradient",
              "__loader__": "FunctionNode", "content": _node({})}
    folder = _write_model_folder(tmp_path / "fn", schema)
    with pytest.raises(DataError, match=r"SGDClassifier \(loader FunctionNode\)"):
        load_model(folder)


def test_other_skops_protocols_and_broken_files_are_refused(tmp_path):
    folder = _write_model_folder(tmp_path / "old", _node({}))
    with zipfile.ZipFile(folder / "estimator.skops", "w") as z:
        z.writestr("schema.json", json.dumps({**_node({}), "protocol": 0}))
    with pytest.raises(DataError, match=r"uses skops protocol 0, expected \d+ .*Nothing was loaded"):
        load_model(folder)
    (folder / "estimator.skops").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match=r"is not a readable skops file"):
        load_model(folder)


@pytest.mark.parametrize("meta, field", [
    ({"format": 1, "kind": "pickle", "task": "classification"}, "kind"),
    ({"format": 1, "kind": "linear", "task": "classification", "coef": "1,2", "intercept": 0.0}, "coef"),
    ({"format": 1, "kind": "xgboost", "task": "ranking", "params": {}}, "task"),
    ({"format": 7, "kind": "linear", "task": "regression", "coef": [1.0], "intercept": 0.0}, "format"),
    ({"format": 1, "kind": "preprocess", "fill": None, "mean": None, "scale": None, "impute": "mode"}, "impute"),
    ({"format": 1, "kind": "sklearn", "task": "regression", "adapter": {"type": "incremental", "__init__": 1}},
     "adapter"),
])
def test_malformed_model_json_is_a_clear_error(tmp_path, meta, field):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(meta))
    (folder / "estimator.skops").write_bytes(skops.io.dumps(POSTFIT_ESTIMATORS["sgd"](Task.REGRESSION)))
    with pytest.raises(DataError, match=rf"model\.json', field '{field}': .*Fix: save the model again"):
        load_model(folder)


def test_a_corrupt_booster_is_a_clear_error(tmp_path):
    folder = tmp_path / "xgb"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"format": 1, "kind": "xgboost", "task": "classification",
                                                   "params": {}}))
    (folder / "booster.ubj").write_bytes(b"{not a booster")
    with pytest.raises(DataError, match=r"booster\.ubj' is not a readable xgboost model"):
        load_model(folder)


def _fitted_registered_estimators():
    """Every registered scikit-learn estimator, fitted the ways a workflow can fit it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    labels = {"binary": (X[:, 0] > 0).astype(np.int64), "multiclass": np.digitize(X[:, 0], [-0.5, 0.5])}
    variants = {"knn": [{}, {"algorithm": "ball_tree"}], "sgd": [{}, {"loss": "modified_huber"}]}
    for name, make in POSTFIT_ESTIMATORS.items():
        if name == "xgboost":  # xgboost's sklearn wrapper is refused on purpose (save an xgboost stage)
            continue
        for task in Task:
            for params in variants.get(name, [{}]):
                for kind, y in (labels.items() if task is Task.CLASSIFICATION else [("reg", X[:, 1])]):
                    try:
                        est = make(task)
                    except ValueError:
                        continue
                    if task is Task.CLASSIFICATION:
                        est.set_params(**params)
                    yield f"{name}/{kind}/{params}", est.fit(X, y), X


def test_every_registered_estimator_uses_only_trusted_types_and_round_trips(tmp_path):
    for i, (label, est, X) in enumerate(_fitted_registered_estimators()):
        file = tmp_path / f"{i}.skops"
        skops.io.dump(est, file)
        with zipfile.ZipFile(file) as z:
            nodes = set(skops_nodes(json.loads(z.read("schema.json"))))
        assert {n for n, _ in nodes} <= TRUSTED_TYPES, (label, {n for n, _ in nodes} - TRUSTED_TYPES)
        assert {loader for _, loader in nodes} <= TRUSTED_LOADERS, label
        from daskcollab.models._files import _load_trusted

        loaded = _load_trusted(file)
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X), err_msg=label)


def test_a_tree_with_out_of_range_children_is_refused(tmp_path):
    """Only trusted types, but a child index outside the tree: scikit-learn would read out of bounds."""
    from sklearn.tree import DecisionTreeClassifier

    from daskcollab.models._files import _load_trusted

    X = np.random.default_rng(0).normal(size=(100, 3))
    est = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    file = tmp_path / "tree.skops"
    skops.io.dump(est, file)
    with zipfile.ZipFile(file) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    schema = json.loads(entries["schema.json"])
    tree_state = next(node for node in _walk(schema) if node.get("__class__") == "Tree")
    nodes_file = tree_state["content"]["content"]["nodes"]["file"]
    nodes = np.load(io.BytesIO(entries[nodes_file]), allow_pickle=False)
    nodes["left_child"][0] = 10_000  # far outside the tree
    buffer = io.BytesIO()
    np.save(buffer, nodes, allow_pickle=False)
    entries[nodes_file] = buffer.getvalue()
    with zipfile.ZipFile(file, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    with pytest.raises(DataError, match=r"inconsistent model structure \(tree_\.children_left\)"):
        _load_trusted(file)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
