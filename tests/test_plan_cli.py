"""`daskcollab plan`: predicted makespan and cost per mode and pool, with budget/deadline checks."""

from __future__ import annotations

import textwrap

from daskcollab.cli import main


def test_plan_prints_modes_pools_and_deadline_verdicts(tmp_path, capsys):
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
        - {name: spot, price-per-hour: 0.1, speed: 1.0, workers: 2}
        - {name: fast, price-per-hour: 0.4, speed: 2.0, workers: 1}
    """))
    assert main(["plan", str(wf), "--pools", str(pools)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in
            ("fastest", "cheapest", "balanced")}
    assert set(rows) == {"fastest", "cheapest", "balanced"}
    # 60 s of xgb work: 30 s on the fast pool meets the 40 s deadline, 60 s on spot cannot,
    # so even the cheapest plan must run xgb on the fast pool
    for mode in rows:
        assert rows[mode].split()[5] == "ok", rows[mode]
    assert "fast: 3" in rows["cheapest"]
    assert float(rows["cheapest"].split()[2]) <= float(rows["fastest"].split()[2])
    assert "lower bounds: makespan" in out and "stages without a cost hint (planned at the default work): ev" in out

    # without the deadline, the cheapest plan keeps everything on the spot pool
    wf.write_text(wf.read_text().replace("deadline: 40\n", ""))
    assert main(["plan", str(wf), "--pools", str(pools)]) == 0
    cheapest = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("cheapest"))
    assert "spot" in cheapest and "fast" not in cheapest
