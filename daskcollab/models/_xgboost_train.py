"""Distributed xgboost training that survives a lost worker and does not depend on the data layout.

daskcollab runs xgboost's collective itself, with xgboost's public pieces (``RabitTracker``,
``collective.CommunicatorContext``, ``QuantileDMatrix``, ``xgboost.train`` and a training callback),
instead of ``xgboost.dask.train``, because the latter (3.2.0) hangs or fails when a worker leaves
(xgboost#9419: its tasks are pinned to workers, and a replacement fails "Resilience is not yet
supported"), leaves its cross-worker ``MultiLock`` held when the client dies (the next run then waits
forever), and gives a model that depends on which worker holds which chunk.

How one training runs (:func:`train_collective`):

1. **Deterministic cuts** (``collab.xgboost.deterministic``, default on). xgboost sketches feature
   quantiles per worker and merges the sketches, so the histogram cuts, and the model, depend on the
   partition layout (two layouts of the same 120 k rows differed by up to 0.5 in predicted
   probability here). Instead every feature is first *snapped down* to at most ``max_bin - 1``
   values: the training minimum plus quantiles of a seeded, layout-independent row sample
   (:func:`quantile_edges`, :func:`snap`). With fewer distinct values than bins xgboost's sketch is
   exact, so the cuts, and the trees, are the same for any layout and any number of workers
   (measured: identical predictions for 1, 2 and 3 workers and random layouts, equal to a
   single-process fit, bar float32 rounding of 1e-7). Snapping down is consistent with xgboost's
   split rule (``x < cut``, cuts at data values), so the booster predicts raw features directly.
2. **Layout**: the non-empty training chunks, in order, are dealt to ``ranks`` contiguous runs
   (:func:`rank_layout`); rank ``r`` is one task pinned to the ``r``-th eligible worker (the live
   workers of the stage's pool, sorted by name). Ranks are ``collab.xgboost.ranks`` or the number of
   eligible workers.
3. **Checkpoints**: every ``collab.xgboost.checkpoint-every`` rounds rank 0 stores the model in a
   ``distributed.Variable`` on the scheduler. Every round the ranks agree (an allreduce of one
   flag) whether any of them was cancelled, and stop together: a run given up, or a client that
   died, never leaves ranks training (nor a lock held).
4. **Loss**: while the ranks train, the driver watches the workers. When one of them leaves
   (peers then fail with "Encountered EOF"), the ranks are cancelled, the loss is counted against the
   stage's recovery budget (:mod:`daskcollab._recovery`; preemptions apart), the driver waits
   up to ``collab.recovery.replacement-wait`` for replacement workers, and a new collective is built
   on the live workers (their DMatrix from the chunks, recomputed by Dask where lost) that continues
   from the last checkpoint with ``xgb_model=``. Continuing is exact for deterministic parameters
   (measured: 20 + 30 rounds equal 50 rounds), row subsampling included: ``subsample`` < 1 draws
   rows by global index and round (:mod:`daskcollab.models._row_sampling`), the same for any
   layout and for a continued training. With column sampling (``colsample_*`` < 1), or row
   sampling under an objective that module does not cover, xgboost draws, a continued training
   would draw differently, so such a training restarts from round 0 instead.
5. A stage that cannot recover (budget spent, no eligible worker left) raises
   :class:`~daskcollab.RecoveryError` naming the lost workers and the fix; never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
from distributed import Client, Future, Lock, Variable, futures_of, wait

from daskcollab import _config
from daskcollab._context import current_context
from daskcollab._contract import ANNOTATION_KEY, POOL_PREFIX
from daskcollab._errors import RecoveryError, RunCancelledError, stage_message
from daskcollab._recovery import Loss, LossKind, LostWork, classify, current_budget, preempted_workers
from daskcollab.models import _row_sampling
from daskcollab.models._sklearn_fitted import booster_from_bytes

logger = logging.getLogger("daskcollab")

#: Rows of the seeded sample the quantile edges come from.
EDGE_SAMPLE_ROWS = 200_000
#: Parameters that draw random rows or columns (a continued training would draw differently).
_SAMPLING = ("subsample", "colsample_bytree", "colsample_bylevel", "colsample_bynode")
#: How long after a rank's error the driver waits for the scheduler to notice a dead peer.
_LOSS_NOTICE_S = 5.0
_POLL_S = 0.25
#: How far predictions may move when a training's collective has another number of ranks (a worker
#: lost for good, or a training that starts before a restarted worker is back): xgboost adds the
#: ranks' histograms in another order, which moves a probability by a float32 rounding or two
#: (measured: at most 2.4e-7 in ``bench_chaos.py``). With the same rank count outputs are bit-identical.
RANK_COUNT_TOLERANCE = 1e-6


# ---- pure pieces -------------------------------------------------------------------------------
def rank_layout(sizes: Sequence[int], ranks: int) -> list[list[int]]:
    """Chunk indices per rank: the non-empty chunks in order, cut into ``ranks`` contiguous runs of
    about equal rows (fewer ranks when there are fewer non-empty chunks).

    Examples
    --------
    >>> rank_layout([10, 10, 0, 10, 10], 2)
    [[0, 1], [3, 4]]
    >>> rank_layout([5, 5], 4)
    [[0], [1]]
    """
    chunks = [i for i, n in enumerate(sizes) if n > 0]
    if not chunks:
        return []
    ranks = max(1, min(int(ranks), len(chunks)))
    before = np.concatenate([[0], np.cumsum([sizes[i] for i in chunks])])  # rows before each chunk
    layout, start = [], 0
    for r in range(ranks):
        if r == ranks - 1:
            end = len(chunks)
        else:
            target = before[-1] * (r + 1) / ranks
            end = start + 1  # at least one chunk, and leave one for every later rank
            while end < len(chunks) - (ranks - 1 - r) and (before[end] + before[end + 1]) / 2 <= target:
                end += 1
        layout.append(chunks[start:end])
        start = end
    return layout


def quantile_edges(sample: np.ndarray, low: np.ndarray, max_bin: int = 256) -> list[np.ndarray]:
    """Per feature, at most ``max_bin - 1`` increasing values to snap data to (see :func:`snap`):
    the training minimum ``low`` and ``lower`` quantiles of ``sample`` (NaN ignored).

    Examples
    --------
    >>> edges = quantile_edges(np.arange(10.0).reshape(-1, 1), np.array([-1.0]), max_bin=4)
    >>> edges[0].tolist()
    [-1.0, 4.0, 9.0]
    """
    sample = np.asarray(sample, dtype=np.float64)
    n_edges = max(int(max_bin) - 1, 2)
    edges = []
    for j in range(sample.shape[1]):
        col = sample[:, j]
        col = col[np.isfinite(col)]
        lo = float(low[j]) if np.isfinite(low[j]) else (float(col.min()) if col.size else 0.0)
        if col.size == 0:
            edges.append(np.array([lo]))
            continue
        q = np.quantile(col, np.linspace(0.0, 1.0, n_edges), method="lower")
        edges.append(np.unique(np.concatenate([[lo], q[1:]])))
    return edges


def snap(block: np.ndarray, edges: Sequence[np.ndarray]) -> np.ndarray:
    """Each value replaced by the largest edge not above it (the first edge below all); NaN kept.

    Examples
    --------
    >>> snap(np.array([[0.5], [3.0], [np.nan], [9.0]]), [np.array([0.0, 2.0, 4.0])]).ravel().tolist()
    [0.0, 2.0, nan, 4.0]
    """
    out = np.empty(block.shape, dtype=np.float32)
    for j, e in enumerate(edges):
        col = block[:, j]
        idx = np.clip(np.searchsorted(e, col, side="right") - 1, 0, len(e) - 1)
        out[:, j] = np.where(np.isnan(col), np.nan, e[idx])
    return out


def samples_randomly(params: Mapping[str, Any]) -> bool:
    """True when ``params`` leave random draws to xgboost (column sampling, or row sampling with an
    objective :mod:`~daskcollab.models._row_sampling` does not cover), so a continued training
    would draw differently from a clean run. Rows subsampled layout-free resume exactly."""
    if _row_sampling.supported(params):
        params = _row_sampling.without_subsample(params)
    return any(float(params.get(k, 1.0)) < 1.0 for k in _SAMPLING)


# ---- on the workers ----------------------------------------------------------------------------
def _chunk_low(block: np.ndarray) -> np.ndarray:
    if block.shape[0] == 0:
        return np.full((1, block.shape[1]), np.inf)
    with np.errstate(invalid="ignore"):
        finite = np.where(np.isfinite(block), block, np.inf)
    return finite.min(axis=0, keepdims=True).astype(np.float64)


def _edges_task(sample: np.ndarray, lows: np.ndarray, max_bin: int) -> list[np.ndarray]:
    return quantile_edges(sample, np.min(lows, axis=0), max_bin)


def _cancelled() -> bool:
    """True when this task was cancelled or released (the run was given up, or its client died)."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        ts = get_worker().state.tasks.get(thread_state.key)
        return ts is None or ts.state in ("cancelled", "released", "forgotten")
    except Exception:  # not in a task (tests), or distributed internals moved: never stop early
        return False


