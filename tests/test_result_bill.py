"""The run table's bill: held money per pool (idle pools too) and the start-up part of it (pure)."""

from __future__ import annotations

import daskcollab as dc


def test_run_table_shows_held_and_startup_money_per_pool():
    result = dc.RunResult("w", metrics={}, cost={
        "busy": 0.003, "held": 0.025, "startup": 0.004,
        "busy_by_pool": {"spot": 0.001, "gpu": 0.002}, "held_by_pool": {"spot": 0.003, "gpu": 0.02, "cpu": 0.002},
        "startup_by_pool": {"gpu": 0.004}})
    table = result.table()
    assert "cost: $0.0030 busy, $0.0250 held ($0.0040 of it start-up)" in table
    assert "  gpu                  $0.0020 busy  $0.0200 held  $0.0040 start-up" in table
    assert "  cpu                  $0.0000 busy  $0.0020 held" in table  # a pool that held workers and ran nothing
    static = dc.RunResult("w", metrics={}, cost={"busy": 0.001, "held": 0.002, "busy_by_pool": {"spot": 0.001},
                                                  "held_by_pool": {"spot": 0.002}})
    assert "start-up" not in static.table()  # nothing asked for: no start-up line (older ledgers too)
