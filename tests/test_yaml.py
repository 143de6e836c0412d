"""The YAML form: every shipped workflow validates; bad files name the YAML path and line."""

from __future__ import annotations

import pathlib
import textwrap

import pytest

import daskcollab as dc
from daskcollab import WorkflowFileError, load_workflow
from daskcollab.workflow._stage import declared_fields
from daskcollab.workflow._yaml import STAGE_TYPES, workflow_schema

WORKFLOWS = sorted((pathlib.Path(__file__).parents[1] / "workflows").glob("*.yaml"))

GOOD = """
name: tiny
stages:
  - name: src
    type: zarr_source
    path: data/tiny.zarr
    split: {rows: {validation: 0.25, test: 0.25, seed: 1}}
  - {name: xgb, type: xgboost, data: src, rounds: 5, params: {max_depth: 3}}
  - {name: lin, type: linear, data: src}
  - {name: blend, type: blend, models: [xgb, lin]}
  - {name: ev, type: evaluate, models: [xgb, lin, blend]}
"""


def write(tmp_path, text):
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_shipped_workflows_validate(path):
    wf = load_workflow(path)
    assert wf.stages and isinstance(wf, dc.Workflow)


def test_good_file_builds_objects_wired_by_reference(tmp_path):
    wf = load_workflow(write(tmp_path, GOOD))
    assert [s.name for s in wf.stages] == ["src", "xgb", "lin", "blend", "ev"]
    assert wf["blend"].models == [wf["xgb"], wf["lin"]]
    assert wf["xgb"].data is wf["src"]
    assert wf["src"].split == dc.RowSplit(validation=0.25, test=0.25, seed=1)


def test_unknown_stage_type_names_path_line_and_registered_types(tmp_path):
    text = GOOD.replace("type: linear", "type: random_forest")
    with pytest.raises(WorkflowFileError, match=r"stages\[2\]\.type \(line 9\): unknown stage type 'random_forest'; registered types: \["):
        load_workflow(write(tmp_path, text))


def test_bad_field_value_and_unknown_field(tmp_path):
    with pytest.raises(WorkflowFileError, match=r"stages\[1\]\.rounds \(line 8\): 0 is less than the minimum of 1"):
        load_workflow(write(tmp_path, GOOD.replace("rounds: 5", "rounds: 0")))
    with pytest.raises(WorkflowFileError, match=r"stages\[1\] \(line 8\): Additional properties are not allowed \('round' was unexpected\) \(unknown field"):
        load_workflow(write(tmp_path, GOOD.replace("rounds: 5", "round: 5")))


def test_reference_typo_forward_reference_and_cycle(tmp_path):
    with pytest.raises(WorkflowFileError, match=r"stages\[3\]\.models\[1\] \(line 10\): no stage named 'linn'"):
        load_workflow(write(tmp_path, GOOD.replace("models: [xgb, lin]}", "models: [xgb, linn]}")))
    cyclic = """
    name: cyc
    stages:
      - {name: a, type: standardize, data: b}
      - {name: b, type: standardize, data: a}
    """
    with pytest.raises(WorkflowFileError, match=r"stages\[0\]\.data \(line 4\): stage 'b' is defined later in the file \(or the stages form a cycle\)"):
        load_workflow(write(tmp_path, cyclic))


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(WorkflowFileError, match="not valid YAML"):
        load_workflow(write(tmp_path, "name: [unclosed"))
    with pytest.raises(WorkflowFileError, match="cannot read the workflow file"):
        load_workflow(tmp_path / "nope.yaml")


def test_schema_covers_exactly_the_registered_types():
    enum = workflow_schema()["properties"]["stages"]["items"]["properties"]["type"]["enum"]
    assert sorted(enum) == sorted(STAGE_TYPES)
    by_type = workflow_schema()["properties"]["stages"]["items"]["allOf"]
    assert sorted(b["if"]["properties"]["type"]["const"] for b in by_type) == sorted(STAGE_TYPES)


def test_schema_fields_are_the_stage_constructor_parameters():
    import dataclasses

    by_type = {b["if"]["properties"]["type"]["const"]: b["then"]
               for b in workflow_schema()["properties"]["stages"]["items"]["allOf"]}
    for type_name, cls in STAGE_TYPES.items():
        params = {f.name for f in dataclasses.fields(cls)}
        assert set(by_type[type_name]["properties"]) == params | {"type"}, type_name
        assert {d.name for d in declared_fields(cls)} == params


def test_every_stage_type_loads_from_yaml(tmp_path):
    text = """
    name: zoo
    stages:
      - {name: old, type: zarr_source, path: old.zarr}
      - {name: new, type: zarr_source, path: new.zarr, split: {chunks: {train: [0, 4], validation: [4, 5], test: [5, null]}}}
      - {name: scaled, type: standardize, data: old, impute: constant, fill_value: 0}
      - {name: sgd, type: incremental, data: scaled, estimator: sgd, params: {alpha: 0.001}, passes: 2}
      - {name: rf, type: post_fit, data: scaled, estimator: random_forest, params: {n_estimators: 50}}
      - {name: tuned, type: search, data: old, estimator: hist_gradient_boosting, grid: {max_depth: [3, 6]}, method: random, n_iter: 2}
      - {name: xgb, type: xgboost, data: old, rounds: 10, max_train_rows: 1000}
      - {name: again, type: update, model: xgb, data: new, rounds: 5}
      - {name: loaded, type: saved_model, data: new, path: models/xgb}
      - {name: stack, type: blend, models: [sgd, rf, tuned], method: stacking, folds: 3}
      - {name: keep, type: model_sink, models: [xgb, rf], path: saved}
      - {name: ev, type: evaluate, models: [stack, again, loaded]}
    """
    wf = load_workflow(write(tmp_path, text))
    assert {type(s).__name__ for s in wf.stages} == {
        "ZarrSource", "Standardize", "IncrementalModel", "PostFitModel", "SearchModel", "XGBoostModel",
        "UpdateModel", "SavedModel", "Blend", "ModelSink", "Evaluate"}
    assert wf["again"].model is wf["xgb"] and wf["tuned"].grid == {"max_depth": [3, 6]}


def test_blend_and_linear_fields_of_this_release_load_from_yaml(tmp_path):
    text = """
        name: fields
        stages:
          - {name: src, type: zarr_source, path: data/x.zarr}
          - {name: lin, type: linear, data: src, solver: scikit-learn}
          - {name: xgb, type: xgboost, data: src, rounds: 5}
          - {name: es, type: blend, models: [xgb, lin], method: ensemble_selection, ensemble_size: 10, bags: 4}
          - {name: st, type: blend, models: [xgb, lin], method: stacking, fit_rows: validation}
    """
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(text))
    wf = dc.load_workflow(path)
    assert wf["es"].method == "ensemble_selection" and wf["es"].resolved_fit_rows() is dc.FitRows.OUT_OF_FOLD
    assert wf["st"].resolved_fit_rows() is dc.FitRows.VALIDATION and wf["lin"].solver == "scikit-learn"
    path.write_text(textwrap.dedent(text).replace("solver: scikit-learn", "solver: sklearn"))
    with pytest.raises(dc.WorkflowFileError, match=r"stages\[1\]\.solver \(line 5\): 'sklearn' is not one of"):
        dc.load_workflow(path)
