"""The page, the Prometheus metrics and the report of one real run show the same numbers.

A cluster of two pools (one single-thread worker process each) with the placement plugin and a
dashboard on loopback; a small workflow (source, xgboost, standardize, linear model, blend,
evaluate) runs through ``daskcollab.run``. Its ledger (``placement_report(client, run=...)``) is
the reference; the page is checked in headless Chromium (marker ``browser``), the metrics by
scraping the scheduler's real ``/metrics``, the report by rendering the run's ``RunResult``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import urllib.request

import pytest
from distributed import Client, LocalCluster

import daskcollab as dc
from daskcollab.dashboard import PAGE_ROUTE, dashboard_url
from daskcollab.deploy import start_local_pools
from daskcollab.placement import PlacementPlugin, Pool, placement_report
from daskcollab.report import render_report
from daskcollab.view import fmt_money

POOLS = [Pool("cpu-spot", price_per_hour=0.10, speed=1.0, workers=1),
         Pool("cpu-ondemand", price_per_hour=0.40, speed=2.0, workers=1)]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Chromium as root on a machine without a display or outside network (see the README's test section).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def workflow(store, name="watched", **kwargs):
    src = dc.ZarrSource(store, name="src")
    xgb = dc.XGBoostModel(src, name="xgb", rounds=20)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="lin")
    blend = dc.Blend([xgb, lin], name="blend")
    return dc.Workflow(name, [dc.Evaluate([xgb, lin, blend], name="ev")], **kwargs)


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """(client, base URL, result of an over-budget run, result of a second run of another workflow)."""
    from testdata import make_classification_store

    tmp = tmp_path_factory.mktemp("watched")
    store = make_classification_store(tmp / "clf.zarr")
    plugin = PlacementPlugin(cost_model_path=tmp / "cost-model.json")
    with start_local_pools(POOLS, plugin=plugin, dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        base = f"http://127.0.0.1:{client.scheduler_info()['services']['dashboard']}"
        first = dc.run(workflow(store, budget=1e-6, deadline=600), client, progress=False)
        second = dc.run(workflow(store, name="second"), client, progress=False)
        yield client, base, first, second


def get(url: str) -> str:
    return urllib.request.urlopen(url, timeout=30).read().decode()


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The scheduler's ``/metrics``: ``{(sample name, sorted labels): value}``."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(get(base + "/metrics")) for s in family.samples}


@pytest.mark.slow
def test_page_metrics_and_report_show_the_ledgers_numbers(watched):
    client, base, first, second = watched
    for result in (first, second):
        ledger = placement_report(client, run=result.run_id)
        assert ledger["status"] == "done" and ledger["finished"] is not None
        intervals = sum(len(s["intervals"]) for s in ledger["stages"].values())
        assert intervals >= 6

        # the page's data (the same run_view the Bokeh page draws)
        page = json.loads(get(base + "/daskcollab/json"))["runs"][result.run_id]
        assert page["money"]["busy"] == ledger["cost_busy"] and page["money"]["held"] == ledger["cost_held"]
        assert {p: (x["busy"], x["held"]) for p, x in page["money"]["by_pool"].items()} == {
            p: (ledger["cost_busy_by_pool"].get(p, 0.0), ledger["cost_held_by_pool"].get(p, 0.0))
            for p in {*ledger["cost_busy_by_pool"], *ledger["cost_held_by_pool"]}}
        assert len(page["gantt"]) == intervals
        assert {s["stage"]: s["state"] for s in page["stages"]} == result.stage_states
        assert page["progress"]["by_stages"] == 1.0 and page["progress"]["by_work"] == 1.0
        assert page["outcome"]["metrics"] == json.loads(json.dumps(result.metrics))

        # the scheduler's /metrics
        metrics = scrape(base)
        labels = (("run", result.run_id), ("workflow", result.workflow))
        spent = {b: metrics[("dask_collab_workflow_spent_dollars", tuple(sorted((*labels, ("basis", b)))))]
                 for b in ("busy", "held")}
        assert spent == {"busy": ledger["cost_busy"], "held": ledger["cost_held"]}
        for stage, state in result.stage_states.items():
            key = ("dask_collab_stage_duration_seconds", tuple(sorted((*labels, ("stage", stage), ("state", state)))))
            assert metrics[key] > 0
        assert metrics[("dask_collab_stages", tuple(sorted((*labels, ("state", "done")))))] == len(result.stage_states)

        # the report of the RunResult
        report = render_report(result)
        summary = json.loads(re.search(r"id='run-view'>(.*?)</script>", report).group(1))
        assert (summary["money"]["busy"], summary["money"]["held"]) == (ledger["cost_busy"], ledger["cost_held"])
        assert summary["gantt_tasks"] == intervals and summary["stages"] == dict(result.stage_states)
        assert f"<span class='held'>{fmt_money(ledger['cost_held'])}</span>" in report

    # two runs on one scheduler keep separate numbers; the first is over its budget everywhere
    views = json.loads(get(base + "/daskcollab/json"))["runs"]
    assert views[first.run_id]["money"]["state"] == "over budget" and views[first.run_id]["money"]["budget"] == 1e-6
    assert views[second.run_id]["money"]["state"] == "no budget"
    metrics = scrape(base)
    assert metrics[("dask_collab_workflow_over_budget", (("run", first.run_id), ("workflow", "watched")))] == 1.0
    assert metrics[("dask_collab_workflow_budget_remaining_dollars", (("run", first.run_id), ("workflow", "watched")))] \
        == pytest.approx(1e-6 - placement_report(client, run=first.run_id)["cost_held"])
    assert "OVER BUDGET" in render_report(first)

    # cluster-wide series: money per pool, workers per pool, decisions by reason, tasks waiting
    cluster = placement_report(client)
    for pool in ("cpu-spot", "cpu-ondemand"):
        assert metrics[("dask_collab_pool_workers", (("pool", pool),))] == 1.0
        assert metrics[("dask_collab_pool_tasks_waiting", (("pool", pool),))] == 0.0
        assert metrics[("dask_collab_pool_spent_dollars_total", (("basis", "busy"), ("pool", pool)))] == \
            cluster["cost_by_pool"].get(pool, 0.0)
    reasons = {}
    for d in cluster["decisions"]:
        reasons[d["reason"]] = reasons.get(d["reason"], 0) + 1
    assert {r: metrics[("dask_collab_placement_decisions_total", (("reason", r),))] for r in reasons} == reasons


@pytest.mark.slow
def test_page_is_in_the_dask_menu_and_old_route_redirects(watched):
    client, base, first, _ = watched
    status = get(base + "/status")
    assert f'href="{PAGE_ROUTE.lstrip("/")}"' in status or PAGE_ROUTE in status
    assert "Daskcollab Runs" in status
    redirected = urllib.request.urlopen(base + "/daskcollab", timeout=30)
    assert redirected.geturl().endswith(PAGE_ROUTE)
    assert dashboard_url(client).endswith(PAGE_ROUTE)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_page_without_placement_shows_stages(clf_store):
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster) as client:
        src = dc.ZarrSource(clf_store, name="src")
        xgb = dc.XGBoostModel(src, name="xgb", rounds=3)
        # the in-process scheduler's log: daskcollab's run_on_scheduler calls leave no INFO line there
        records, dask_log = _Records(), logging.getLogger("distributed.worker")
        level = dask_log.level  # an earlier test in this process may have quieted Dask's loggers
        dask_log.setLevel(logging.INFO)
        dask_log.addHandler(records)
        try:
            result = dc.run(dc.Workflow("dash", [dc.Evaluate([xgb], name="ev")]), client, progress=False)

            def users_own_call(dask_scheduler=None):
                return len(dask_scheduler.workers)

            assert client.run_on_scheduler(users_own_call) == 2
        finally:
            dask_log.removeHandler(records)
            dask_log.setLevel(level)
        assert [line for line in records.lines if "out-of-band" in line] == [
            "Run out-of-band function 'users_own_call'"]
        base = f"http://127.0.0.1:{client.scheduler_info()['services']['dashboard']}"
        data = json.loads(get(base + "/daskcollab/json"))
        stages = {s["stage"]: s for s in data["stages"]}
        assert {"src", "xgb", "ev"} <= set(stages) and stages["src"]["done"] >= 6
        assert data["placement"] is None
        view = data["runs"][result.run_id]
        assert not view["placement"] and view["money"]["busy"] is None
        assert [s["state"] for s in view["stages"]] == ["done", "done", "done"]
        assert "Daskcollab Runs" in get(base + PAGE_ROUTE)


@pytest.mark.slow
@pytest.mark.browser
def test_page_in_headless_chromium(watched, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    client, base, first, second = watched
    ledger = placement_report(client, run=first.run_id)
    intervals = [i for s in ledger["stages"].values() for i in s["intervals"]]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                                    env={**os.environ, "HOME": str(tmp_path)})
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1150})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base + PAGE_ROUTE)
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && "
                                   "Bokeh.documents[0].get_model_by_name('daskcollab-gantt-source') !== null")
            # the newest run is selected first; choose the over-budget one as a user would
            page.locator("select").select_option(first.run_id)
            page.wait_for_function(
                "(n) => Bokeh.documents[0].get_model_by_name('daskcollab-gantt-source').data.left.length === n",
                arg=len(intervals), timeout=20_000)
            page.wait_for_timeout(1500)  # one more periodic update: every panel shows the selected run
            got = page.evaluate("""() => {
                const doc = Bokeh.documents[0], m = (n) => doc.get_model_by_name(n);
                const g = m('daskcollab-gantt-source').data;
                return {left: Array.from(g.left), right: Array.from(g.right), stage: Array.from(g.stage),
                        lanes: m('daskcollab-gantt').y_range.factors, run: m('daskcollab-run').value,
                        bars: Array.from(m('daskcollab-money-source').data.dollars)};
            }""")
            money = page.locator(".daskcollab-busy").first.inner_text(), page.locator(".daskcollab-held").first.inner_text()
            badge = page.locator(".daskcollab-budget-state").first.inner_text()
            canvases = page.locator("canvas").count()
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            if os.environ.get("DASKCOLLAB_SCREENSHOT"):
                page.screenshot(path=os.environ["DASKCOLLAB_SCREENSHOT"], full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert got["run"] == first.run_id
    started = ledger["started"]
    expected = sorted((round(a - started, 6), round(b - started, 6), stage)
                      for stage, s in ledger["stages"].items() for a, b, *_ in s["intervals"])
    assert sorted(zip((round(x, 6) for x in got["left"]), (round(x, 6) for x in got["right"]), got["stage"])) == expected
    assert sorted(got["lanes"]) == sorted({f"{pool} {worker}" for *_, pool, worker in intervals})
    assert money == (fmt_money(ledger["cost_busy"]), fmt_money(ledger["cost_held"]))
    assert badge == "OVER BUDGET"
    assert got["bars"] == [1e-6, ledger["cost_busy"], ledger["cost_held"]]  # budget, busy, held bars
    assert canvases >= 2  # the Gantt and the money chart were drawn
