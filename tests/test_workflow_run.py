"""Whole workflows on a real LocalCluster: Zarr in, xgboost.dask + dask-ml, blend, metrics, Zarr out."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zarr

import daskcollab as dc


def classification_workflow(store, out):
    src = dc.ZarrSource(store, name="src", split=dc.RowSplit(validation=0.25, test=0.25, seed=0))
    xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 4, "eta": 0.3}, rounds=30)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    blend = dc.Blend([xgb, lin], name="blend")
    return dc.Workflow("clf", [dc.Evaluate([xgb, lin, blend], name="eval"),
                               dc.ZarrSink([blend, xgb, lin], path=out, name="sink")])


def test_classification_workflow_end_to_end(client, clf_store, tmp_path):
    out = tmp_path / "pred.zarr"
    result = dc.run(classification_workflow(clf_store, out), client, progress=False)

    assert set(result.metrics) == {"xgb", "logreg", "blend"}
    for scores in result.metrics.values():
        assert set(scores) == {"auc", "accuracy", "log_loss"}
        assert 0.6 < scores["auc"] <= 1.0  # the synthetic failure label is learnable
    weights = result.weights["blend"]
    assert set(weights) == {"xgb", "logreg"}
    assert min(weights.values()) >= 0 and sum(weights.values()) == pytest.approx(1.0)
    # a blend fitted on validation rows is no worse than the worse model on test log-loss
    assert result.metrics["blend"]["log_loss"] <= max(result.metrics[m]["log_loss"] for m in ("xgb", "logreg"))
    assert list(result.timings) == ["src", "xgb", "scaled", "logreg", "blend", "eval", "sink"]
    assert result.outputs == {"sink": str(out)}
    assert result.models["xgb"]["rounds"] == 30

    group = zarr.open_group(out, mode="r")
    assert group.attrs["complete"] is True
    blend = group["blend"][:]
    assert blend.shape == (6_000,) and group["blend"].chunks == (1_000,)
    assert np.all((blend >= 0) & (blend <= 1))
    # the written blend is the weighted average of the models' predictions, row for row
    w = result.weights["blend"]
    expected = w["xgb"] * group["xgb"][:] + w["logreg"] * group["logreg"][:]
    np.testing.assert_allclose(blend, expected, rtol=1e-4, atol=1e-5)
    assert "blend 'blend' (weighted_average) weights (fitted on validation rows):" in result.table()


def test_regression_workflow(client, reg_store):
    src = dc.ZarrSource(reg_store, name="src", split=dc.ChunkSplit(train=(0, 4), validation=(4, 5), test=(5, None)))
    xgb = dc.XGBoostModel(src, name="xgb", task="regression", rounds=40)
    lin = dc.LinearModel(src, name="ols", task="regression")
    blend = dc.Blend([xgb, lin], name="blend")
    result = dc.run(dc.Workflow("reg", [dc.Evaluate([xgb, lin, blend])]), client, progress=False)
    assert set(result.metrics["blend"]) == {"rmse", "r2"}
    assert result.metrics["ols"]["r2"] > 0.7  # y is mostly linear in X
    assert result.metrics["blend"]["rmse"] <= max(result.metrics[m]["rmse"] for m in ("xgb", "ols")) + 1e-6


def test_blend_of_models_from_different_sources_is_refused(client, clf_store, tmp_path):
    from testdata import make_classification_store

    other = make_classification_store(tmp_path / "other.zarr", rows=5_000)
    a = dc.XGBoostModel(dc.ZarrSource(clf_store, name="a"), name="xa", rounds=3)
    b = dc.XGBoostModel(dc.ZarrSource(other, name="b"), name="xb", rounds=3)
    with pytest.raises(dc.DataError, match=r"stage 'blend', field 'models': 'xb' predicts rows chunked 5 chunks / 5000 rows but 'xa' 6 chunks / 6000 rows"):
        dc.run(dc.Workflow("w", [dc.Blend([a, b], name="blend")]), client, progress=False)


@pytest.mark.slow
def test_cli_validate_and_run_on_the_embedded_local_cluster(clf_store, tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text(textwrap.dedent(f"""
        name: cli-run
        stages:
          - {{name: src, type: zarr_source, path: {clf_store}}}
          - {{name: xgb, type: xgboost, data: src, rounds: 10}}
          - {{name: lin, type: linear, data: src}}
          - {{name: blend, type: blend, models: [xgb, lin]}}
          - {{name: ev, type: evaluate, models: [xgb, lin, blend]}}
          - {{name: out, type: zarr_sink, models: [blend], path: {tmp_path / 'out.zarr'}}}
    """))
    cli = [sys.executable, "-m", "daskcollab.cli"]
    ok = subprocess.run([*cli, "validate", str(wf)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "OK, workflow 'cli-run' with 6 stages" in ok.stdout

    ran = subprocess.run([*cli, "run", str(wf), "--no-progress", "--json", str(tmp_path / "r.json")],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "blend 'blend' (weighted_average) weights (fitted on validation rows):" in ran.stdout
    for model in ("xgb", "lin", "blend"):
        assert any(line.startswith(model + " ") for line in ran.stdout.splitlines())
    assert zarr.open_group(tmp_path / "out.zarr").attrs["complete"] is True

    bad = subprocess.run([*cli, "validate", str(tmp_path / "missing.yaml")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 3 and "cannot read the workflow file" in bad.stderr


@pytest.mark.parametrize("method", ["soft_voting", "hard_voting", "stacking"])
def test_other_blend_methods(client, clf_store, method):
    src = dc.ZarrSource(clf_store, name="src", split=dc.RowSplit(validation=0.25, test=0.25, seed=0))
    xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 4, "eta": 0.3}, rounds=20)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    blend = dc.Blend([xgb, lin], name="blend", method=method, folds=3)
    result = dc.run(dc.Workflow("m", [dc.Evaluate([xgb, lin, blend])]), client, progress=False)
    assert result.metrics["blend"]["auc"] > 0.6
    details = result.weights["blend"]
    assert set(details) == {"xgb", "logreg"}
    if method == "stacking":
        # the meta-learner's coefficients on the models' logits; xgb is the stronger model here
        assert details["xgb"] > details["logreg"]
    else:
        assert details == {"xgb": 0.5, "logreg": 0.5}


def test_voting_refuses_regression(client, reg_store):
    src = dc.ZarrSource(reg_store, name="src")
    a = dc.XGBoostModel(src, name="a", task="regression", rounds=3)
    b = dc.LinearModel(src, name="b", task="regression")
    with pytest.raises(dc.WorkflowError, match=r"stage 'vote', field 'method': soft_voting needs classification models"):
        dc.run(dc.Workflow("v", [dc.Blend([a, b], name="vote", method="soft_voting")]), client, progress=False)


def test_unpersisted_source_gives_the_same_predictions(client, clf_store, tmp_path):
    """persist=False (what auto picks for data larger than half the cluster memory) re-reads Zarr."""
    results = {}
    for persist in (True, False):
        src = dc.ZarrSource(clf_store, name="src", persist=persist)
        lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="lin")
        wf = dc.Workflow("p", [dc.Evaluate([lin], name="ev"), dc.ZarrSink([lin], path=tmp_path / f"{persist}.zarr")])
        results[persist] = dc.run(wf, client, progress=False)

    assert results[True].metrics == results[False].metrics
    np.testing.assert_array_equal(zarr.open_group(tmp_path / "True.zarr")["lin"][:],
                                  zarr.open_group(tmp_path / "False.zarr")["lin"][:])


def test_source_persist_auto_follows_cluster_memory(client, clf_store):
    from distributed import futures_of

    from daskcollab.workflow import StageContext

    ctx = StageContext(client, "w", "src", False)
    held = dc.ZarrSource(clf_store, name="src").run(ctx)  # 6,000 x 28 float32: far below half the memory
    assert held.persisted and futures_of(held.X)
    lazy = dc.ZarrSource(clf_store, name="src", persist=False).run(ctx)
    assert not lazy.persisted and not futures_of(lazy.X)


def test_stacking_fold_refits_side_by_side_match_distributed_refits(client, clf_store, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="daskcollab")
    src = dc.ZarrSource(clf_store, name="src", split=dc.RowSplit(validation=0.25, test=0.25, seed=0))
    xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 3}, rounds=15)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    stacks = [dc.Blend([xgb, lin], name=name, method="stacking", folds=3, local_fold_fraction=fraction)
              for name, fraction in (("local", 0.1), ("distributed", 0.0))]
    result = dc.run(dc.Workflow("s", [dc.Evaluate([xgb, lin, *stacks])]), client, progress=False)
    printed = caplog.text
    assert "local: refitting 'xgb' on 3 folds (side by side, one task per fold)" in printed
    assert "distributed: refitting 'xgb' on 3 folds (one fit after another)" in printed
    # the same estimators, trained in-process or distributed, give equally good stacks
    assert abs(result.metrics["local"]["auc"] - result.metrics["distributed"]["auc"]) < 0.02


def test_standardize_imputes_with_training_means_and_scales(client, tmp_path):
    from daskcollab.workflow import StageContext

    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, size=(4_000, 3))
    X[::7, 1] = np.nan
    store = dc.write_zarr_dataset(tmp_path / "nan.zarr", X, (X[:, 0] > 5).astype("float32"), chunk_rows=500)
    ctx = StageContext(client, "w", "s", False)
    src = dc.ZarrSource(store, name="src", split=dc.ChunkSplit(train=(0, 6), validation=(6, 7), test=(7, None)))
    data = src.run(ctx)
    scaled = dc.Standardize(src).run(ctx, data)
    out = scaled.X.compute()
    train = out[:3_000]
    assert not np.isnan(out).any()
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-4)
    # imputed cells sit at the training mean, i.e. exactly 0 after scaling
    np.testing.assert_allclose(out[::7, 1], 0.0, atol=1e-5)
    constant = dc.Standardize(src, impute="constant", fill_value=-100.0).run(ctx, data).X.compute()
    # the filled cells become the column's lowest value (-100 lies far below every observed value)
    np.testing.assert_allclose(constant[::7, 1], constant[:, 1].min())
    assert constant[1, 1] > constant[0, 1] + 1


def test_a_stacking_run_repeated_on_one_cluster_reuses_no_fold_key(client, clf_store):
    """Each run's side-by-side fold fits have their own keys: a repeated run never resubmits a key
    the scheduler may still know with other dependencies (Dask warns that this can deadlock)."""
    from distributed import get_task_stream

    def fold_keys_of_a_run() -> set[str]:
        src = dc.ZarrSource(clf_store, name="src", split=dc.RowSplit(validation=0.25, test=0.25, seed=0))
        xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 3}, rounds=5)
        lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
        stack = dc.Blend([xgb, lin], name="stack", method="stacking", folds=3, local_fold_fraction=0.1)
        with get_task_stream(client) as stream:
            dc.run(dc.Workflow("s", [dc.Evaluate([xgb, lin, stack])]), client, progress=False)
        return {t["key"] for t in stream.data if str(t["key"]).startswith("fit_predict_local")}

    warned_before = _run_spec_warnings(client)
    first, second = fold_keys_of_a_run(), fold_keys_of_a_run()
    assert len(first) == len(second) == 6  # 2 models x 3 folds
    assert not first & second
    assert _run_spec_warnings(client) == warned_before


def _run_spec_warnings(client) -> int:
    return sum("Detected different `run_spec`" in msg for _, msg in client.get_scheduler_logs(n=10_000))


def test_a_finished_run_holds_no_data_on_the_cluster(client, clf_store):
    """Once ``run`` returns (its result still in hand) no future of the run is left: nothing the
    run computed stays in cluster memory, run after run (the xgboost stage's context used to be
    kept alive by the client's event-loop tasks, with the booster and its predictions)."""
    import gc

    src = dc.ZarrSource(clf_store, name="src", split=dc.RowSplit(validation=0.25, test=0.25, seed=0))
    xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 3}, rounds=5)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    stack = dc.Blend([xgb, lin], name="stack", method="stacking", folds=3, local_fold_fraction=0.1)
    workflow = dc.Workflow("s", [dc.Evaluate([xgb, lin, stack])])
    results = [dc.run(workflow, client, progress=False) for _ in range(2)]
    gc.collect()
    assert all(r.metrics["stack"]["auc"] > 0.5 for r in results)
    # what the kept context held: the booster and its predictions (7 more keys per run). In one full
    # suite run 12 source ``concatenate`` futures were also left (not reproduced alone; under study)
    held = [str(k) for k in client.futures if "Booster" in str(k) or "_predict_block" in str(k)]
    assert held == []