def _rank_callback(rank: int, every: int, checkpoint: str | None):
    import xgboost
    from xgboost import collective

    class Checkpoint(xgboost.callback.TrainingCallback):
        """Stop all ranks together when one is cancelled; rank 0 ships the model every ``every`` rounds."""

        def after_iteration(self, model, epoch, evals_log) -> bool:
            stop = collective.allreduce(np.array([1.0 if _cancelled() else 0.0]), collective.Op.MAX)
            if stop[0] > 0:
                return True
            if rank == 0 and checkpoint is not None and model.num_boosted_rounds() % every == 0:
                from distributed import get_client

                Variable(checkpoint, client=get_client()).set(bytes(model.save_raw("ubj")))
            return False

    return Checkpoint()


def _train_rank(rank: int, comm: Mapping[str, Any], params: Mapping[str, Any], rounds: int, model: bytes | None,
                edges: list[np.ndarray] | None, checkpoint: str | None, every: int, starts: Sequence[int],
                *parts: np.ndarray) -> bytes | None:
    """One rank of the collective: a QuantileDMatrix of its chunks (snapped), ``rounds`` more rounds.

    ``starts`` are the global index of each chunk's first row: rows subsampled layout-free
    (:class:`~daskcollab.models._row_sampling.LayoutFreeSubsample`) are drawn by global index."""
    import xgboost
    from distributed import get_worker
    from xgboost import collective

    nthread = max(1, int(get_worker().state.nthreads))
    n_parts = len(starts)
    X_parts, y_parts = parts[:n_parts], parts[n_parts:]

    class Parts(xgboost.DataIter):
        def __init__(self) -> None:
            self.i = 0
            super().__init__(release_data=True)

        def next(self, input_data) -> bool:
            if self.i == len(X_parts):
                return False
            block = np.asarray(X_parts[self.i])
            input_data(data=snap(block, edges) if edges is not None else block, label=np.asarray(y_parts[self.i]))
            self.i += 1
            return True

        def reset(self) -> None:
            self.i = 0

    local = {**params, "nthread": nthread}
    with collective.CommunicatorContext(**comm, dmlc_task_id=f"daskcollab-rank-{rank:05d}"):
        dtrain = xgboost.QuantileDMatrix(Parts(), max_bin=int(params.get("max_bin", 256)), nthread=nthread)
        start = booster_from_bytes(model) if model is not None else None
        if start is not None:
            start.set_param({"nthread": nthread})
        obj = None
        if _row_sampling.supported(params):
            local = _row_sampling.without_subsample(local)
            if start is None and "base_score" not in params:  # xgboost fits no intercept for a custom objective
                stats = _row_sampling.label_stats(params["objective"], dtrain.get_label(), params.get("num_class", 0),
                                                  params.get("scale_pos_weight", 1.0))
                local["base_score"] = _row_sampling.base_score(
                    params["objective"], collective.allreduce(stats, collective.Op.SUM))
            rows = _row_sampling.row_indices(starts, [len(p) for p in y_parts])
            obj = _row_sampling.LayoutFreeSubsample(params, rows, first_round=start.num_boosted_rounds() if start else 0)
        booster = xgboost.train(local, dtrain, num_boost_round=rounds, xgb_model=start, verbose_eval=False, obj=obj,
                                callbacks=[_rank_callback(rank, every, checkpoint)])
    return bytes(booster.save_raw("ubj")) if rank == 0 else None


