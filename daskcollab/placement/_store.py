"""Where the learned cost model lives on disk: its path, reading it, writing it atomically (file I/O glue).

The cost model itself (:class:`~daskcollab.placement.CostModel`) is plain data with
``to_dict`` / ``from_dict``; this module is the only part of placement that touches files.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib

from daskcollab import _config
from daskcollab.placement._cost_model import CostModel

logger = logging.getLogger("daskcollab.placement")

#: Used when neither an argument nor ``collab.placement.cost-model-path`` names a file.
DEFAULT_COST_MODEL_PATH = pathlib.Path("~/.cache/daskcollab/cost-model.json")


def cost_model_path(override: str | os.PathLike | None = None) -> pathlib.Path:
    """Where the learned cost model lives: ``override``, else ``collab.placement.cost-model-path``,
    else ``~/.cache/daskcollab/cost-model.json``."""
    return pathlib.Path(_config.get("placement.cost-model-path", override) or DEFAULT_COST_MODEL_PATH).expanduser()


def load_cost_model(path: str | os.PathLike) -> CostModel:
    """The cost model saved at ``path`` (an empty one when there is none or it is unreadable: a
    corrupt file must not stop the scheduler)."""
    path = pathlib.Path(path)
    if path.exists():
        try:
            return CostModel.from_dict(json.loads(path.read_text()))
        except Exception as exc:
            logger.warning("daskcollab: ignoring unreadable cost model %s: %r", path, exc)
    return CostModel()


def write_cost_model(model: CostModel, path: str | os.PathLike) -> pathlib.Path:
    """Write ``model`` to ``path`` atomically (a temporary file renamed over it)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(model.to_dict()))
    os.replace(tmp, path)
    return path
