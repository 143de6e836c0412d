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


def check_training_fits(client: Client, X: da.Array, stage: str) -> None:
    """Raise :class:`DataError` when the training rows cannot fit in the workers' memory.

    Each worker needs about ``TRAINING_PEAK_FACTOR`` x its share of ``X`` on top of what it
    already uses (at least ``LIBRARY_FOOTPRINT``); the check uses the tightest worker.
    """
    headroom = worker_headroom(client)
    if not headroom:
        return
    free = min(headroom)
    need = TRAINING_PEAK_FACTOR * X.nbytes / len(headroom)
    if need <= free:
        return
    rows = sum(X.chunks[0])
    fitting_rows = max(1, int(rows * max(free, 0) / need))
    raise DataError(
        f"stage {stage!r}, field 'max_train_rows': the {rows:,} training rows ({X.nbytes / 2**30:.2f} GiB) do not "
        f"fit in worker memory: each of {len(headroom)} workers would need about {need / 2**30:.2f} GiB to train, "
        f"the tightest has {max(free, 0) / 2**30:.2f} GiB free below its pause threshold. "
        f"Fix: set max_train_rows={fitting_rows} (a seeded sample), or add workers or memory"
    )
