"""Several xgboost stages training at once on shared single-thread workers (real cluster)."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import zarr

import daskcollab as dc


def _workflow(store, out):
    src = dc.ZarrSource(store, name="src")
    models = [dc.XGBoostModel(src, name=f"xgb{i}", rounds=8, params={"max_depth": 2 + i}) for i in range(3)]
    return dc.Workflow("three-xgb", [dc.Evaluate(models, name="ev"), dc.ZarrSink(models, path=out, name="sink")])


def test_collectives_sharing_workers_take_turns_and_match_the_sequential_run(client, clf_store, tmp_path):
    # each collective wants both workers (one rank per worker, each blocking its only thread until
    # its peers join); run side by side they must take turns on shared workers, not fail to bootstrap
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a hang guard (not a speed check)
        running = pool.submit(dc.run, _workflow(clf_store, tmp_path / "a.zarr"), client, progress=False)
        together = running.result(timeout=600)
    alone = dc.run(_workflow(clf_store, tmp_path / "b.zarr"), client, progress=False, concurrency=1)
    assert set(together.stage_states.values()) == {"done"}
    a, b = zarr.open_group(str(tmp_path / "a.zarr"), mode="r"), zarr.open_group(str(tmp_path / "b.zarr"), mode="r")
    for name in ("xgb0", "xgb1", "xgb2"):
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
    assert together.metrics == alone.metrics


def _slow_chunk(i: int, rows: int) -> np.ndarray:
    import time

    time.sleep(1.5 * i)  # chunk i is ready 1.5 s after chunk i - 1
    rng = np.random.default_rng(i)
    X = rng.normal(size=(rows, 3)).astype(np.float32)
    return np.column_stack([X, (X[:, 0] > 0).astype(np.float32)])


def test_no_rank_starts_before_every_training_chunk_is_in_memory(client):
    """A rank holds its worker's only thread while the collective bootstraps; a chunk still to be
    computed (or recomputed after a worker loss) must not have to wait for such a thread. Here the
    second worker's chunk is computed 3 s after the first: no rank may start before it exists."""
    import dask
    import dask.array as da
    from distributed import get_task_stream

    from daskcollab.models._xgboost_train import train_collective

    rows = 500
    table = da.concatenate([da.from_delayed(dask.delayed(_slow_chunk, pure=False)(i, rows), (rows, 4), np.float32)
                            for i in range(3)])
    # without deterministic cuts no quantile sample waits for every chunk first (as on a retry,
    # whose cuts are already known while chunks lost with a worker are recomputed)
    with get_task_stream(client) as stream, dask.config.set({"collab.xgboost.deterministic": False}):
        X, y = client.persist([table[:, :3], table[:, 3]])
        train_collective(client, X, y, {"max_depth": 2}, 3, stage="xgb")
    stops = {}
    for t in stream.data:
        for s in t["startstops"]:
            if s["action"] == "compute":
                stops.setdefault(str(t["key"]), []).append((s["start"], s["stop"]))
    chunks_ready = max(stop for k, v in stops.items() if "slow_chunk" in k for _, stop in v)
    rank_starts = [start for k, v in stops.items() if k.startswith("xgboost-rank-") for start, _ in v]
    assert len(rank_starts) == 2
    assert min(rank_starts) >= chunks_ready


def test_a_tracker_that_aborts_ends_only_its_own_process():
    """xgboost's tracker calls std::terminate on some broken connections; it runs in a process of
    its own, so an abort (SIGABRT) there leaves this process, and the next tracker, unharmed."""
    import os
    import signal
    import time

    from daskcollab.models._xgboost_train import _spawn_tracker, _tracker_process

    first = _tracker_process(2, "127.0.0.1", 30)
    assert first["pid"] != os.getpid() and {"dmlc_tracker_uri", "dmlc_tracker_port"} <= set(first["args"])
    os.kill(first["pid"], signal.SIGABRT)
    deadline = time.monotonic() + 30  # the system reaps it (a hang guard, not a speed check)
    while time.monotonic() < deadline:
        try:
            os.kill(first["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the aborted tracker process is still there")
    assert _spawn_tracker(1, "127.0.0.1", 30)["dmlc_tracker_port"] != first["args"]["dmlc_tracker_port"]


def test_a_tracker_whose_collective_failed_never_answers_the_next_request():
    """A tracker whose ranks never came ends with an error; that must not reach the next training
    as its tracker's arguments (it did: the next collective then waited for a dead tracker)."""
    import time

    from daskcollab.models._xgboost_train import _tracker_process

    failed = _tracker_process(2, "127.0.0.1", 1)  # no rank will come: it times out after 1 s
    time.sleep(2.5)
    after = _tracker_process(1, "127.0.0.1", 30)
    assert after["pid"] != failed["pid"] and after["args"]["dmlc_tracker_port"] != failed["args"]["dmlc_tracker_port"]
