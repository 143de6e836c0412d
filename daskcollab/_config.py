"""The ``collab`` configuration namespace, registered with :mod:`dask.config`.

Defaults live in ``daskcollab.yaml`` beside this module; ``daskcollab-schema.yaml`` describes
them. Code reads settings with :func:`get`, passing the caller's explicit argument as
``override``: an argument that is not ``None`` wins over configuration.
"""

from __future__ import annotations

import pathlib
from typing import Any

import dask.config
import yaml

_HERE = pathlib.Path(__file__).parent
DEFAULTS_FILE = _HERE / "daskcollab.yaml"
SCHEMA_FILE = _HERE / "daskcollab-schema.yaml"


def _register_defaults() -> None:
    with DEFAULTS_FILE.open() as f:
        defaults = yaml.safe_load(f)
    dask.config.update_defaults(defaults)


def get(key: str, override: Any = None) -> Any:
    """Return ``override`` if it is not None, else the config value ``collab.<key>``.

    Examples
    --------
    >>> get("local-cluster.threads-per-worker")
    1
    >>> get("progress", override=False)
    False
    """
    return dask.config.get(f"collab.{key}", override_with=override)


_register_defaults()
