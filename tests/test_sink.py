"""Predictions are written chunk by chunk, exactly, and atomically."""

from __future__ import annotations

import os

import dask.array as da
import numpy as np
import pytest
import zarr

from daskcollab import DataError
from daskcollab.data import write_predictions


def test_values_round_trip_with_one_zarr_chunk_per_dask_chunk(client, tmp_path):
    values = np.arange(10_500, dtype=np.float32)
    arr = da.from_array(values, chunks=1_000)
    path = write_predictions(tmp_path / "p.zarr", {"blend": arr, "twice": arr * 2}, attrs={"workflow": "w"},
                             overwrite=False, stage="sink")
    group = zarr.open_group(path, mode="r")
    assert group.attrs["complete"] is True and group.attrs["workflow"] == "w"
    assert group["blend"].chunks == (1_000,)
    np.testing.assert_array_equal(group["blend"][:], values)
    np.testing.assert_array_equal(group["twice"][:], values * 2)
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_irregular_chunks_are_regularised_not_lost(client, tmp_path):
    values = np.random.default_rng(0).random(1_000).astype(np.float32)
    arr = da.from_array(values, chunks=((300, 250, 450),))
    path = write_predictions(tmp_path / "p.zarr", {"p": arr}, attrs={}, overwrite=False, stage="sink")
    np.testing.assert_array_equal(zarr.open_group(path)["p"][:], values)


def test_failed_write_leaves_nothing_that_looks_complete(client, tmp_path):
    def explode(block):
        if block[0] >= 5_000:
            raise RuntimeError("disk on fire")
        return block

    arr = da.from_array(np.arange(10_000, dtype=np.float32), chunks=1_000).map_blocks(explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_predictions(tmp_path / "p.zarr", {"p": arr}, attrs={}, overwrite=False, stage="sink")
    assert os.listdir(tmp_path) == []


def test_existing_output_needs_overwrite(client, tmp_path):
    arr = da.ones(10, chunks=5)
    write_predictions(tmp_path / "p.zarr", {"p": arr}, attrs={}, overwrite=False, stage="sink")
    with pytest.raises(DataError, match=r"stage 'sink', field 'path': .* already exists\. Fix: set overwrite=True"):
        write_predictions(tmp_path / "p.zarr", {"p": arr}, attrs={}, overwrite=False, stage="sink")
    write_predictions(tmp_path / "p.zarr", {"p": arr * 3}, attrs={}, overwrite=True, stage="sink")
    assert zarr.open_group(tmp_path / "p.zarr")["p"][0] == 3


def test_failed_write_folder_is_removed_while_late_writers_still_add_files(tmp_path):
    """Chunk tasks still running after a write failed keep creating (and so re-creating) files in
    the temporary folder; its removal waits until the folder stays gone."""
    import contextlib
    import threading

    from daskcollab.data._atomic import _remove_tree

    tmp = tmp_path / "p.zarr.tmp-0"
    stop = threading.Event()
    written = []

    def late_writer():
        for i in range(400):
            if stop.is_set():
                return
            chunk = tmp / "p" / "c" / str(i % 7) / str(i)
            # the folder is removed meanwhile: between the two calls (FileNotFoundError), or inside
            # pathlib's mkdir(exist_ok=True), whose "exists?" check then finds it gone (FileExistsError)
            with contextlib.suppress(FileNotFoundError, FileExistsError):
                chunk.parent.mkdir(parents=True, exist_ok=True)
                chunk.write_bytes(b"x" * 64)
            written.append(i)
            threading.Event().wait(0.001)

    (tmp / "p").mkdir(parents=True)
    writer = threading.Thread(target=late_writer)
    writer.start()
    while len(written) < 3:
        threading.Event().wait(0.005)
    _remove_tree(str(tmp), quiet_s=1.0)  # the writer pauses 1 ms between files, far less than 1 s
    stop.set()
    writer.join()
    assert not tmp.exists()
