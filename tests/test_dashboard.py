"""The daskcollab dashboard page, served by a real scheduler's HTTP server during a run."""

from __future__ import annotations

import json
import urllib.request

from distributed import Client, LocalCluster

import daskcollab as dc
from daskcollab.dashboard import dashboard_url, render_page


def test_page_shows_stages_of_a_run(clf_store):
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster) as client:
        src = dc.ZarrSource(clf_store, name="src")
        xgb = dc.XGBoostModel(src, name="xgb", rounds=3)
        dc.run(dc.Workflow("dash", [dc.Evaluate([xgb], name="ev")]), client, progress=False)
        url = dashboard_url(client)
        assert url and url.endswith("/daskcollab")
        data = json.loads(urllib.request.urlopen(url + "/json", timeout=10).read())
        stages = {s["stage"]: s for s in data["stages"]}
        assert {"src", "xgb", "ev"} <= set(stages)
        assert stages["src"]["kind"] == "source" and stages["src"]["done"] >= 6  # one task per row chunk at least
        assert stages["xgb"]["compute_s"] > 0
        assert data["placement"] is None
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "<h2>Stages</h2>" in page and ">xgb<" in page and "placement plugin is not installed" in page


def test_render_page_with_placement_money():
    page = render_page(
        [{"workflow": "w", "stage": "xgb", "kind": "model", "submitted": 4, "done": 4, "erred": 0,
          "compute_s": 2.5, "first": 1.0, "last": 3.0}],
        {"cost": 0.0123, "budget": 0.05, "cost_by_pool": {"spot": 0.0023, "gpu": 0.01},
         "busy_seconds_by_pool": {"spot": 80.0, "gpu": 14.4}, "tasks_by_pool": {"spot": 3, "gpu": 1},
         "alive_seconds_by_pool": {"spot": 100.0, "gpu": 30.0, "cpu": 5.0},
         "alive_cost_by_pool": {"spot": 0.003, "gpu": 0.02, "cpu": 0.0005}, "startup_cost_by_pool": {"gpu": 0.004},
         "workers_by_pool": {"spot": 2, "gpu": 1}, "booting_by_pool": {"cpu": 1},
         "decisions": [{"stage": "xgb", "pool": "gpu", "ntasks": 1, "mode": "balanced", "reason": "planned"}]},
    )
    assert "Spent so far: <b>$0.0123</b> of a $0.0500 budget" in page
    # pool, workers, starting, tasks, busy s, busy $, held s, held $ (the bill), start-up $ (part of held)
    assert "<td>gpu</td><td>1</td><td>0</td><td>1</td><td>14.4</td><td>0.0100</td><td>30.0</td><td>0.0200</td>" \
           "<td>0.0040</td>" in page
    assert "<td>cpu</td><td>0</td><td>1</td><td>0</td><td>0.0</td><td>0.0000</td><td>5.0</td><td>0.0005</td>" in page
    assert "<td>2.0</td>" in page  # wall seconds of the stage
