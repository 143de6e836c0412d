"""The run view (pure) and the HTML report built on it, from plain data: no cluster."""

from __future__ import annotations

import json
import re

import pytest

from daskcollab._errors import DataError
from daskcollab.report import load_result, render_report, write_report
from daskcollab.view import BudgetState, DeadlineState, fmt_money, run_from_result, run_view

T0 = 1_000.0


def ledger(**over):
    """A run's ledger as ``PlacementPlugin.snapshot(run=...)`` returns it (two pools, three stages)."""
    base = {
        "run_id": "wf-1", "workflow": "wf", "status": "running", "started": T0, "finished": None,
        "budget": 0.01, "deadline": 30.0, "cost_busy": 0.002, "cost_held": 0.006,
        "cost_busy_by_pool": {"spot": 0.0005, "fast": 0.0015}, "cost_held_by_pool": {"spot": 0.002, "fast": 0.004},
        "cost_startup_by_pool": {"fast": 0.001},
        "busy_seconds_by_pool": {"spot": 18.0, "fast": 13.5}, "held_seconds_by_pool": {"spot": 72.0, "fast": 36.0},
        "over_budget": False, "over_deadline": False, "replans": 1, "alerts": [],
        "deadline_margin": 13.0, "cost_held_spot": 0.002, "cost_held_on_demand": 0.004,  # spot pools: {"spot"}
        "plan": {"mode": "balanced", "makespan": 20.0, "cost": 0.0018, "held_cost": 0.005,
                 "stages": {"src": {"pool": "spot", "start": 0.0, "finish": 2.0, "work": 2.0, "cost": 0.0001},
                            "xgb": {"pool": "fast", "start": 2.0, "finish": 14.0, "work": 24.0, "cost": 0.0013},
                            "ev": {"pool": "spot", "start": 14.0, "finish": 20.0, "work": 6.0, "cost": 0.0004}}},
        "stages": {
            "src": {"state": "done", "started": T0, "finished": T0 + 2.5, "tasks": 2, "busy_seconds": 3.0,
                    "cost_busy": 0.0001, "cost_held": 0.0004, "pools": {"spot": {}},
                    "intervals": [[T0 + 0.1, T0 + 1.6, "spot", "w1"], [T0 + 0.2, T0 + 1.7, "spot", "w2"]]},
            "xgb": {"state": "running", "started": T0 + 2.5, "finished": None, "tasks": 1, "busy_seconds": 13.5,
                    "cost_busy": 0.0015, "cost_held": 0.004, "pools": {"fast": {}},
                    "intervals": [[T0 + 2.6, T0 + 16.1, "fast", "w3"]]},
        },
    }
    base.update(over)
    return base


def monitor_run():
    return {"run_id": "wf-1", "workflow": "wf", "started": T0, "finished": None, "status": "running",
            "graph": {"src": {"kind": "source", "inputs": []}, "xgb": {"kind": "model", "inputs": ["src"]},
                      "ev": {"kind": "evaluate", "inputs": ["xgb"]}},
            "stages": {"src": {"state": "done", "kind": "source", "done": 2}, "xgb": {"state": "running", "kind": "model",
                                                                               "done": 1},
                       "ev": {"state": "pending", "kind": "evaluate", "done": 0}},
            "outcome": {}}


def test_percent_complete_counts_stages_and_planned_work_not_tasks():
    v = run_view(monitor_run(), ledger(), now=T0 + 17.0)
    p = v["progress"]
    assert (p["stages_done"], p["stages_total"], p["stages_running"]) == (1, 3, 1)
    assert p["by_stages"] == pytest.approx(1 / 3)
    assert p["by_work"] == pytest.approx(2.0 / 32.0)  # src's planned work of 2 + 24 + 6
    assert [s["state"] for s in v["stages"]] == ["done", "running", "pending"]
    assert v["stages"][1]["inputs"] == ["src"] and v["stages"][2]["planned_pool"] == "spot"


def test_money_time_plan_and_gantt():
    v = run_view(monitor_run(), ledger(), now=T0 + 17.0)
    m = v["money"]
    assert (m["busy"], m["held"], m["budget"]) == (0.002, 0.006, 0.01)
    assert m["remaining"] == pytest.approx(0.004) and m["state"] == BudgetState.WITHIN.value
    assert m["by_pool"]["fast"] == {"busy": 0.0015, "held": 0.004, "busy_seconds": 13.5, "held_seconds": 36.0,
                                    "startup": 0.001}  # start-up is part of held (billed from the request)
    assert m["by_pool"]["spot"]["startup"] == 0.0
    assert v["time"] == {"elapsed": 17.0, "deadline": 30.0, "state": DeadlineState.WITHIN.value, "remaining": 13.0,
                         "margin": 13.0}
    assert (m["held_spot"], m["held_on_demand"]) == (0.002, 0.004)  # what the ledger split by its spot pools
    assert v["plan"]["makespan"] == {"planned": 20.0, "actual": 17.0}
    assert v["plan"]["cost_held"] == {"planned": 0.005, "actual": 0.006}
    assert [(g["stage"], g["pool"], g["worker"]) for g in v["gantt"]] == [("src", "spot", "w1"), ("src", "spot", "w2"),
                                                                          ("xgb", "fast", "w3")]
    assert v["gantt"][2]["start"] == pytest.approx(2.6) and v["gantt"][2]["stop"] == pytest.approx(16.1)


