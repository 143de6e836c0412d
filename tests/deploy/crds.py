"""The dask-kubernetes operator's CRD schemas, as shipped (resolved) in its helm chart, and checks against them."""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import yaml

CRDS = importlib.resources.files("dask_kubernetes") / "operator/deployment/helm/dask-kubernetes-operator/crds"


@functools.cache
def crd_schema(kind: str) -> dict[str, Any]:
    """The served v1 OpenAPI schema of a dask-kubernetes CRD, as shipped (resolved) in its helm chart."""
    crd = yaml.load((CRDS / f"{kind.lower()}.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert crd["spec"]["names"]["kind"] == kind
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def pruned_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields a Kubernetes API server would silently drop from ``value`` (structural schema pruning)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out = []
    if isinstance(value, dict) and schema.get("type") == "object":
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            if not path and key in ("apiVersion", "kind", "metadata"):
                continue  # every object has these
            if key in props:
                out += pruned_fields(item, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                out += pruned_fields(item, extra, f"{path}.{key}")
            else:
                out.append(f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += pruned_fields(item, schema["items"], f"{path}[{i}]")
    return out


def check_against_crd(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` validates against its dask-kubernetes CRD,
    and fail on any field the API server would prune."""
    import jsonschema

    schema = crd_schema(doc["kind"])
    jsonschema.Draft4Validator(schema).validate(doc)
    assert pruned_fields(doc, schema) == []


