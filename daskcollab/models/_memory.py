"""Will a worker hold its share of the training rows? Ask before training, not after a kill."""

from __future__ import annotations

import dask.array as da
from distributed import Client

from daskcollab._errors import DataError

#: xgboost.dask concatenates a worker's partitions and builds the quantile matrix from them:
#: peak memory is about this many times the worker's share of the raw training rows.
TRAINING_PEAK_FACTOR = 2.5
#: distributed pauses a worker at 80 % of its memory limit; stay well below.
USABLE_FRACTION = 0.7
#: What a worker process holds once dask, xgboost, dask-ml and zarr are imported (measured: 285-300 MiB);
#: a fresh worker reports less because it imports them with its first tasks.
LIBRARY_FOOTPRINT = 300 * 2**20
#: A single-process fit (scikit-learn in one worker task) holds the incoming chunks, their
#: concatenation and a standardised float64 copy with an extra column: about this many times the
#: float32 training rows' bytes.
LOCAL_FIT_PEAK_FACTOR = 5.0


def worker_headroom(client: Client) -> list[float]:
    """Bytes each worker can still take before nearing its pause threshold (``inf`` if unlimited).

    ``USABLE_FRACTION`` of the memory limit, less what the worker uses now (at least
    ``LIBRARY_FOOTPRINT``).
    """
    out = []
    for w in client.scheduler_info(n_workers=-1)["workers"].values():
        limit = w.get("memory_limit") or 0
        used = (w.get("metrics") or {}).get("memory", 0)
        out.append(USABLE_FRACTION * limit - max(used, LIBRARY_FOOTPRINT) if limit > 0 else float("inf"))
    return out


def fits_in_one_worker(client: Client, nbytes: float, *, peak_factor: float = LOCAL_FIT_PEAK_FACTOR) -> bool:
    """Would ``peak_factor * nbytes`` fit in the tightest worker's headroom (:func:`worker_headroom`)?

    The rule for fitting in one worker process (one task, in-process scikit-learn) rather than
    across the cluster. No workers: False.
    """
    headroom = worker_headroom(client)
    return bool(headroom) and peak_factor * nbytes <= min(headroom)


def check_training_fits(client: Client, X: da.Array, stage: str, *, peak_factor: float = TRAINING_PEAK_FACTOR) -> None:
    """Raise :class:`DataError` when the training rows cannot fit in the workers' memory.

    Each worker needs about ``peak_factor`` x its share of ``X`` on top of what it
    already uses (at least ``LIBRARY_FOOTPRINT``); the check uses the tightest worker.
    """
    headroom = worker_headroom(client)
    if not headroom:
        return
    free = min(headroom)
    need = peak_factor * X.nbytes / len(headroom)
    if need <= free:
        return
    rows = sum(X.chunks[0])
    if free <= 0:
        raise DataError(
            f"stage {stage!r}, field 'resources': the workers have no memory left to train in: the tightest is "
            f"already within {USABLE_FRACTION:.0%} of its memory limit (a worker with dask, xgboost, dask-ml and "
            f"zarr loaded uses about {LIBRARY_FOOTPRINT / 2**20:.0f} MiB). Fix: give workers more memory"
        )
    fitting_rows = _round_down(0.9 * rows * free / need)  # margin: a seeded sample's size varies a little
    raise DataError(
        f"stage {stage!r}, field 'max_train_rows': the {rows:,} training rows ({X.nbytes / 2**30:.2f} GiB) do not "
        f"fit in worker memory: each of {len(headroom)} workers would need about {need / 2**30:.2f} GiB to train, "
        f"the tightest has {free / 2**30:.2f} GiB free below its pause threshold. "
        f"Fix: set max_train_rows={fitting_rows} (a seeded sample), or add workers or memory"
    )


def check_worker_memory(client: Client) -> None:
    """Refuse to start on workers too small to run any task (they would pause and wait forever).

    distributed pauses a worker at 80 % of its memory limit; a worker with daskcollab's libraries
    loaded already uses about ``LIBRARY_FOOTPRINT``.
    """
    from daskcollab._errors import UnplaceableError

    needed = LIBRARY_FOOTPRINT + 100 * 2**20
    for address, w in client.scheduler_info(n_workers=-1)["workers"].items():
        limit = w.get("memory_limit") or 0
        if 0 < limit and 0.8 * limit < needed:
            raise UnplaceableError(
                f"worker {address!r} has memory_limit {limit / 2**20:.0f} MiB: it pauses at 80 % "
                f"({0.8 * limit / 2**20:.0f} MiB), and a worker with dask, xgboost, dask-ml and zarr loaded "
                f"uses about {LIBRARY_FOOTPRINT / 2**20:.0f} MiB, so it could run no task and the workflow would "
                f"wait forever. Fix: give every worker a memory_limit of at least {needed / 0.8 / 2**20:.0f} MiB"
            )


def _round_down(x: float) -> int:
    """Round down to three significant digits (a readable suggestion)."""
    if x < 1000:
        return max(1, int(x))
    scale = 10 ** (len(str(int(x))) - 3)
    return int(x // scale * scale)
