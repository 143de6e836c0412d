"""Workflow shapes and plan checks shared by the pure-policy tests (no cluster)."""

from __future__ import annotations

import random

import pytest

from daskcollab.placement import Pool, TaskSpec, eligible_pools

# the pools of benchmarks/bench_placement.py: spot (4 x speed 1), on-demand (2 x speed 2), gpu (1 x speed 4)
BENCH_POOLS = [
    Pool("cpu-spot", 0.10, 1.0, 4),
    Pool("cpu-ondemand", 0.40, 2.0, 2),
    Pool("gpu", 2.50, 4.0, 1, {"GPU": 1}),
]


def random_dag(n: int, seed: int, width: int = 3) -> list[TaskSpec]:
    rng = random.Random(seed)
    return [
        TaskSpec(i, rng.uniform(1.0, 20.0),
                 tuple(sorted({rng.randrange(i) for _ in range(rng.randint(0, width))})) if i else ())
        for i in range(n)
    ]


def epigenomics_like(lanes: int = 4, chains: int = 18, seed: int = 0) -> list[TaskSpec]:
    """WfCommons Epigenomics in miniature: per lane a long split, ``chains`` 4-task chains, a merge;
    then a global merge and a two-task tail."""
    rng = random.Random(seed)
    tasks, merges = [], []
    for lane in range(lanes):
        tasks.append(TaskSpec(f"split{lane}", rng.uniform(600, 1100), stage="split"))
        ends = []
        for c in range(chains):
            prev = f"split{lane}"
            for stage, work in (("filter", 20.0), ("sol2sanger", 10.0), ("fast2bfq", 4.5), ("map", 37.0)):
                key = f"{stage}{lane}_{c}"
                tasks.append(TaskSpec(key, work * rng.uniform(0.5, 1.5), (prev,), stage=stage))
                prev = key
            ends.append(prev)
        tasks.append(TaskSpec(f"merge{lane}", 23.0, tuple(ends), stage="merge"))
        merges.append(f"merge{lane}")
    tasks.append(TaskSpec("mergeall", 23.0, tuple(merges), stage="merge"))
    tasks.append(TaskSpec("chr21", 22.0, ("mergeall",), stage="chr21"))
    tasks.append(TaskSpec("pileup", 43.0, ("chr21",), stage="pileup"))
    return tasks


def bwa_like(width: int = 120, seed: int = 0) -> list[TaskSpec]:
    """WfCommons BWA in miniature: two sources (a short one and a long index build), a wide stage
    needing both, then a long serial tail beside a tiny sibling (both need the whole stage)."""
    rng = random.Random(seed)
    tasks = [TaskSpec("reduce", 4.5, stage="fastq_reduce"), TaskSpec("index", 116.0, stage="bwa_index")]
    wide = [TaskSpec(f"bwa{i}", 14.3 * rng.uniform(0.6, 1.4), ("reduce", "index"), stage="bwa") for i in range(width)]
    keys = tuple(t.key for t in wide)
    return tasks + wide + [TaskSpec("cat_bwa", 338.0, keys, stage="cat_bwa"), TaskSpec("cat", 0.1, keys, stage="cat")]


def check_valid(tasks: list[TaskSpec], pools: list[Pool], p, overhead: float = 0.0) -> None:
    """Every task on an eligible pool for its work / speed, after its dependencies (and their
    dispatch overhead), no two tasks at once on one worker, totals consistent."""
    by_name = {q.name: q for q in pools}
    for t in tasks:
        a = p.assignments[t.key]
        assert a.finish - a.start == pytest.approx(t.work / by_name[a.pool].speed)
        assert by_name[a.pool] in eligible_pools(t, pools)
        for d in t.dependencies:
            if d in p.assignments:
                assert p.assignments[d].finish <= a.start - overhead + 1e-9
    slots: dict = {}
    for a in p.assignments.values():
        slots.setdefault((a.pool, a.worker), []).append((a.start - overhead, a.finish))
    for (pool, worker), spans in slots.items():
        assert 0 <= worker < by_name[pool].workers
        spans.sort()
        assert all(f <= s2 + 1e-9 for (_, f), (s2, _) in zip(spans, spans[1:]))
    assert p.makespan == pytest.approx(max((a.finish for a in p.assignments.values()), default=0.0))
    assert p.cost == pytest.approx(sum(p.cost_by_pool.values()))
