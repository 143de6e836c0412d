"""The elastic controller's decision rule and state (pure: no cluster)."""

from __future__ import annotations

import pytest

from daskcollab._errors import DaskCollabError
from daskcollab.deploy import ElasticController, ElasticPolicy, target_workers
from daskcollab.placement import Pool
from daskcollab.placement._demand import Need, PoolDemand

GPU = Pool("gpu", 2.50, workers=0, min_workers=0, max_workers=2)
SPOT = Pool("spot", 0.10, workers=1, min_workers=1, max_workers=8)


def demand(pool, *windows, busy=0, tasks=0):
    return PoolDemand(pool, tuple(Need(pool, a, b, k) for a, b, k in windows), busy, tasks)


def test_a_worker_is_asked_for_one_startup_time_before_the_plan_needs_it():
    d = demand("gpu", (30.0, 50.0, 1))
    # start-up 10 s, margin 0.5: the window looks 15 s ahead
    assert [target_workers(d, GPU, t, 10.0) for t in (0.0, 14.9, 15.0, 40.0, 50.0, 50.1)] == [0, 0, 1, 1, 1, 0]
    assert target_workers(d, GPU, 20.0, 10.0, margin=0.0) == 1 and target_workers(d, GPU, 19.9, 10.0, margin=0.0) == 0


def test_a_worker_needed_again_within_its_startup_time_is_kept_and_one_needed_later_goes():
    soon = demand("gpu", (0.0, 10.0, 1), (14.0, 20.0, 1))  # a 4 s gap, start-up 5 s (window 7.5 s)
    later = demand("gpu", (0.0, 10.0, 1), (30.0, 40.0, 1))  # a 20 s gap
    assert target_workers(soon, GPU, 10.5, 5.0) == 1  # keep: booting another would cost as much and come late
    assert target_workers(later, GPU, 10.5, 5.0) == 0  # let go, ask again 7.5 s before 30 s
    assert target_workers(later, GPU, 22.5, 5.0) == 1


def test_bounds_busy_workers_and_waiting_tasks():
    assert target_workers(None, GPU, 0.0, 5.0) == 0  # nothing planned: an expensive pool goes to zero
    assert target_workers(None, SPOT, 0.0, 5.0) == 1  # ... or to its min
    assert target_workers(demand("spot", (0.0, 9.0, 20)), SPOT, 0.0, 5.0) == 8  # never above max
    assert target_workers(demand("spot", busy=3), SPOT, 0.0, 5.0) == 3  # busy workers stay
    assert target_workers(demand("gpu", tasks=40), GPU, 0.0, 5.0) == 2  # 40 tasks wait, max 2


def test_policy_shrinks_after_the_cooldown_and_learns_startup_times():
    policy = ElasticPolicy([GPU, SPOT], startup={"gpu": 20.0}, cooldown=3.0, margin=0.0)
    assert policy.startup == {"gpu": 20.0, "spot": 30.0}
    gpu_soon = {"gpu": demand("gpu", (15.0, 30.0, 1))}
    assert policy.targets(gpu_soon, {"gpu": 0, "spot": 1}, now=0.0) == {"gpu": 1, "spot": 1}  # 15 s < 20 s start-up
    idle = {}
    assert policy.targets(idle, {"gpu": 1, "spot": 4}, now=40.0) == {"gpu": 1, "spot": 4}  # below since 40 s
    assert policy.targets(idle, {"gpu": 1, "spot": 4}, now=42.9) == {"gpu": 1, "spot": 4}
    assert policy.targets(idle, {"gpu": 1, "spot": 4}, now=43.0) == {"gpu": 0, "spot": 1}
    # a need in between resets the cooldown
    policy.targets(idle, {"gpu": 1, "spot": 1}, now=50.0)
    policy.targets({"gpu": demand("gpu", (51.0, 52.0, 1))}, {"gpu": 1, "spot": 1}, now=51.0)
    assert policy.targets(idle, {"gpu": 1, "spot": 1}, now=53.5)["gpu"] == 1
    # measured start-up times replace the guess, then are averaged
    policy.observe_startup("gpu", 6.0)
    assert policy.startup["gpu"] == 6.0
    policy.observe_startup("gpu", 10.0)
    assert policy.startup["gpu"] == pytest.approx(8.0)
    with_guess = policy.targets(gpu_soon, {"gpu": 0, "spot": 1}, now=0.0)
    assert with_guess["gpu"] == 0  # 15 s ahead is now beyond the (measured) 8 s start-up


def test_bad_settings_and_clusters_are_refused():
    with pytest.raises(DaskCollabError, match=r"^stage 'elastic', field 'interval': expected a positive value, got 0"):
        ElasticController(object(), interval=0)
    with pytest.raises(DaskCollabError, match=r"field 'startup': expected a duration .*, got 'soon'"):
        ElasticController(object(), startup="soon")
    with pytest.raises(DaskCollabError, match=r"field 'cluster': expected a cluster from start_local_pools, a "
                                              r"KubeCluster with its pools, or a PoolScaler, got .*Fix: pass"):
        ElasticController(object())
