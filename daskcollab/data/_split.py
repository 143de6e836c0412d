"""Train / validation / test splits over row chunks (pure; no Dask).

A split is resolved against the row chunking of a dataset into a :class:`SplitPlan`: for every
chunk, which of its rows belong to which part. Row masks are never stored: they are regenerated
inside each task from ``(seed, chunk index)``, so graphs stay small however many rows there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from daskcollab._errors import DataError, WorkflowError


class Part(str, Enum):
    """The three parts of a split."""

    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


_CODES = {Part.TRAIN: 0, Part.VALIDATION: 1, Part.TEST: 2}
#: The part code of each part, as written in prediction stores (``-1``: a row in no part).
PART_CODES: dict[str, int] = {part.value: code for part, code in _CODES.items()}


@dataclass(frozen=True)
class RowSplit:
    """Seeded random split of rows: each row goes to validation/test with these probabilities.

    Examples
    --------
    >>> RowSplit(validation=0.2, test=0.2, seed=0)
    RowSplit(validation=0.2, test=0.2, seed=0)
    """

    validation: float = 0.2
    test: float = 0.2
    seed: int = 0

    def check(self, stage: str) -> None:
        for part in (Part.VALIDATION, Part.TEST):
            value = getattr(self, part.value)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise WorkflowError(
                    f"stage {stage!r}, field 'split.{part.value}': expected a fraction in [0, 1), "
                    f"got {value!r}. Fix: use e.g. {part.value}=0.2"
                )
        if self.validation + self.test >= 1.0:
            raise WorkflowError(
                f"stage {stage!r}, field 'split': validation + test = {self.validation + self.test!r} "
                "leaves no training rows. Fix: make validation + test < 1"
            )


@dataclass(frozen=True)
class ChunkSplit:
    """Split by ranges of row chunks: ``(start, stop)`` chunk indices, ``stop`` exclusive.

    ``None`` as a range means "not used"; ``stop=None`` means "to the last chunk".

    Examples
    --------
    >>> ChunkSplit(train=(0, 8), validation=(8, 10), test=(10, None))
    ChunkSplit(train=(0, 8), validation=(8, 10), test=(10, None))
    """

    train: tuple[int, int | None] = (0, -2)
    validation: tuple[int, int | None] | None = (-2, -1)
    test: tuple[int, int | None] | None = (-1, None)

    def check(self, stage: str) -> None:
        for part in Part:
            rng = getattr(self, part.value)
            if rng is None:
                continue
            if (
                not isinstance(rng, (tuple, list))
                or len(rng) != 2
                or not isinstance(rng[0], int)
                or not (rng[1] is None or isinstance(rng[1], int))
            ):
                raise WorkflowError(
                    f"stage {stage!r}, field 'split.{part.value}': expected a (start, stop) pair of "
                    f"chunk indices, got {rng!r}. Fix: use e.g. {part.value}=(0, 8)"
                )

    def chunk_ranges(self, n_chunks: int) -> dict[Part, range]:
        out = {}
        for part in Part:
            rng = getattr(self, part.value)
            out[part] = range(0) if rng is None else range(*slice(*rng).indices(n_chunks))
        return out


Split = RowSplit | ChunkSplit


@dataclass(frozen=True)
class SplitPlan:
    """A split resolved against concrete row chunks.

    ``counts[part][i]`` is the number of rows of chunk ``i`` in ``part``.
    """

    split: Split
    chunks: tuple[int, ...]
    counts: dict[Part, tuple[int, ...]]

    def codes(self, chunk_index: int) -> np.ndarray:
        """Part code (0 train, 1 validation, 2 test, -1 unused) of every row of one chunk."""
        return _chunk_codes(self.split, chunk_index, self.chunks[chunk_index], len(self.chunks))

    def mask(self, chunk_index: int, part: Part) -> np.ndarray:
        return self.codes(chunk_index) == _CODES[part]

    def size(self, part: Part) -> int:
        return sum(self.counts[part])


@dataclass(frozen=True)
class RowFolds:
    """K folds over the rows of each chunk: every chunk's rows are dealt evenly to the folds
    by a seeded permutation, so each fold covers every chunk (and, in data stored in time
    order, every period), and fold membership is regenerated inside tasks from the seed."""

    k: int
    seed: int
    chunks: tuple[int, ...]

    def codes(self, chunk_index: int) -> np.ndarray:
        n = self.chunks[chunk_index]
        rng = np.random.default_rng([self.seed, 104_729, chunk_index])
        return rng.permutation(np.arange(n) % self.k).astype(np.int16)

    def counts(self, fold: int, held_out: bool) -> tuple[int, ...]:
        return tuple(int(np.count_nonzero((self.codes(i) == fold) == held_out)) for i in range(len(self.chunks)))

    def mask(self, chunk_index: int, fold: int, held_out: bool) -> np.ndarray:
        return (self.codes(chunk_index) == fold) == held_out


@dataclass(frozen=True)
class RowSample:
    """A seeded random sample of about ``fraction`` of the rows of every chunk."""

    fraction: float
    seed: int
    chunks: tuple[int, ...]

    def mask(self, chunk_index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 15_485_863, chunk_index])
        return rng.random(self.chunks[chunk_index]) < self.fraction

    def counts(self) -> tuple[int, ...]:
        return tuple(int(np.count_nonzero(self.mask(i))) for i in range(len(self.chunks)))


def resolve_split(split: Split, chunks: Sequence[int], stage: str) -> SplitPlan:
    """Resolve ``split`` against row ``chunks``; every part must be non-empty.

    Raises
    ------
    DataError
        If a part would be empty, naming the stage, the part and the fix.
    """
    split.check(stage)
    chunks = tuple(int(c) for c in chunks)
    if isinstance(split, ChunkSplit):
        ranges = split.chunk_ranges(len(chunks))
        seen: dict[int, Part] = {}
        for part, rng in ranges.items():
            for i in rng:
                if i in seen:
                    raise WorkflowError(
                        f"stage {stage!r}, field 'split': chunk {i} is in both the {seen[i].value} "
                        f"and the {part.value} range ({split!r}). Fix: make the chunk ranges disjoint"
                    )
                seen[i] = part
    counts: dict[Part, list[int]] = {part: [] for part in Part}
    for i, n in enumerate(chunks):
        codes = _chunk_codes(split, i, n, len(chunks))
        for part in Part:
            counts[part].append(int(np.count_nonzero(codes == _CODES[part])))
    for part in Part:
        if sum(counts[part]) == 0:
            raise DataError(
                f"stage {stage!r}, field 'split.{part.value}': the {part.value} part is empty "
                f"({len(chunks)} row chunks, {sum(chunks)} rows, split={split!r}). "
                f"Fix: give the {part.value} part a non-zero fraction or chunk range, "
                "or write the store with smaller chunks"
            )
    return SplitPlan(split, chunks, {p: tuple(c) for p, c in counts.items()})


def _chunk_codes(split: Split, chunk_index: int, length: int, n_chunks: int) -> np.ndarray:
    if isinstance(split, RowSplit):
        draw = np.random.default_rng([split.seed, chunk_index]).random(length)
        codes = np.zeros(length, dtype=np.int8)
        codes[draw < split.validation + split.test] = _CODES[Part.TEST]
        codes[draw < split.validation] = _CODES[Part.VALIDATION]
        return codes
    ranges = split.chunk_ranges(n_chunks)
    for part, rng in ranges.items():
        if chunk_index in rng:
            return np.full(length, _CODES[part], dtype=np.int8)
    return np.full(length, -1, dtype=np.int8)
