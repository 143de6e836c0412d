"""`daskcollab plan`: the run planner the placement plugin uses, with budget/deadline verdicts."""

from __future__ import annotations

import textwrap

from daskcollab.cli import main


def _stage_pools(out: str) -> dict[str, str]:
    lines = out.split("plan, stage by stage:")[1].splitlines()[2:]
    return {line.split()[0]: line.split()[1] for line in lines if line.startswith("  ")}


def test_plan_prints_modes_stages_estimates_and_deadline_verdicts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DASK_COLLAB__PLACEMENT__COST_MODEL_PATH", str(tmp_path / "none.json"))
    wf = tmp_path / "wf.yaml"
    wf.write_text(textwrap.dedent("""
        name: planned
        deadline: 40
        stages:
          - {name: src, type: zarr_source, path: x.zarr, cost: 2}
          - {name: xgb, type: xgboost, data: src, cost: 60}
          - {name: lin, type: linear, data: src, cost: 10}
          - {name: ev, type: evaluate, models: [xgb, lin]}
    """))
    pools = tmp_path / "pools.yaml"
    pools.write_text(textwrap.dedent("""
        - {name: spot, price-per-hour: 0.1, speed: 1.0, workers: 1}
        - {name: fast, price-per-hour: 0.4, speed: 2.0, workers: 1}
    """))
    assert main(["plan", str(wf), "--pools", str(pools)]) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[0].splitlines()
    rows = {line.split()[0]: line.split() for line in table if line.split() and line.split()[0] in
            ("fastest", "cheapest", "balanced")}
    assert set(rows) == {"fastest", "cheapest", "balanced"}
    # 60 s of xgb work takes 60 s on spot alone, past the 40 s deadline: every mode meets it elsewhere
    for mode, row in rows.items():  # mode, makespan, busy $, held $, bound $, budget, deadline
        assert row[6] == "ok", (mode, row)
        assert 0 < float(row[4]) <= float(row[3]), (mode, row)  # the bound is below the bill
    assert float(rows["cheapest"][3]) <= float(rows["fastest"][3])  # held $: what a cloud bills
    front = out.split("held-bill front (the cheapest plan within each makespan):")[1].split("\n\n")[0].splitlines()[2:]
    points = [tuple(map(float, line.split()[:3])) for line in front]
    assert points and all(b <= h for _, h, b in points)
    assert [m for m, _, _ in points] == sorted(m for m, _, _ in points)  # faster first, each one cheaper
    assert [h for _, h, _ in points] == sorted((h for _, h, _ in points), reverse=True)
    assert "src" in out and "hint" in out
    assert "stages with no history and no cost hint (planned at collab.placement.default-work): ev" in out

    wf.write_text(wf.read_text().replace("deadline: 40\n", ""))
    assert main(["plan", str(wf), "--pools", str(pools)]) == 0
    rows = capsys.readouterr().out
    cheapest = next(line for line in rows.splitlines() if line.startswith("cheapest"))
    assert cheapest.split()[6] == "-"  # no deadline to meet
    assert "balanced plan, stage by stage:" in rows
    # the cheapest plan, stage by stage, keeps everything on the spot pool
    monkeypatch.setenv("DASK_COLLAB__PLACEMENT__MODE", "cheapest")
    import dask.config

    dask.config.refresh()
    try:
        assert main(["plan", str(wf), "--pools", str(pools)]) == 0
        assert set(_stage_pools(capsys.readouterr().out).values()) == {"spot"}
    finally:
        monkeypatch.delenv("DASK_COLLAB__PLACEMENT__MODE")
        dask.config.refresh()
