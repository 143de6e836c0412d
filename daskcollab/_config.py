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


_DEFAULTS: dict[str, Any] = {}


def _register_defaults() -> None:
    with DEFAULTS_FILE.open() as f:
        _DEFAULTS.update(yaml.safe_load(f))
    dask.config.update_defaults(_DEFAULTS)


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


def default(key: str) -> Any:
    """The packaged default of ``collab.<key>`` (from ``daskcollab.yaml``), whatever is configured.

    Examples
    --------
    >>> default("placement.mode")
    'balanced'
    """
    return dask.config.get(f"collab.{key}", config=_DEFAULTS)


def setting(key: str, override: Any = None) -> Any:
    """Like :func:`get`, but a setting configured as ``null`` falls back to its packaged default.

    Examples
    --------
    >>> setting("placement.tradeoff")
    0.5
    """
    value = get(key, override)
    return default(key) if value is None else value


_register_defaults()
