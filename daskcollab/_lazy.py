"""Lazy re-exports for package ``__init__`` modules (PEP 562), so a package import costs what you use.

A package lists its public names and the private module each lives in; a name is imported the
first time it is read, then cached on the package. ``import daskcollab`` stays as convenient as
ever (``dc.run``, ``dc.XGBoostModel``), but a scheduler or worker preload that needs only the
placement plugin does not pay for scikit-learn, scipy, pandas, zarr or xgboost.

Examples
--------
In ``daskcollab/models/__init__.py``::

    __getattr__, __dir__, __all__ = exports(__name__, {"FittedModel": "_fitted", "Task": "_fitted"})
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``: each of ``names`` (public name ->
    module, relative to ``package`` unless it starts with ``daskcollab``) resolves on first access;
    so does a sub-module (``daskcollab.data`` after a bare ``import daskcollab``)."""
    table = dict(names)

    def __getattr__(name: str) -> Any:
        where = table.get(name)
        if where is None:
            if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")  # a sub-module, as after an eager import
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(where if where.startswith("daskcollab") else f"{package}.{where}")
        value = getattr(module, name)
        setattr(sys.modules[package], name, value)  # later reads skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *table})

    return __getattr__, __dir__, sorted(table)
