"""Compile workflows into annotated stages and the stage graph the scheduler plans.

Names load on first use (see :mod:`daskcollab._lazy`).
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "ANNOTATION_KEY": "daskcollab._contract",
    "stage_annotations": "_annotations",
    "CompiledStage": "_compiler", "CompiledWorkflow": "_compiler", "compile_workflow": "_compiler",
    "workflow_plan_report": "_plan", "workflow_plans": "_plan",
})
