"""YAML files cannot hang validation or hide a value: aliases have a budget, keys must be unique."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import daskcollab as dc
from daskcollab import WorkflowFileError
from daskcollab.workflow._yaml import MAX_ALIAS_NODES, parse_yaml

LAUGHS = """
name: lol
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
stages: [*i]
"""


def test_exponential_aliases_are_refused_before_validation(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    with pytest.raises(WorkflowFileError, match=r"laughs\.yaml: line 3: YAML aliases expand this document to "
                                                r"[\d,]+ nodes, [\d,]+ more than the file holds \(at most 10,000 are "
                                                r"allowed\); nothing was validated\. Fix: write the values out"):
        dc.load_workflow(path)


def test_validate_cli_refuses_the_file_instead_of_hanging(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    # a subprocess with a generous hang guard: it returns at once when the budget works
    done = subprocess.run([sys.executable, "-m", "daskcollab.cli", "validate", str(path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]  # ExitCode.WORKFLOW: a bad workflow file
    assert "YAML aliases expand this document" in done.stdout + done.stderr


def test_recursive_alias_and_deep_nesting_are_refused():
    with pytest.raises(WorkflowFileError, match=r"w\.yaml: line 1: a recursive YAML alias"):
        parse_yaml("&a [1, *a]", source="w.yaml")
    with pytest.raises(WorkflowFileError, match=r"nested too deeply|not valid YAML"):
        parse_yaml("[" * 50_000 + "]" * 50_000, source="w.yaml")


def test_small_aliases_and_merge_keys_still_work(tmp_path):
    text = """
    name: shared
    stages:
      - {name: src, type: zarr_source, path: x.zarr}
      - name: deep
        type: xgboost
        data: src
        params: &params {max_depth: 6, eta: 0.1}
      - name: same
        type: xgboost
        data: src
        params: *params
      - name: merged
        type: xgboost
        data: src
        params:
          <<: *params
          eta: 0.3
    """
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(text))
    wf = dc.load_workflow(path)
    assert wf["same"].params == wf["deep"].params == {"max_depth": 6, "eta": 0.1}
    assert wf["merged"].params == {"max_depth": 6, "eta": 0.3}  # an explicit key over a merged one is not a duplicate
    assert MAX_ALIAS_NODES == 10_000


@pytest.mark.parametrize("text, where, key, lines", [
    ("name: a\nname: b\nstages: []\n", r"<top>", "name", (2, 1)),
    ("name: w\nstages:\n  - {name: src, type: zarr_source, path: x.zarr, path: y.zarr}\n", r"stages\[0\]", "path", (3, 3)),
    ("name: w\nstages:\n  - name: xgb\n    type: xgboost\n    data: src\n    params:\n      eta: 0.1\n      max_depth: 3\n"
     "      eta: 0.3\n", r"stages\[0\]\.params", "eta", (9, 7)),
])
def test_duplicate_keys_are_an_error_naming_the_key_and_lines(tmp_path, text, where, key, lines):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(WorkflowFileError, match=rf"dup\.yaml: {where} \(line {lines[0]}\): duplicate key '{key}' "
                                                rf"\(first given on line {lines[1]}\); YAML would silently keep the "
                                                r"last one\. Fix: remove one of them"):
        dc.load_workflow(path)


def test_a_workflow_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\nstages: []\n".encode("latin-1"))
    with pytest.raises(dc.WorkflowFileError, match=r"latin1\.yaml: not UTF-8 text \(byte 9: .*\)\. Fix: save the "
                                                  r"workflow file as UTF-8"):
        dc.load_workflow(path)
