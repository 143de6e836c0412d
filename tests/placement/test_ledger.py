"""The ledger (pure): held vs busy money, per-run windows, and what a finished stage teaches."""

from __future__ import annotations

import pytest

from daskcollab.placement._ledger import Ledger, stage_observation


def test_held_money_counts_idle_workers_and_busy_money_only_work():
    ledger = Ledger()
    ledger.worker_up("w1", "spot", 3.6, now=0.0)
    ledger.worker_up("w2", "gpu", 36.0, now=0.0)
    ledger.worker_down("w2", now=50.0)  # the expensive worker left after 50 s
    ledger.record_task("t", stage="fit", pool="spot", duration=10.0, price_per_hour=3.6, worker="w1")
    assert ledger.cost == pytest.approx(0.01)
    held = ledger.held_cost_by_pool(0.0, 100.0)
    assert held["spot"] == pytest.approx(0.1) and held["gpu"] == pytest.approx(0.5)  # idle, paid all the same


def test_a_run_ledger_closes_when_the_run_ends():
    ledger = Ledger()
    ledger.worker_up("w1", "spot", 3.6, now=0.0)
    run = ledger.start_run("r1", "wf", budget=0.001, deadline=None, now=10.0)
    ledger.record_task("a", stage="s", pool="spot", duration=1.0, price_per_hour=3.6, run="r1", start=10, stop=11)
    run.finished = 20.0
    ledger.record_task("b", stage="s", pool="spot", duration=5.0, price_per_hour=3.6, run="r1", start=30, stop=35)
    snap = ledger.run_snapshot(run, now=100.0)
    assert snap["stages"]["s"]["tasks"] == 1 and snap["cost_busy"] == pytest.approx(0.001)
    assert snap["cost_held"] == pytest.approx(0.01)  # 10 s window x 3.6 $/h
    assert snap["over_budget"] is True


def test_waiting_for_workers_other_stages_hold_is_not_latency():
    ledger = Ledger()
    run = ledger.start_run("r", "wf", budget=None, deadline=None, now=0.0)
    # one worker on pool p: stage "other" computes 0-8 s; stage "s" starts at 0 s, waits for the worker,
    # computes 8-10 s, then waits 3 s on the client (a round trip), computes 13-14 s, ends at 14 s
    for stage, start, stop in (("other", 0, 8), ("s", 8, 10), ("s", 13, 14)):
        ledger.record_task(f"{stage}-{start}", stage=stage, pool="p", duration=stop - start, price_per_hour=0,
                           worker="w", run="r", start=start, stop=stop)
    s = run.stages["s"]
    s.started, s.finished = 0.0, 14.0
    pool, work, width, latency, cost = stage_observation(s, {"p": 2.0}, run)
    assert (pool, work, width, cost) == ("p", 6.0, 1.0, 0.0)  # 3 busy seconds at speed 2, on a free pool
    assert latency == pytest.approx(3.0)  # the 8 s wait for the busy worker is contention, not latency
    assert stage_observation(s, {"p": 2.0})[3] == pytest.approx(11.0)  # without the run: every gap counts


def test_startup_is_billed_from_the_request_and_a_cancelled_request_until_it_was_withdrawn():
    ledger = Ledger()
    ledger.worker_up("s1", "spot", 3.6, now=0.0)  # nobody asked for it: billed from its join
    ledger.worker_requested("gpu", 36.0, 2, now=10.0)  # a controller asked for two GPU workers at 10 s
    assert ledger.booting_by_pool() == {"gpu": 2}
    ledger.worker_up("g1", "gpu", 36.0, now=16.0)  # booted 6 s
    assert ledger.requests_cancelled("gpu", now=18.0) == 1  # the second one was withdrawn at 18 s
    assert ledger.booting_by_pool() == {}
    ledger.worker_down("g1", now=40.0)
    held = ledger.held_seconds_by_pool(0.0, 100.0)
    assert held == {"spot": pytest.approx(100.0), "gpu": pytest.approx(30.0 + 8.0)}
    assert ledger.startup_seconds_by_pool(0.0, 100.0) == {"gpu": pytest.approx(6.0 + 8.0)}
    assert ledger.startup_cost_by_pool(0.0, 100.0)["gpu"] == pytest.approx(14.0 * 36.0 / 3600.0)
    # a run's window cuts the start-up it overlaps
    run = ledger.start_run("r", "wf", budget=None, deadline=None, now=12.0)
    run.finished = 30.0
    snap = ledger.run_snapshot(run, now=40.0)
    assert snap["startup_seconds_by_pool"] == {"gpu": pytest.approx(4.0 + 6.0)}
    assert snap["cost_startup"] == pytest.approx(10.0 * 36.0 / 3600.0)
    assert snap["cost_held_by_pool"]["gpu"] == pytest.approx((18.0 + 6.0) * 36.0 / 3600.0)  # 12-30 s and 12-18 s


def test_a_worker_asked_for_by_name_takes_its_own_request():
    ledger = Ledger()
    ledger.worker_requested("spot", 3.6, 1, names=("spot-7",), now=0.0)
    ledger.worker_requested("spot", 3.6, 1, names=("spot-8",), now=5.0)
    ledger.worker_up("tcp://b", "spot", 3.6, now=6.0, name="spot-8")
    ledger.worker_up("tcp://a", "spot", 3.6, now=9.0, name="spot-7")
    assert ledger.startup_seconds_by_pool(0.0, 10.0) == {"spot": pytest.approx(1.0 + 9.0)}
    # a worker nobody asked for under its name takes the oldest request of its pool
    ledger.worker_requested("spot", 3.6, 1, now=20.0)
    ledger.worker_up("tcp://c", "spot", 3.6, now=21.0, name="other")
    assert ledger.startup_seconds_by_pool(20.0, 30.0) == {"spot": pytest.approx(1.0)}


def test_a_stage_spread_over_two_pools_teaches_the_money_its_mix_of_pools_cost():
    ledger = Ledger()
    run = ledger.start_run("r", "wf", budget=None, deadline=None, now=0.0)
    # Dask's balancing put 3 of the stage's 4 seconds on the cheap pool
    for i, (pool, price) in enumerate((("spot", 0.36), ("spot", 0.36), ("spot", 0.36), ("ondemand", 1.44))):
        ledger.record_task(f"t{i}", stage="s", pool=pool, duration=1.0, price_per_hour=price, worker=pool,
                           run="r", start=i, stop=i + 1)
    s = run.stages["s"]
    s.started, s.finished = 0.0, 4.0
    main, work, _, _, cost = stage_observation(s, {"spot": 1.0, "ondemand": 1.0}, run)
    assert (main, work) == ("spot", 4.0)
    assert cost == pytest.approx((3 * 0.36 + 1.44) / 3600)