#: xgboost's tracker runs in a process of its own: its C++ thread calls std::terminate on some broken
#: connections ("send system error: Broken pipe" when a rank's worker dies at the wrong moment),
#: which aborted the whole process hosting it (the scheduler; with a LocalCluster, the user's). A
#: small server imports xgboost once and forks one process per tracker (a fork starts in
#: milliseconds; a fresh interpreter took 1.1 s here); a tracker that aborts ends only its process.
_TRACKER_SERVER = """
import json, os, signal, sys
from xgboost.tracker import RabitTracker
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked trackers are reaped by the system
for line in sys.stdin:
    request, n_workers, host, timeout = json.loads(line)
    if os.fork() == 0:  # one line answers the request, then nothing more is printed
        try:
            tracker = RabitTracker(n_workers=n_workers, host_ip=host, sortby="task", timeout=timeout)
            tracker.start()
            answer = {"request": request, "args": tracker.worker_args(), "pid": os.getpid()}
        except Exception as exc:
            print(json.dumps({"request": request, "error": str(exc)}), flush=True)
            os._exit(1)
        print(json.dumps(answer), flush=True)
        try:
            tracker.wait_for()
        except Exception:
            pass  # the collective failed; the trainer sees it from its ranks
        os._exit(0)  # skip the tracker's destructor, which re-raises a failed collective's error
"""
_TRACKERS: dict[str, Any] = {}  # "server": the running server process
_TRACKERS_LOCK = threading.Lock()


