"""A sink never deletes what the workflow reads, nor anything daskcollab did not write.

Every refusal happens when the workflow is built (before anything runs), and each test checks
that the input is byte-for-byte intact afterwards.
"""

from __future__ import annotations

import hashlib
import os

import dask.array as da
import numpy as np
import pytest
import zarr

import daskcollab as dc
from daskcollab import DataError, WorkflowError, WorkflowFileError
from daskcollab.data import write_predictions
from daskcollab.data._atomic import swap_into_place
from daskcollab.workflow._yaml import workflow_from_dict
from testdata import make_classification_store


def digest(path) -> str:
    """A hash of every file (name and bytes) under ``path``."""
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            file = os.path.join(root, name)
            h.update(os.path.relpath(file, path).encode())
            with open(file, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


@pytest.fixture
def store(tmp_path):
    (tmp_path / "data").mkdir()
    path = make_classification_store(tmp_path / "data" / "clf.zarr", rows=2_000)
    before = digest(tmp_path / "data")
    yield path
    assert digest(tmp_path / "data") == before  # the input is untouched, whatever the test did


def sink_workflow(source_path, sink_path, **sink):
    src = dc.ZarrSource(source_path, name="source")
    lin = dc.LinearModel(src, name="lin")
    return dc.Workflow("w", [dc.ZarrSink([lin], name="predictions", path=sink_path, **sink)])


@pytest.mark.parametrize("where, relation", [
    (lambda store: store, "is"),                                    # the input store itself
    (lambda store: os.path.dirname(store), "contains"),            # `path: data`
    (lambda store: os.path.join(store, "preds.zarr"), "lies inside"),
    (lambda store: os.path.join(os.path.dirname(store), ".", "..", "data", "clf.zarr"), "is"),
])
def test_a_sink_over_its_input_is_refused_when_the_workflow_is_built(store, where, relation):
    with pytest.raises(WorkflowError, match=rf"stage 'predictions', field 'path': '.*' {relation} '.*clf\.zarr', "
                                            r"the store that stage 'source' reads \(field 'path'\); writing there "
                                            r"would destroy the workflow's input\. Fix: write to a path outside"):
        sink_workflow(store, where(store), overwrite=True)


def test_a_symlink_to_the_input_is_seen_through(store, tmp_path):
    os.symlink(os.path.dirname(store), tmp_path / "alias")
    with pytest.raises(WorkflowError, match=r"contains '.*clf\.zarr', the store that stage 'source' reads"):
        sink_workflow(store, str(tmp_path / "alias"), overwrite=True)


def test_yaml_path_data_is_refused_with_the_file_named(store, tmp_path):
    doc = {"name": "w", "stages": [
        {"name": "source", "type": "zarr_source", "path": store},
        {"name": "lin", "type": "linear", "data": "source"},
        {"name": "predictions", "type": "zarr_sink", "models": ["lin"], "path": os.path.dirname(store),
         "overwrite": True},
    ]}
    with pytest.raises(WorkflowFileError, match=r"wf\.yaml: stages\[2\]\.path: stage 'predictions', field 'path': "
                                                r".* contains"):
        workflow_from_dict(doc, source="wf.yaml")


def test_overwrite_of_a_folder_daskcollab_did_not_write_is_refused(store, tmp_path):
    mine = tmp_path / "my-results"
    mine.mkdir()
    (mine / "thesis.txt").write_text("four years of work")
    with pytest.raises(WorkflowError, match=r"stage 'predictions', field 'overwrite': '.*my-results' exists and is "
                                            r"not a daskcollab output \(no daskcollab marker\).*Fix: choose a new path"):
        sink_workflow(store, str(mine), overwrite=True)
    with pytest.raises(WorkflowError, match=r"field 'path': '.*my-results' already exists\. Fix: set overwrite=True"):
        sink_workflow(store, str(mine))
    assert (mine / "thesis.txt").read_text() == "four years of work"


def test_overwrite_of_a_dataset_store_is_refused(store, tmp_path):
    other = make_classification_store(tmp_path / "other.zarr", rows=500)
    before = digest(other)
    with pytest.raises(WorkflowError, match=r"exists and is a daskcollab dataset output"):
        sink_workflow(store, other, overwrite=True)
    assert digest(other) == before


def test_two_sinks_on_one_path_are_refused(store, tmp_path):
    src = dc.ZarrSource(store, name="source")
    lin = dc.LinearModel(src, name="lin")
    out = str(tmp_path / "out.zarr")
    with pytest.raises(WorkflowError, match=r"stage 'a', field 'path': '.*out\.zarr' is '.*out\.zarr', which stage "
                                            r"'b' writes too"):
        dc.Workflow("w", [dc.ZarrSink([lin], name="a", path=out), dc.ZarrSink([lin], name="b", path=out)])


def test_a_model_sink_over_a_saved_model_or_an_input_is_refused(store, tmp_path):
    src = dc.ZarrSource(store, name="source")
    saved = dc.SavedModel(src, name="old", path=str(tmp_path / "models" / "xgb"))
    xgb = dc.XGBoostModel(src, name="xgb")
    with pytest.raises(WorkflowError, match=r"stage 'save', field 'path': '.*models/xgb' is '.*models/xgb', the "
                                            r"saved model that stage 'old' reads"):
        dc.Workflow("w", [dc.Evaluate([saved]), dc.ModelSink([xgb], name="save", path=str(tmp_path / "models"))])
    with pytest.raises(WorkflowError, match=r"stage 'save', field 'path': .* lies inside '.*clf\.zarr', the store"):
        dc.Workflow("w", [dc.ModelSink([xgb], name="save", path=store)])


def test_a_sink_refuses_a_foreign_folder_that_appears_after_the_build(client, store, tmp_path):
    out = tmp_path / "out.zarr"
    workflow = sink_workflow(store, str(out), overwrite=True)
    out.mkdir()  # someone else's folder shows up between build and run
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"stage 'predictions', field 'overwrite': .*out\.zarr' exists and is not a "
                                        r"daskcollab output"):
        dc.run(workflow, client, progress=False)
    assert (out / "notes.txt").read_text() == "keep me"
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_overwrite_replaces_daskcollab_predictions(client, tmp_path):
    arr = da.ones(10, chunks=5)
    path = tmp_path / "p.zarr"
    write_predictions(path, {"p": arr}, attrs={}, overwrite=False, stage="sink")
    assert zarr.open_group(path).attrs["daskcollab"]["kind"] == "predictions"
    write_predictions(path, {"p": arr * 3}, attrs={}, overwrite=True, stage="sink")
    assert zarr.open_group(path)["p"][0] == 3
    assert sorted(os.listdir(tmp_path)) == ["p.zarr"]


def test_write_zarr_dataset_and_save_model_refuse_foreign_folders(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("x")
    with pytest.raises(DataError, match=r"write_zarr_dataset, field 'overwrite': .*mine' exists and is not a "
                                        "daskcollab output"):
        dc.write_zarr_dataset(mine, np.ones((4, 2)), np.zeros(4), overwrite=True)
    from daskcollab.models._preprocess import Preprocessor

    with pytest.raises(DataError, match=r"save_model, path '.*mine': .* exists and is not a daskcollab output"):
        dc.save_model(Preprocessor(None, np.zeros(2), np.ones(2)), mine)
    assert (mine / "keep.txt").read_text() == "x" and sorted(os.listdir(tmp_path)) == ["mine"]


def test_swap_into_place_replaces_in_one_step(tmp_path):
    old, new = tmp_path / "out", tmp_path / "out.tmp"
    old.mkdir()
    (old / "v").write_text("old")
    new.mkdir()
    (new / "v").write_text("new")
    swap_into_place(new, old)
    assert (old / "v").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["out"]
