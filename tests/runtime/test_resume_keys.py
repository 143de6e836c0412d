"""Resume keys and the run state that decides reuse (no cluster)."""

from __future__ import annotations

import dask
import pytest

import daskcollab as dc
from daskcollab.runtime._resume import ResumeMode, ResumeStore, fingerprint, stage_key


@pytest.fixture
def store(tmp_path):
    from testdata import make_classification_store

    return make_classification_store(tmp_path / "in.zarr", rows=2_000, chunk_rows=500)


def test_keys_follow_parameters_inputs_and_data_bytes_not_scheduling(store, tmp_path):
    def xgb(path=store, rounds=5, retries=None, seed=0):
        src = dc.ZarrSource(path, name="src", split=dc.RowSplit(validation=0.25, test=0.25, seed=seed))
        return dc.XGBoostModel(src, name="xgb", rounds=rounds, retries=retries)

    base = stage_key(xgb())
    assert stage_key(xgb()) == base  # stable across processes' object identities
    assert stage_key(xgb(retries=3)) == base  # how it is scheduled is not what it computes
    assert stage_key(xgb(rounds=6)) != base
    assert stage_key(xgb(seed=1)) != base  # an input stage's parameter
    with dask.config.set({"collab.xgboost.deterministic": False}):
        assert stage_key(xgb()) != base
    before = fingerprint(store)
    import pathlib

    chunk = next(p for p in sorted(pathlib.Path(store).rglob("*")) if p.is_file() and p.name.isdigit())
    raw = bytearray(chunk.read_bytes())
    raw[-1] ^= 0xFF
    chunk.write_bytes(bytes(raw))  # one byte of one chunk
    assert fingerprint(store) != before and stage_key(xgb()) != base


@pytest.mark.parametrize("mode, previous, reusing", [
    ("after-failure", None, False), ("after-failure", "running", True), ("after-failure", "failed", True),
    ("after-failure", "done", False), ("always", "done", True), ("off", "running", False),
])
def test_when_a_run_reuses_stages(tmp_path, mode, previous, reusing):
    with dask.config.set({"collab.resume.path": str(tmp_path)}):
        if previous is not None:
            first = ResumeStore("wf", ResumeMode.ALWAYS)
            first.begin("r0")
            if previous != "running":  # "running": the client died before it could say
                first.finish(previous)
        store = ResumeStore("wf", mode)
        store.begin("r1")
        assert store.reusing is reusing
        assert ResumeStore("wf", mode, recompute=True).reusing is False
