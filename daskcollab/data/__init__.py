"""Zarr sources and sinks, splits, and the registered datasets."""

from daskcollab.data._builders import BUILDERS, build_flights, build_sensor_fusion
from daskcollab.data._dataset import Dataset, sample_rows, select_fold, select_rows
from daskcollab.data._split import ChunkSplit, Part, RowFolds, RowSample, RowSplit, SplitPlan, resolve_split
from daskcollab.data._write_dataset import write_zarr_dataset
from daskcollab.data._zarr_sink import write_predictions
from daskcollab.data._zarr_source import open_dataset

__all__ = [
    "BUILDERS", "ChunkSplit", "Dataset", "Part", "RowFolds", "RowSample", "RowSplit", "SplitPlan", "build_flights",
    "build_sensor_fusion", "open_dataset", "resolve_split", "sample_rows", "select_fold", "select_rows", "write_predictions",
    "write_zarr_dataset",
]
