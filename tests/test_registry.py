"""One stage registry: a stage's declarations drive its checks, its edges, its YAML schema and its
YAML form, so a new stage is one class."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

import jsonschema
import pytest

import daskcollab as dc
from daskcollab import WorkflowError, WorkflowFileError
from daskcollab.workflow._constraints import Choice, Integer, Number, Table, edge, param
from daskcollab.workflow._stage import STAGE_TYPES, Edge, Param, Stage, StageKind, declared_fields, stage_schema
from daskcollab.workflow._yaml import workflow_from_dict, workflow_schema


@pytest.fixture
def clip_stage():
    """A stage defined in a test: one class, nothing else edited."""

    @dataclass(eq=False)
    class Clip(Stage):
        data: Stage = edge(StageKind.SOURCE, StageKind.PREPROCESS)
        _: KW_ONLY
        limit: float = param(Number(min=0, exclusive_min=True), 3.0)
        mode: str = param(Choice(("both", "upper")), "both")
        extra: Sequence[Stage] = edge(StageKind.MODEL, min_items=0, optional=True)

        kind: ClassVar[StageKind] = StageKind.PREPROCESS
        type_name: ClassVar[str] = "clip_for_test"

    try:
        yield Clip
    finally:
        STAGE_TYPES.pop("clip_for_test", None)


def test_a_new_stage_is_one_class(clip_stage, tmp_path):
    assert STAGE_TYPES["clip_for_test"] is clip_stage
    src = dc.ZarrSource(tmp_path / "x.zarr", name="src")
    clip = clip_stage(src, name="clip", limit=2.0)
    assert clip.upstream() == (src,)  # the edge, found from the field's type
    lin = dc.LinearModel(clip, name="lin")
    assert [s.name for s in dc.Workflow("w", [lin]).stages] == ["src", "clip", "lin"]
    # validation from its declarations, in the house format
    with pytest.raises(WorkflowError, match=r"^stage 'clip', field 'limit': expected a positive number, got -1\. "
                                            r"Fix: limit=3\.0$"):
        dc.Workflow("w", [clip_stage(src, name="clip", limit=-1)])
    with pytest.raises(WorkflowError, match=r"stage 'clip', field 'mode': expected one of \['both', 'upper'\], got "
                                            r"'uper' \(did you mean \['upper'\]\?\)\. Fix: mode='both'"):
        dc.Workflow("w", [clip_stage(src, name="clip", mode="uper")])
    with pytest.raises(WorkflowError, match=r"stage 'clip', field 'data': expected a source or preprocess stage, got "
                                            r"linear stage 'lin'"):
        dc.Workflow("w", [clip_stage(lin, name="clip")])
    # its YAML schema and YAML form
    schema = stage_schema(clip_stage)
    assert schema["required"] == ["data"] and schema["properties"]["limit"] == {
        "type": "number", "exclusiveMinimum": 0, "default": 3.0}
    assert "clip_for_test" in workflow_schema()["properties"]["stages"]["items"]["properties"]["type"]["enum"]
    doc = {"name": "w", "stages": [{"name": "src", "type": "zarr_source", "path": str(tmp_path / "x.zarr")},
                                   {"name": "clip", "type": "clip_for_test", "data": "src", "limit": 1.5},
                                   {"name": "lin", "type": "linear", "data": "clip"}]}
    wf = workflow_from_dict(doc)
    assert wf["clip"].data is wf["src"] and wf["clip"].limit == 1.5 and wf["lin"].data is wf["clip"]
    doc["stages"][1]["limit"] = 0
    with pytest.raises(WorkflowFileError, match=r"stages\[1\]\.limit: 0 is less than or equal to the minimum of 0"):
        workflow_from_dict(doc)


def test_declaration_mistakes_are_caught_in_the_class_not_in_a_workflow():
    @dataclass(eq=False)
    class Undeclared(Stage):
        data: Stage = edge(StageKind.SOURCE)
        _: KW_ONLY
        level: int = 3  # no param(...)

        kind: ClassVar[StageKind] = StageKind.PREPROCESS
        type_name: ClassVar[str] = "undeclared_for_test"

    try:
        with pytest.raises(TypeError, match=r"stage class .*Undeclared, field 'level': declare it with param\(\.\.\.\)"):
            declared_fields(Undeclared)
        with pytest.raises(TypeError, match=r"stage type 'undeclared_for_test' is defined twice"):
            @dataclass(eq=False)
            class Again(Stage):
                kind: ClassVar[StageKind] = StageKind.PREPROCESS
                type_name: ClassVar[str] = "undeclared_for_test"
    finally:
        STAGE_TYPES.pop("undeclared_for_test", None)


def test_every_registered_stage_is_declared_exported_and_its_defaults_fit_its_schema():
    expected = {"zarr_source", "standardize", "xgboost", "linear", "incremental", "post_fit", "search", "saved_model",
                "update", "model_sink", "blend", "evaluate", "zarr_sink"}
    assert expected <= set(STAGE_TYPES)
    for type_name, cls in STAGE_TYPES.items():
        assert getattr(dc, cls.__name__) is cls and cls.__name__ in dc.__all__  # a new stage not exported fails here
        for spec in declared_fields(cls):
            if isinstance(spec, Param) and "default" in spec.schema():
                jsonschema.validate(spec.schema()["default"], spec.schema())
            if isinstance(spec, Edge):
                assert spec.name in {"data", "models", "model", "saved_by"}, (type_name, spec.name)


def test_edges_are_the_stage_typed_fields():
    src = dc.ZarrSource("x.zarr", name="src")
    xgb = dc.XGBoostModel(src, name="xgb")
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="lin")
    blend = dc.Blend([xgb, lin], name="blend")
    assert dc.Evaluate([xgb, blend], name="ev").upstream() == (xgb, blend)
    assert dc.UpdateModel(xgb, src, name="more").upstream() == (xgb, src)
    assert {type(d).__name__ for d in declared_fields(dc.XGBoostModel) if d.name in ("data", "rounds")} == {"Edge", "Param"}


def test_stage_checks_in_yaml_name_the_yaml_path_and_line(tmp_path):
    text = """
    name: kinds
    stages:
      - {name: src, type: zarr_source, path: x.zarr}
      - {name: xgb, type: xgboost, data: src, rounds: 5}
      - name: blend
        type: blend
        models: [xgb, src]
    """
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(WorkflowFileError, match=r"wf\.yaml: stages\[2\]\.models\[1\] \(line 8\): stage 'blend', field "
                                                r"'models\[1\]': expected a model or ensemble stage, got zarr_source "
                                                r"stage 'src'\. Fix: pass the model or ensemble stage object itself"):
        dc.load_workflow(path)
    path.write_text(textwrap.dedent(text).replace("models: [xgb, src]", "models: [xgb, xgb]\n    method: stacking\n"
                                                  "    fit_rows: validation\n    folds: 1"))
    with pytest.raises(WorkflowFileError, match=r"stages\[2\]\.folds \(line 11\): 1 is less than the minimum of 2"):
        dc.load_workflow(path)


def test_constraints_describe_and_check():
    assert Integer(min=1).expected() == "a positive integer" and Integer(min=2).expected() == "an integer >= 2"
    assert Integer(min=0, max=3).accepts(3) and not Integer(min=0).accepts(True) and not Integer().accepts(1.5)
    assert Number(min=0, max=1).expected() == "a number in [0, 1]" and not Number().accepts(float("nan"))
    assert Table(Number(min=0)).accepts({"GPU": 1}) and not Table(Number(min=0)).accepts({"GPU": -1})
    assert Table(min_items=1).schema() == {"type": "object", "minProperties": 1}
    assert Choice(dc.BlendMethod).accepts(dc.BlendMethod.STACKING) and Choice(dc.BlendMethod).accepts("stacking")