def _spawn_tracker(n_workers: int, host: str, timeout: int) -> dict[str, Any]:
    """Start xgboost's tracker in a process of its own (see ``_TRACKER_SERVER``); its worker arguments."""
    return _tracker_process(n_workers, host, timeout)["args"]


def _tracker_process(n_workers: int, host: str, timeout: int) -> dict[str, Any]:
    """``{"args": worker arguments, "pid": the tracker's process}``."""
    if not hasattr(os, "fork"):  # Windows: in this process, on a thread (as xgboost.dask does)
        return {"args": _thread_tracker(n_workers, host, timeout), "pid": os.getpid()}
    request = uuid.uuid4().hex
    with _TRACKERS_LOCK:  # one request at a time
        for _ in range(2):  # a server that died is started again once
            server = _TRACKERS.get("server")
            if server is None or server.poll() is not None:
                server = _TRACKERS["server"] = subprocess.Popen(
                    [sys.executable, "-c", _TRACKER_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                server.stdin.write(json.dumps([request, int(n_workers), host, int(timeout)]) + "\n")
                server.stdin.flush()
                while line := server.stdout.readline():
                    answer = json.loads(line)
                    if answer.get("request") != request:
                        continue  # not this request's answer (none should come, but never take another's)
                    if "error" in answer:
                        raise RuntimeError(f"xgboost's tracker did not start: {answer['error']}")
                    return answer
            except (BrokenPipeError, OSError, ValueError):
                pass
            _TRACKERS.pop("server", None)
    raise RuntimeError("xgboost's tracker server ended before it answered")


def _thread_tracker(n_workers: int, host: str, timeout: int) -> dict[str, Any]:
    from xgboost.tracker import RabitTracker

    tracker = RabitTracker(n_workers=n_workers, host_ip=host, sortby="task", timeout=int(timeout))
    tracker.start()

    def serve() -> None:
        with contextlib.suppress(Exception):  # a failed collective: the trainer sees it from its ranks
            tracker.wait_for()
        with contextlib.suppress(Exception):  # freed here, not in __del__ at some later collection
            tracker.free()

    threading.Thread(target=serve, daemon=True, name="daskcollab-xgboost-tracker").start()
    return dict(tracker.worker_args())


async def _start_tracker(n_workers: int, host: str, timeout: int, dask_scheduler: Any = None) -> dict[str, Any]:
    """:func:`_spawn_tracker` on the scheduler (like xgboost.dask's tracker), off its event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, _spawn_tracker, n_workers, host, timeout)


def _workers_view(dask_scheduler: Any = None) -> dict[str, dict[str, Any]]:
    """Running workers: ``{address: {"name", "resources"}}`` (executed on the scheduler)."""
    return {addr: {"name": str(ws.name), "resources": dict(ws.resources or {})}
            for addr, ws in dask_scheduler.workers.items() if ws.status.name == "running"}


# ---- the driver (client side) ------------------------------------------------------------------
def train_collective(
    client: Client,
    X: da.Array,
    y: da.Array,
    params: Mapping[str, Any],
    rounds: int,
    *,
    xgb_model: Any = None,
    stage: str = "xgboost",
) -> Any:
    """Train ``rounds`` rounds (more, after ``xgb_model``) on the row chunks of ``X``, ``y``; the booster.

    See the module docstring. ``X`` and ``y`` should be persisted (they are here otherwise).

    Raises
    ------
    RecoveryError
        Workers were lost more often than the stage's recovery budget allows, or no eligible
        worker is left to train on.
    """
    budget = current_budget(stage)
    deterministic = bool(_config.get("xgboost.deterministic"))
    every = int(_config.get("xgboost.checkpoint-every"))
    timeout = int(dask.utils.parse_timedelta(_config.get("xgboost.collective-timeout")))
    wait_s = float(dask.utils.parse_timedelta(_config.get("recovery.replacement-wait")))
    want = _config.get("xgboost.ranks")
    ctx = current_context()
    given_up = ctx.given_up if ctx is not None else threading.Event()  # set: the run was given up
    params = {k: v for k, v in params.items() if k != "nthread"}
    exact_resume = not samples_randomly(params)

    if not (_persisted(X) and _persisted(y)):  # e.g. rows taken from a persisted array: its own chunks are not
        X, y = client.persist([X, y])
    X_parts, y_parts = _ordered_futures(X), _ordered_futures(y)
    sizes = list(X.chunks[0])
    starts = [int(v) for v in np.cumsum([0, *sizes[:-1]])]  # each chunk's first global row
    edges = _edges(client, X, int(params.get("max_bin", 256))) if deterministic else None

    initial = bytes(xgb_model.save_raw("ubj")) if xgb_model is not None else None
    base_rounds = int(xgb_model.num_boosted_rounds()) if xgb_model is not None else 0
    target = base_rounds + int(rounds)
    annotations = dict(dask.get_annotations())
    collab = dict(annotations.get(ANNOTATION_KEY) or {})
    anchor = _pool_labels(client, X_parts, collab.get("pool"))
    checkpoint = Variable(f"daskcollab-xgboost-checkpoint-{uuid.uuid4().hex}", client=client)
    started = time.time()
    start_model, pool, previous = initial, None, None
    try:
        while True:
            labels = {f"{POOL_PREFIX}{pool}"} if pool else anchor
            workers = _eligible(client, labels, annotations.get("resources"), want or previous, wait_s if previous else 0)
            if not workers:
                raise RecoveryError(stage_message(
                    stage, "pool", f"no live worker{' of ' + ', '.join(sorted(labels)) if labels else ''} is left to "
                                   f"train xgboost on ({budget.summary()})",
                    "add workers to the stage's pool (or scale it up), then run the workflow again"))
            layout = rank_layout(sizes, min(int(want or len(workers)), len(workers)))
            done = _rounds_of(start_model)
            if previous is None:
                logger.info("%s: training xgboost on %d worker(s), %d rounds%s", stage, len(layout), target - done,
                            " (deterministic cuts)" if deterministic else "")
            previous = len(layout)
            attempt_annotations = {**annotations, ANNOTATION_KEY: {**collab, **({"pool": pool} if pool else {})},
                                   "retries": 0}
            token = uuid.uuid4().hex[:8]
            _inputs_in_memory(X_parts + y_parts, given_up, stage)
            try:
                with _holding(client, workers[:len(layout)], given_up, stage):
                    raw = _run_collective(client, layout, workers, X_parts, y_parts, starts, params, target - done,
                                          start_model, edges, checkpoint.name, every, timeout, attempt_annotations,
                                          stage, token, given_up)
                return booster_from_bytes(raw)
            except LostWork as lost:
                _free_workers(client, token)
                loss = classify(lost.loss, preempted_workers(client, started))
                pool = budget.admit(loss) or pool
                if exact_resume:
                    saved = _checkpoint(checkpoint)
                    if saved is not None and _rounds_of(saved) > _rounds_of(start_model):
                        start_model = saved
                logger.warning("stage %r: %s; xgboost continues from round %d on the live workers (attempt %d%s)",
                               stage, loss.describe(), _rounds_of(start_model), budget.attempt,
                               f", on pool {pool!r}" if pool else "")
    finally:
        try:
            checkpoint.delete()
        except Exception:  # the scheduler may be gone
            pass


def _run_collective(client: Client, layout: list[list[int]], workers: list[str], X_parts: list[Future],
                    y_parts: list[Future], starts: Sequence[int], params: Mapping[str, Any], rounds: int, model: bytes | None,
                    edges: list[np.ndarray] | None, checkpoint: str, every: int, timeout: int,
                    annotations: Mapping[str, Any], stage: str, token: str, given_up: threading.Event) -> bytes:
    """One collective: ``len(layout)`` ranks on ``workers``; rank 0's model, or :class:`LostWork`."""
    if rounds <= 0:
        return model  # type: ignore[return-value]  # a checkpoint already holds every round
    from distributed.comm import get_address_host

    host = get_address_host(client.scheduler.address)
    try:
        comm = client.run_on_scheduler(_start_tracker, len(layout), host, timeout)
    except Exception:  # daskcollab (or xgboost) not importable on the scheduler: a tracker here
        from distributed.utils import get_ip

        comm = _spawn_tracker(len(layout), get_ip(host), timeout)
    comm = {**comm, "dmlc_timeout": timeout}
    futures = []
    with dask.annotate(**annotations):
        for rank, chunks in enumerate(layout):
            parts = [X_parts[i] for i in chunks] + [y_parts[i] for i in chunks]
            futures.append(client.submit(
                _train_rank, rank, comm, params, rounds, model, edges, checkpoint, every, [starts[i] for i in chunks],
                *parts,
                key=f"xgboost-rank-{rank}-{token}", workers=[workers[rank]], allow_other_workers=False, pure=False,
                retries=0))
    assigned = workers[:len(layout)]
    try:
        return _watch(client, futures, assigned, stage, given_up)
    except RunCancelledError:
        client.cancel(futures)
        _free_workers(client, token, notice=1.0)  # a rank still in the bootstrap would wait for its peers
        raise
    except BaseException:
        client.cancel(futures)
        raise


def _inputs_in_memory(parts: list[Future], given_up: threading.Event, stage: str) -> None:
    """Wait until every training chunk is in memory (chunks lost with a worker are recomputed by Dask
    from their lineage) before any rank starts: a rank holds its worker's only thread while the
    collective bootstraps, so a chunk still to be recomputed could find no free thread, and the
    collective would wait for its last rank until ``collective-timeout`` (seen: 300 s, then failed)."""
    pending = [p for p in parts if not p.done()]
    while pending:
        if given_up.is_set():
            raise _given_up(stage)
        try:
            wait(pending, timeout=_POLL_S * 4)
        except TimeoutError:
            pass
        pending = [p for p in pending if not p.done()]
    for part in parts:
        if part.status == "error":
            part.result()  # raises the chunk's own error (e.g. a source chunk that cannot be read)


def _given_up(stage: str) -> RunCancelledError:
    return RunCancelledError(stage_message(stage, None, "the run was given up while xgboost trained (another stage "
                                                        "failed or the budget action fired)",
                                           "fix the first failure the run reports"))


def _watch(client: Client, futures: list[Future], assigned: list[str], stage: str, given_up: threading.Event) -> bytes:
    """Wait for the ranks; raise :class:`LostWork` as soon as one of their workers leaves, and
    :class:`~daskcollab.RunCancelledError` when the run is given up (the caller cancels the ranks)."""
    while True:
        if given_up.is_set():
            raise _given_up(stage)
        live = _live(client)
        gone = [w for w in assigned if w not in live]
        if gone:
            raise LostWork(Loss(LossKind.WORKER_LOST, tuple(gone), "a worker of the xgboost collective left"))
        if all(f.status == "finished" for f in futures):
            return futures[0].result()
        erred = [f for f in futures if f.status == "error"]
        if erred:
            error = erred[0].exception()
            deadline = time.monotonic() + _LOSS_NOTICE_S
            while time.monotonic() < deadline:  # peers fail (EOF) before the scheduler removes the dead worker
                gone = [w for w in assigned if w not in _live(client)]
                if gone:
                    raise LostWork(Loss(LossKind.WORKER_LOST, tuple(gone),
                                        "a worker of the xgboost collective left")) from error
                time.sleep(_POLL_S)
            if _collective_failure(error):
                raise RecoveryError(stage_message(
                    stage, None, f"the xgboost collective failed with every worker alive "
                                 f"({_first_line(error)})",
                    "check the workers' network (they connect to each other and to the scheduler), or raise "
                    "collab.xgboost.collective-timeout")) from error
            raise error
        cancelled = [f for f in futures if f.status == "cancelled"]
        if cancelled:
            cancelled[0].result()  # raises the cancellation (the run was given up)
        pending = [f for f in futures if not f.done()]
        try:
            wait(pending, timeout=_POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            pass


def _executing_ranks(token: str, dask_worker: Any = None) -> bool:
    """True when this worker's thread still runs a rank of the collective ``token`` (run on workers)."""
    return any("xgboost-rank-" in str(ts.key) and str(ts.key).endswith(token) for ts in dask_worker.state.executing)


def _free_workers(client: Client, token: str, notice: float = _LOSS_NOTICE_S) -> None:
    """After a loss: wait for the ranks of the failed collective to stop (their peers see EOF), and
    restart the workers whose rank is still blocked in a collective call (a thread cannot be
    cancelled; left alone it would hold the worker's thread until ``collective-timeout``)."""
    deadline = time.monotonic() + notice
    while True:
        try:
            busy = [w for w, running in client.run(_executing_ranks, token, on_error="return").items() if running is True]
        except Exception:  # workers coming and going: look again
            busy = []
        if not busy:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(_POLL_S)
    logger.warning("restarting worker(s) %s: a rank of the lost xgboost collective is still blocked there",
                   ", ".join(busy))
    try:
        client.restart_workers(busy, timeout=120, raise_for_error=False)
    except Exception as exc:  # no nanny: the next collective leaves them out while they are busy
        logger.warning("cannot restart %s (%s)", busy, exc)


@contextlib.contextmanager
def _holding(client: Client, workers: Sequence[str], given_up: threading.Event, stage: str):
    """Hold a cluster-wide lock on each worker of a collective while it trains.

    A rank blocks its (single-thread) worker until every peer has joined: two collectives sharing
    workers (two xgboost stages on one pool, or spread over all pools) could each hold a worker the
    other waits for and fail to bootstrap. Taking the locks in one global order (sorted addresses)
    lets them train one after the other on shared workers and side by side on disjoint ones. A run
    given up while it waits for a lock stops waiting (:class:`~daskcollab.RunCancelledError`).
    """
    taken: list[Lock] = []
    try:
        with client.as_current():  # a Lock talks to the scheduler through the current client
            for address in sorted(set(workers)):
                lock = Lock(f"daskcollab-xgboost-worker-{address}")
                while not lock.acquire(timeout=_POLL_S * 4):
                    if given_up.is_set():
                        raise _given_up(stage)
                taken.append(lock)
        yield
    finally:
        with client.as_current():
            for lock in reversed(taken):
                try:
                    lock.release()
                except Exception as exc:  # the scheduler went away: nothing left to release
                    logger.debug("cannot release %s: %s", lock.name, exc)


def _collective_failure(error: BaseException) -> bool:
    text = str(error)
    return type(error).__name__ == "XGBoostError" and any(
        m in text for m in ("Allreduce", "Allgather", "Broadcast", "EOF", "Socket", "timed out", "Timeout", "connect"))


def _first_line(error: BaseException) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip() and not ln.strip().startswith("Stack")]
    return (lines[-1] if lines else type(error).__name__)[:200]


def _persisted(arr: da.Array) -> bool:
    """Whether every chunk of ``arr`` itself is a future (not only something it is computed from)."""
    held = {f.key for f in futures_of(arr)}
    return bool(held) and all((k[0] if isinstance(k, list) else k) in held for k in arr.__dask_keys__())


def _ordered_futures(arr: da.Array) -> list[Future]:
    """The futures of a persisted array's row chunks, in chunk order."""
    by_key = {f.key: f for f in futures_of(arr)}
    keys = arr.__dask_keys__()
    return [by_key[k[0] if isinstance(k, list) else k] for k in keys]


def _edges(client: Client, X: da.Array, max_bin: int) -> list[np.ndarray]:
    """Quantile edges from every ``step``-th training row (by global row index: layout independent)."""
    n = int(sum(X.chunks[0]))
    step = max(1, math.ceil(n / EDGE_SAMPLE_ROWS))
    lows = X.map_blocks(_chunk_low, chunks=((1,) * X.numblocks[0], X.chunks[1]), dtype=np.float64)
    # one key per call: two stages on the same rows would otherwise share the key with other inputs
    job = dask.delayed(_edges_task, pure=False)(X[::step], lows, max_bin)
    return client.compute(job, sync=True)


def _rounds_of(model: bytes | None) -> int:
    return 0 if model is None else int(booster_from_bytes(model).num_boosted_rounds())


def _checkpoint(variable: Variable) -> bytes | None:
    try:
        value = variable.get(timeout=2)
    except Exception:  # never set (no checkpoint yet)
        return None
    return bytes(value) if isinstance(value, (bytes, bytearray)) else None


def _live(client: Client) -> set[str]:
    return set(_view(client))


def _view(client: Client) -> dict[str, dict[str, Any]]:
    try:
        return client.run_on_scheduler(_workers_view)
    except Exception:  # daskcollab not importable on the scheduler
        return {a: {"name": str(w.get("name")), "resources": dict(w.get("resources") or {})}
                for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}


def _pool_labels(client: Client, parts: list[Future], pool: str | None) -> set[str]:
    """The pool labels of the workers holding the training chunks (the stage's pool), or of ``pool``."""
    if pool:
        return {f"{POOL_PREFIX}{pool}"}
    view = _view(client)
    holders = {w for ws in client.who_has(parts).values() for w in ws}
    return {r for w in holders for r in view.get(w, {}).get("resources", {}) if r.startswith(POOL_PREFIX)}


def _eligible(client: Client, labels: set[str], resources: Mapping[str, float] | None, want: int | None,
              wait_s: float) -> list[str]:
    """Live workers with one of the pool ``labels`` (any, if none) and the stage's ``resources``, sorted by
    name; waits up to ``wait_s`` for ``want`` of them (replacements of lost workers)."""
    deadline = time.monotonic() + wait_s
    while True:
        view = _view(client)
        found = sorted(
            (a for a, w in view.items()
             if (not labels or labels & set(w["resources"]))
             and all(w["resources"].get(k, 0) >= v for k, v in (resources or {}).items())),
            key=lambda a: (view[a]["name"], a))
        if not want or len(found) >= want or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)
