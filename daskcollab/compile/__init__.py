"""Compile workflows into annotated Dask submissions."""

from daskcollab.compile._annotations import ANNOTATION_KEY, pool_resource, stage_annotations
from daskcollab.compile._compiler import CompiledStage, CompiledWorkflow, check_placeable, compile_workflow

__all__ = [
    "ANNOTATION_KEY",
    "CompiledStage",
    "CompiledWorkflow",
    "check_placeable",
    "compile_workflow",
    "pool_resource",
    "stage_annotations",
]
