"""Stages that read, prepare and write data."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, replace
from enum import Enum
from typing import Any, ClassVar

import dask.array as da
import numpy as np

from daskcollab._context import StageContext
from daskcollab._errors import DataError, stage_message
from daskcollab.data import (
    MAX_CLASSES,
    PART_CODES,
    Dataset,
    OutputKind,
    Part,
    RowSplit,
    Split,
    describe_chunks,
    open_dataset,
    part_codes,
    row_ids,
    select_rows,
    write_predictions,
)
from daskcollab.models import Impute, fit_preprocess, worker_headroom
from daskcollab.workflow._constraints import Choice, Flag, Number, Path, SplitOf, Table, Text, edge, param
from daskcollab.workflow._paths import Access, PathUse
from daskcollab.workflow._stage import Stage, StageKind

logger = logging.getLogger("daskcollab")

#: Arrays every prediction store holds besides the models' (row ids, split parts).
ROW_ARRAYS = ("row", "part")


class SinkRows(str, Enum):
    """Which rows a :class:`ZarrSink` writes: all of them, or one split part (a :class:`Part`)."""

    ALL = "all"
    TRAIN = Part.TRAIN.value
    VALIDATION = Part.VALIDATION.value
    TEST = Part.TEST.value


def _builder_names() -> list[str]:
    from daskcollab.data import BUILDERS

    return list(BUILDERS)


@dataclass(eq=False)
class ZarrSource(Stage):
    """Features and labels from a Zarr v3 group, split into train / validation / test.

    Parameters
    ----------
    path
        The Zarr group (a folder).
    features, labels
        Array names in the group: features (n, f) chunked by rows, labels (n,).
    split
        :class:`RowSplit` (seeded, per row) or :class:`ChunkSplit` (by chunk ranges).
    builder
        Name of a registered dataset (see ``daskcollab data --help``) that creates the store
        when ``path`` does not exist yet; ``builder_options`` are passed to it.
    persist
        Keep the features in cluster memory. ``None`` (default): only if they take at most
        half of the workers' total headroom (70 % of each memory limit less what the worker
        uses, at least 300 MiB for its libraries); otherwise every stage that uses them reads
        the Zarr chunks again, and those reads carry the annotations of the stage that needs
        them.

    Examples
    --------
    >>> src = ZarrSource("data/flights.zarr", split=RowSplit(validation=0.2, test=0.2, seed=0))
    """

    path: str | os.PathLike = param(Path(what="a path to a Zarr group"), example="data/my.zarr")
    _: KW_ONLY
    features: str = param(Text(what="an array name"), "X")
    labels: str = param(Text(what="an array name"), "y")
    split: Split = param(SplitOf(), RowSplit())
    builder: str | None = param(Choice(_builder_names), None)
    builder_options: Mapping[str, Any] = param(Table(), {})
    persist: bool | None = param(Flag(), None)

    kind: ClassVar[StageKind] = StageKind.SOURCE
    type_name: ClassVar[str] = "zarr_source"

    def paths(self) -> tuple[PathUse, ...]:
        return (PathUse("path", os.fspath(self.path), Access.READ),)

    def run(self, ctx: StageContext) -> Dataset:
        if self.builder is not None and not os.path.exists(self.path):
            from daskcollab.data import BUILDERS

            ctx.log("building dataset %r at %r", self.builder, os.fspath(self.path))
            BUILDERS[self.builder](self.path, **dict(self.builder_options))
        data = open_dataset(self.path, self.features, self.labels, self.split, stage=self.name)
        X, y = data.X.astype(np.float32), data.y
        keep = self.persist if self.persist is not None else X.nbytes <= 0.5 * sum(worker_headroom(ctx.client))
        if keep:
            X, y = ctx.persist(X, y)
        n_nan, classes = summarise_labels(ctx, y)
        if n_nan:
            raise DataError(
                f"stage {self.name!r}, field 'labels': {int(n_nan)} NaN labels in {self.labels!r}. "
                "Fix: drop or impute rows with missing labels before writing the store"
            )
        return replace(data, X=X, y=y, persisted=keep, binary_labels=classes == (0, 1), classes=classes)


@dataclass(eq=False)
class Standardize(Stage):
    """Impute missing values, then scale to zero mean and unit variance (dask-ml, fitted on the
    training rows only).

    Parameters
    ----------
    impute
        ``"mean"`` (dask-ml ``SimpleImputer``; the training mean of each feature), ``"median"``
        (the exact training median of each feature) or ``"constant"`` (``fill_value``).
    fill_value
        Used with ``impute="constant"``.

    The fitted statistics are applied chunk by chunk; the scaled copy is kept in cluster memory
    when its input is.
    """

    data: Stage = edge(StageKind.SOURCE, StageKind.PREPROCESS)
    _: KW_ONLY
    impute: str = param(Choice(Impute), Impute.MEAN, example=Impute.MEDIAN)
    fill_value: float = param(Number(), 0.0)

    kind: ClassVar[StageKind] = StageKind.PREPROCESS
    type_name: ClassVar[str] = "standardize"

    def run(self, ctx: StageContext, data: Dataset) -> Dataset:
        X_train, _ = data.part(Part.TRAIN)
        prep = fit_preprocess(X_train, scale=True, impute=self.impute, fill_value=self.fill_value, stage=self.name)
        X = prep.transform(data.X)
        if data.persisted:
            (X,) = ctx.persist(X)
        return data.with_features(X, prep)


@dataclass(eq=False)
class ZarrSink(Stage):
    """Write predictions (one array per model or blend stage) to a new Zarr group, chunk-aligned.

    Besides one array per model, the store holds ``row`` (each row's position in the source
    store, int64; xarray's coordinate of the ``row`` dimension) and ``part`` (each row's split
    part: 0 train, 1 validation, 2 test, -1 none; its ``flag_meanings`` attribute says so), so
    predictions join back to the source rows. Read it back with::

        import xarray as xr
        preds = xr.open_zarr("predictions.zarr")   # or zarr.open_group(...)["xgb"][:]

    Parameters
    ----------
    models
        Model or ensemble stages whose predictions are written, one array each (named after
        the stage; ``row`` and ``part`` are taken).
    path
        Output Zarr group; written atomically (temporary folder, then renamed).
    part
        ``"all"`` rows (aligned with the source's rows) or one split part.
    overwrite
        Replace an existing store at ``path``; only a prediction store daskcollab wrote is ever
        replaced. A path that equals, contains or lies inside a store the workflow reads is
        refused when the workflow is built.
    """

    models: Sequence[Stage] = edge(StageKind.MODEL, StageKind.ENSEMBLE, example="xgb, blend")
    _: KW_ONLY
    path: str | os.PathLike = param(Path(), "predictions.zarr", yaml_required=True)
    part: str = param(Choice(SinkRows), SinkRows.ALL)
    overwrite: bool = param(Flag(), False, example=True)

    kind: ClassVar[StageKind] = StageKind.SINK
    type_name: ClassVar[str] = "zarr_sink"

    def paths(self) -> tuple[PathUse, ...]:
        replaces = OutputKind.PREDICTIONS if self.overwrite else None
        return (PathUse("path", os.fspath(self.path), Access.WRITE, replaces),)

    def validate(self) -> None:
        super().validate()
        taken = sorted({m.name for m in self.models} & set(ROW_ARRAYS))
        if taken:
            self._fail("models", f"stages not named {list(ROW_ARRAYS)!r} (the store's row-id and part arrays)",
                       taken, f"rename stage {taken[0]!r}, e.g. name={taken[0] + '_model'!r}")

    def run(self, ctx: StageContext, *outputs) -> str:
        arrays = {}
        plan = outputs[0].data.split
        rows = {"row": row_ids(plan), "part": part_codes(plan)}
        for stage, out in zip(self.models, outputs):
            if out.data.split.chunks != plan.chunks:
                got, first = describe_chunks(out.data.split.chunks), describe_chunks(plan.chunks)
                raise DataError(stage_message(self.name, "models", f"{stage.name!r} predicts {got}, "
                                              f"{self.models[0].name!r} {first}",
                                              "write predictions of the same rows to one store"))
            arrays[stage.name] = out.predictions
        arrays.update(rows)
        rows_written = SinkRows(self.part)
        if rows_written is not SinkRows.ALL:
            arrays = {name: select_rows(arr, plan, Part(rows_written.value)) for name, arr in arrays.items()}
        attrs = {"workflow": ctx.workflow, "stage": self.name, "part": rows_written.value,
                 "arrays": [s.name for s in self.models]}
        array_attrs = {"row": {"description": "row position in the source store"},
                       "part": {"description": "split part of the row", "flag_values": [-1, *PART_CODES.values()],
                                "flag_meanings": " ".join(["none", *PART_CODES])}}
        return write_predictions(self.path, arrays, attrs=attrs, array_attrs=array_attrs, overwrite=self.overwrite,
                                 stage=self.name)


def summarise_labels(ctx: StageContext, y: da.Array) -> tuple[int, tuple[int, ...] | None]:
    """``(NaN labels, classes)`` in one pass over the labels, plus a ``bincount`` when they are
    integers in ``[0, MAX_CLASSES)``: ``classes`` are then the values present, else None."""
    floating = np.issubdtype(y.dtype, np.floating)
    n_nan, integral, low, high = ctx.compute(
        da.isnan(y).sum() if floating else 0,
        (da.floor(y) == y).all() if floating else True,
        y.min(), y.max(),
    )
    if n_nan or not integral or not 0 <= low or not high < MAX_CLASSES:
        return int(n_nan), None
    (counts,) = ctx.compute(da.bincount(y.astype(np.int64), minlength=int(high) + 1))
    return 0, tuple(int(c) for c in np.flatnonzero(np.asarray(counts)))

