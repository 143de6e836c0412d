"""Zarr sources and sinks, splits, atomic outputs, and the registered datasets.

Names load on first use (see :mod:`daskcollab._lazy`).
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "BUILDERS": "_builders", "build_flights": "_builders", "build_sensor_fusion": "_builders",
    "Dataset": "_dataset", "MAX_CLASSES": "_dataset", "describe_chunks": "_dataset", "part_codes": "_dataset",
    "row_ids": "_dataset", "sample_rows": "_dataset", "select_fold": "_dataset", "select_rows": "_dataset",
    "ChunkSplit": "_split", "PART_CODES": "_split", "Part": "_split", "RowFolds": "_split", "RowSample": "_split",
    "RowSplit": "_split", "Split": "_split", "SplitPlan": "_split", "resolve_split": "_split",
    "write_zarr_dataset": "_write_dataset",
    "write_predictions": "_zarr_sink",
    "open_dataset": "_zarr_source",
    "OutputKind": "_atomic", "check_replaceable": "_atomic", "output_kind": "_atomic", "swap_into_place": "_atomic",
})
