"""A whole daskcollab workflow, xgboost.dask included, on heterogeneous pools under the plugin."""

from __future__ import annotations

import pytest
from distributed import Client

import daskcollab as dc
from daskcollab.deploy import start_local_pools
from daskcollab.placement import PLUGIN_NAME, Pool, placement_report


@pytest.mark.slow
def test_workflow_runs_under_the_placement_plugin_and_is_accounted(clf_store, tmp_path):
    pools = [Pool("cpu-spot", price_per_hour=0.10, speed=1.0, workers=1),
             Pool("cpu-ondemand", price_per_hour=0.40, speed=2.0, workers=1)]
    with start_local_pools(pools) as cluster, Client(cluster) as client:
        src = dc.ZarrSource(clf_store, name="src", cost=1.0)
        xgb = dc.XGBoostModel(src, name="xgb", rounds=10, cost=5.0)
        lin = dc.LinearModel(dc.Standardize(src, name="scaled", pool="cpu-spot"), name="lin")
        blend = dc.Blend([xgb, lin], name="blend")
        result = dc.run(dc.Workflow("pools", [dc.Evaluate([xgb, lin, blend], name="ev")]), client, progress=False)
        assert result.metrics["blend"]["auc"] > 0.6  # xgboost.dask trained fine among placed tasks

        report = placement_report(client)
        assert report["cost"] > 0 and set(report["cost_by_pool"]) <= {"cpu-spot", "cpu-ondemand", "(unannotated)"}
        # the stage pinned to a pool ran only there
        ran = client.run_on_scheduler(
            lambda dask_scheduler: {str(k): pool for k, (_, pool) in dask_scheduler.plugins[PLUGIN_NAME].state_.ledger.ran_on.items()}
        )
        scaled_pools = {pool for key, pool in ran.items() if "_transform_block" in key}
        assert scaled_pools == {"cpu-spot"}
