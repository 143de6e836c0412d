"""Compile workflows into annotated stages and the stage graph the scheduler plans."""

from daskcollab.compile._annotations import ANNOTATION_KEY, stage_annotations
from daskcollab.compile._compiler import CompiledStage, CompiledWorkflow, compile_workflow

__all__ = [
    "ANNOTATION_KEY",
    "CompiledStage",
    "CompiledWorkflow",
    "compile_workflow",
    "stage_annotations",
]
