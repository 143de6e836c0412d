"""Write a Zarr store so that it appears complete or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator

import zarr
from zarr.codecs import BloscCodec

#: Compression of every array daskcollab writes.
COMPRESSORS = (BloscCodec(cname="zstd", clevel=3, shuffle="shuffle"),)


@contextlib.contextmanager
def atomic_group(path: str | os.PathLike) -> Iterator[zarr.Group]:
    """Yield a new Zarr group in a temporary sibling folder; move it to ``path`` on success.

    On any exception the temporary folder is removed and ``path`` is left as it was, so a
    failed write never leaves a store that looks finished. An existing store at ``path`` is
    replaced only after the new one is fully written (callers decide whether that is allowed).
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        yield zarr.open_group(tmp, mode="w")
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
