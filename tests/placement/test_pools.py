"""Pool metadata, pool bounds and plan reports (pure)."""

from __future__ import annotations

import pytest

from daskcollab._errors import DaskCollabError
from daskcollab.placement import (
    Mode,
    Pool,
    TaskSpec,
    plan_report,
    pool_of_label,
    pool_resource,
    worker_metadata,
)
from daskcollab.placement._pools import (
    POOL_LABEL_QUANTITY,
    WorkerInfo,
    pool_from_mapping,
    pools_from_workers,
    split_resources,
    worker_info,
)


def test_pool_label_round_trip():
    assert pool_resource("cpu-spot") == "pool-cpu-spot"
    assert pool_of_label(pool_resource("cpu-spot")) == "cpu-spot"
    assert pool_of_label("GPU") is None
    assert split_resources({"GPU": 1, "pool-gpu": 1}) == ({"GPU": 1}, ["gpu"])
    with pytest.raises(DaskCollabError, match=r"non-empty pool name, got ''"):
        pool_resource("")


def test_worker_metadata_validates():
    assert worker_metadata("gpu", 2.5, 1.0) == {"pool": "gpu", "price_per_hour": 2.5, "speed": 1.0}
    with pytest.raises(DaskCollabError, match=r"speed.*> 0, got -1.*Fix: pass --speed"):
        worker_metadata("gpu", 2.5, -1)
    with pytest.raises(DaskCollabError, match=r"price per hour >= 0, got -0.5"):
        worker_metadata("gpu", -0.5)


def test_worker_info_prefers_metadata_then_label():
    meta = {"daskcollab": {"pool": "fast", "price_per_hour": 0.4, "speed": 2.0}}
    info = worker_info("tcp://a:1", meta, {"pool-fast": POOL_LABEL_QUANTITY, "GPU": 1})
    assert (info.pool, info.price_per_hour, info.speed, dict(info.resources)) == ("fast", 0.4, 2.0, {"GPU": 1})
    label_only = worker_info("tcp://b:1", {}, {"pool-spot": 1})
    assert (label_only.pool, label_only.price_per_hour) == ("spot", 0.0)
    assert worker_info("tcp://c:1", {}, {"GPU": 1}) is None


def test_pools_from_workers_counts_and_common_resources():
    pools = pools_from_workers(
        [
            WorkerInfo("a", "gpu", 2.5, 1.0, {"GPU": 2}),
            WorkerInfo("b", "gpu", 2.5, 1.0, {"GPU": 1}),
            WorkerInfo("c", "spot", 0.1, 1.0, {}),
        ]
    )
    assert pools["gpu"].workers == 2 and dict(pools["gpu"].resources) == {"GPU": 1}
    assert pools["spot"].price_per_hour == 0.1


def test_pool_from_mapping_and_errors():
    pool = pool_from_mapping({"name": "gpu", "price-per-hour": 2.5, "resources": {"GPU": 1}, "workers": 2})
    assert (pool.price_per_hour, pool.workers, dict(pool.resources)) == (2.5, 2, {"GPU": 1.0})
    with pytest.raises(DaskCollabError, match=r"expected a mapping with at least 'name'.*got \{'price': 1\}"):
        pool_from_mapping({"price": 1})
    with pytest.raises(DaskCollabError, match=r"field 'pools.gpu.max': expected a whole number of workers >= 0, got "
                       r"-1"):
        pool_from_mapping({"name": "gpu", "max": -1})


def test_pool_bounds_default_to_its_size_and_are_checked():
    assert (Pool("a", 0.1, workers=2).min_workers, Pool("a", 0.1, workers=2).max_workers) == (2, 2)
    elastic = pool_from_mapping({"name": "gpu", "price-per-hour": 2.5, "workers": 0, "max": 3})
    assert (elastic.workers, elastic.min_workers, elastic.max_workers) == (0, 0, 3)
    assert pool_from_mapping({"name": "s", "workers": 2, "min": 1, "max": 8}).min_workers == 1
    with pytest.raises(DaskCollabError, match=r"^stage 'placement', field 'pools.gpu.max': expected 0 <= min <= "
                       r"workers <= max, got min=2, workers=2, max=1. Fix: raise max to 2"):
        Pool("gpu", 2.5, workers=2, max_workers=1)
    with pytest.raises(DaskCollabError, match=r"field 'pools.gpu.min': expected 0 <= min <= workers <= max, got "
                       r"min=3, workers=1, max=4. Fix: lower min to 1"):
        pool_from_mapping({"name": "gpu", "workers": 1, "min": 3, "max": 4})
    with pytest.raises(DaskCollabError, match=r"field 'pools.gpu.min': expected a whole number of workers >= 0, "
                       r"got 0.5"):
        pool_from_mapping({"name": "gpu", "min": 0.5})


def test_plan_report_lists_every_mode_and_pool():
    pools = [Pool("spot", 0.1, 1.0, 2), Pool("fast", 0.4, 2.0, 1)]
    tasks = [TaskSpec(i, work=10.0) for i in range(6)]
    report = plan_report(tasks, pools, budget=1e-9, deadline=1e9)
    lines = report.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == [m.value for m in Mode]
    assert "MISS" in lines[1]  # a budget of ~0 cannot be met
    assert "lower bounds" in lines[-1]
