"""The collab.* config defaults and their schema stay in sync; arguments override config."""

from __future__ import annotations

import dask
import jsonschema
import yaml

from daskcollab import _config


def _keys(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict) and value and "type" not in value and "enum" not in value:
            yield from _keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_defaults_validate_against_schema_and_cover_the_same_keys():
    defaults = yaml.safe_load(_config.DEFAULTS_FILE.read_text())
    schema = yaml.safe_load(_config.SCHEMA_FILE.read_text())
    jsonschema.validate(defaults, schema)

    def schema_keys(node, prefix=""):
        for key, sub in node.get("properties", {}).items():
            if "properties" in sub:
                yield from schema_keys(sub, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"

    assert set(schema_keys(schema)) == set(_keys(defaults))


def test_argument_overrides_config():
    assert _config.get("progress") is True
    with dask.config.set({"collab.progress": False}):
        assert _config.get("progress") is False
        assert _config.get("progress", override=True) is True