def test_over_budget_and_over_deadline_are_explicit_states():
    v = run_view(monitor_run(), ledger(cost_held=0.012, over_budget=True, over_deadline=True, status="over-budget",
                                      alerts=["workflow 'wf', field 'budget': spent"]), now=T0 + 31.0)
    assert v["money"]["state"] == BudgetState.OVER.value and v["money"]["remaining"] == pytest.approx(-0.002)
    assert fmt_money(v["money"]["remaining"]) == "-$0.0020"
    assert v["time"]["state"] == DeadlineState.OVER.value and v["alerts"]
    none = run_view(monitor_run(), ledger(budget=None, deadline=None), now=T0 + 1)
    assert none["money"]["state"] == BudgetState.NONE.value and none["time"]["state"] == DeadlineState.NONE.value


def test_without_placement_stages_still_show_and_money_is_unknown():
    v = run_view(monitor_run(), {}, now=T0 + 5.0)
    assert not v["placement"] and v["money"]["busy"] is None and v["gantt"] == [] and v["plan"] is None
    assert v["progress"]["by_work"] is None and v["progress"]["stages_done"] == 1
    assert v["time"]["elapsed"] == 5.0


def result_dict():
    led = ledger(status="done", finished=T0 + 20.0)
    led["stages"]["xgb"].update(state="done", finished=T0 + 17.0)
    led["stages"]["ev"] = {"state": "reused", "started": T0 + 17.0, "finished": T0 + 17.0, "tasks": 0,
                           "busy_seconds": 0.0, "cost_busy": 0.0, "cost_held": 0.0, "pools": {}, "intervals": []}
    return {"workflow": "wf", "run_id": "wf-1", "started_at": T0, "finished_at": T0 + 20.0, "makespan_s": 20.0,
            "metrics": {"xgb": {"auc": 0.8, "log_loss": 0.45}, "lin": {"auc": 0.7, "log_loss": 0.5},
                        "blend": {"auc": 0.81, "log_loss": 0.44}},
            "weights": {"blend": {"xgb": 0.7, "lin": 0.3}}, "blends": {"blend": {"method": "weighted_average"}},
            "timings": {"src": 2.5, "xgb": 14.5, "ev": 0.0}, "outputs": {}, "warnings": [],
            "stage_states": {"src": "done", "xgb": "done", "ev": "reused"}, "placements": led,
            "plan": led["plan"], "graph": monitor_run()["graph"]}


def test_report_is_self_contained_with_dag_gantt_costs_plan_metrics_and_gains(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(result_dict()))
    out = write_report(path, tmp_path / "report.html")
    text = open(out, encoding="utf-8").read()
    # no network needed: no external script, stylesheet, image or font
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", text) and "<script src" not in text
    assert text.count("class='stage'") == 3 and "data-state='reused'" in text  # the DAG, coloured by state
    assert text.count("class='task'") == 3  # one bar per task interval
    assert "<span class='busy'>$0.0020</span>" in text and "<span class='held'>$0.0060</span>" in text
    assert "<td>fast</td><td>13.5</td><td>36.0</td><td>$0.0015</td><td>$0.0040</td>" in text
    assert "<td>makespan (s)</td><td>20.0</td><td>20.0</td><td>1.00</td>" in text
    assert "<td>blend</td><td>auc</td><td>+0.0100</td><td>xgb</td>" in text  # gain over the best member
    assert "Reused (not recomputed): ev." in text
    summary = json.loads(re.search(r"<script type='application/json' id='run-view'>(.*?)</script>", text).group(1))
    assert summary["money"]["held"] == 0.006 and summary["gantt_tasks"] == 3
    assert summary["stages"] == {"src": "done", "xgb": "done", "ev": "reused"}


def test_report_of_a_run_without_placement_says_so():
    data = {**result_dict(), "placements": {}, "plan": {}}
    text = render_report(data)
    assert "No money: the run had no placement plugin" in text and "No task intervals" in text
    assert run_from_result(data)["status"] == "done"


def test_report_rejects_a_file_that_is_not_a_run_result(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DataError, match=r"bad.json: RunResult.from_json: expected a JSON object with a 'workflow' name"):
        load_result(bad)
    with pytest.raises(DataError, match="expected a RunResult JSON file"):
        load_result(tmp_path / "missing.json")
