"""Write outputs so that they appear complete or not at all, and replace only what daskcollab wrote.

Every store is readable by any Zarr v3 reader: each array names its dimensions (``row``,
``feature``, ``class``; xarray needs them) and the group's metadata is consolidated into its
``zarr.json`` once the store is complete (:func:`new_array`, :func:`atomic_group`).

Every store and model folder daskcollab writes carries a marker: the Zarr group attribute
``daskcollab = {"kind": "predictions" | "dataset", "version": ...}`` (a model folder's marker is its
``model.json``). An existing path is replaced only when it carries the marker of the same kind
(:func:`check_replaceable`), so ``overwrite`` can never delete data daskcollab did not write.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from enum import Enum

import zarr
from zarr.codecs import BloscCodec

from daskcollab._errors import DataError

#: Compression of every array daskcollab writes.
COMPRESSORS = (BloscCodec(cname="zstd", clevel=3, shuffle="shuffle"),)
#: Group attribute that marks a store as written by daskcollab.
MARKER_KEY = "daskcollab"


class OutputKind(str, Enum):
    """What daskcollab wrote at a path (the ``kind`` of its marker)."""

    PREDICTIONS = "predictions"
    DATASET = "dataset"
    MODEL = "model"


def output_kind(path: str | os.PathLike) -> OutputKind | None:
    """The kind of daskcollab output at ``path``, or None (nothing there, or not written by daskcollab).

    Reads only metadata files as JSON (``zarr.json`` / ``model.json``). Prediction stores written
    before the marker existed (attributes ``workflow``, ``stage``, ``arrays``, ``complete``) count as
    predictions.
    """
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, "model.json")):
        meta = _read_json(os.path.join(path, "model.json"))
        return OutputKind.MODEL if isinstance(meta, dict) and "format" in meta and "kind" in meta else None
    meta = _read_json(os.path.join(path, "zarr.json"))
    attrs = meta.get("attributes") if isinstance(meta, dict) else None
    if not isinstance(attrs, dict):
        return None
    marker = attrs.get(MARKER_KEY)
    if isinstance(marker, dict) and marker.get("kind") in {k.value for k in OutputKind}:
        return OutputKind(marker["kind"])
    if {"workflow", "stage", "arrays", "complete"} <= attrs.keys():
        return OutputKind.PREDICTIONS
    return None


def check_replaceable(path: str | os.PathLike, kind: OutputKind, where: str, fix_field: str = "overwrite") -> None:
    """Raise :class:`DataError` unless ``path`` is absent or a daskcollab output of ``kind``.

    ``where`` starts the message (``"stage 'predictions', field 'overwrite'"``).
    """
    path = os.fspath(path)
    if not os.path.lexists(path):
        return
    found = output_kind(path)
    if found is kind:
        return
    what = "not a daskcollab output (no daskcollab marker)" if found is None else f"a daskcollab {found.value} output"
    raise DataError(
        f"{where}: {path!r} exists and is {what}, so replacing it could delete data daskcollab did not "
        f"write; nothing was changed. Fix: choose a new path, or remove {path!r} yourself if you mean to replace it"
    )


def new_array(group: zarr.Group, name: str, *, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: object,
              dims: Sequence[str]) -> zarr.Array:
    """Create an array as every daskcollab store does: compressed with :data:`COMPRESSORS` and
    with ``dimension_names`` (``("row", "feature")``, ``("row",)``, ...)."""
    if len(dims) != len(shape):
        raise ValueError(f"array {name!r}: {len(dims)} dimension names for {len(shape)} dimensions")
    return group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, compressors=COMPRESSORS,
                              dimension_names=tuple(dims))


def consolidate(path: str | os.PathLike) -> None:
    """Consolidate a finished group's metadata into its ``zarr.json`` (one read opens it all;
    xarray looks for it first)."""
    with warnings.catch_warnings():
        # zarr-python writes v3 consolidated metadata as an extension and says so each time
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part", UserWarning)
        zarr.consolidate_metadata(os.fspath(path))


def marker(kind: OutputKind) -> dict[str, str]:
    """The marker attribute of a store of ``kind``."""
    from daskcollab import __version__

    return {"kind": kind.value, "version": __version__}


@contextlib.contextmanager
def atomic_group(path: str | os.PathLike, kind: OutputKind, *, where: str) -> Iterator[zarr.Group]:
    """Yield a new Zarr group in a temporary sibling folder; move it to ``path`` on success.

    On any exception the temporary folder is removed and ``path`` is left as it was, so a
    failed write never leaves a store that looks finished. An existing store at ``path`` is
    replaced only if it is a daskcollab output of the same ``kind`` (checked before and again
    right before the swap), and the swap is atomic where the OS allows it (:func:`swap_into_place`).
    """
    # absolute: chunks are written by worker processes, whose working directory may differ
    path = os.path.abspath(os.fspath(path))
    check_replaceable(path, kind, where)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        group = zarr.open_group(tmp, mode="w")
        yield group
        group.attrs[MARKER_KEY] = marker(kind)
        consolidate(tmp)
        check_replaceable(path, kind, where)
        swap_into_place(tmp, path)
    finally:
        if os.path.exists(tmp):
            _remove_tree(tmp)


def _remove_tree(path: str, *, quiet_s: float = 0.25, settle_s: float = 15.0) -> None:
    """Remove a failed write's temporary folder and return once it has stayed gone for ``quiet_s``.

    Chunk writes of tasks still running when the write failed may add, rename or recreate files
    while the folder is walked (``rmtree`` then raises ``FileNotFoundError`` or ``Directory not
    empty``), so the removal is repeated until the folder stays absent, at most ``settle_s``.
    """
    deadline = time.monotonic() + settle_s
    while True:
        with contextlib.suppress(OSError):  # a late writer changed the folder while rmtree walked it
            shutil.rmtree(path)
        if not os.path.lexists(path):
            time.sleep(quiet_s)
            if not os.path.lexists(path):
                return
        if time.monotonic() > deadline:
            shutil.rmtree(path, ignore_errors=True)
            return
        time.sleep(0.05)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def swap_into_place(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move the finished folder ``tmp`` to ``path``; the previous ``path`` (if any) is removed after.

    On Linux the two folders are exchanged in one ``renameat2(RENAME_EXCHANGE)`` call, so a reader
    sees the old or the new folder, never neither. Elsewhere the old folder is first renamed
    aside (not deleted), then the new one renamed into place, then the old one deleted.
    """
    tmp, path = os.fspath(tmp), os.fspath(path)
    if not os.path.lexists(path):
        os.replace(tmp, path)
        return
    if _exchange(tmp, path):
        shutil.rmtree(tmp)  # tmp now holds the previous output
        return
    aside = f"{path}.old-{uuid.uuid4().hex[:8]}"
    os.replace(path, aside)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(aside, path)
        raise
    shutil.rmtree(aside)


def _exchange(a: str, b: str) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _read_json(file: str) -> object:
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
