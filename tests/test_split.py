import numpy as np
import pytest

from daskcollab import ChunkSplit, DataError, RowSplit, WorkflowError
from daskcollab.data import Part, resolve_split


def test_row_split_is_seeded_disjoint_and_near_fractions():
    plan = resolve_split(RowSplit(validation=0.2, test=0.1, seed=3), [1000] * 10, "src")
    again = resolve_split(RowSplit(validation=0.2, test=0.1, seed=3), [1000] * 10, "src")
    assert plan.counts == again.counts
    assert sum(plan.size(p) for p in Part) == 10_000
    assert abs(plan.size(Part.VALIDATION) - 2000) < 200
    assert abs(plan.size(Part.TEST) - 1000) < 150
    codes = plan.codes(4)
    assert set(np.unique(codes)) <= {0, 1, 2}
    assert plan.mask(4, Part.TRAIN).sum() == plan.counts[Part.TRAIN][4]
    other_seed = resolve_split(RowSplit(validation=0.2, test=0.1, seed=4), [1000] * 10, "src")
    assert other_seed.counts != plan.counts


def test_chunk_split_uses_whole_chunks():
    plan = resolve_split(ChunkSplit(train=(0, 6), validation=(6, 8), test=(8, None)), [100] * 10, "src")
    assert plan.counts[Part.TRAIN] == (100,) * 6 + (0,) * 4
    assert plan.counts[Part.TEST] == (0,) * 8 + (100, 100)


def test_empty_split_part_is_an_error_naming_stage_and_part():
    with pytest.raises(DataError, match=r"stage 'src', field 'split.validation': the validation part is empty"):
        resolve_split(RowSplit(validation=0.0, test=0.2), [100] * 3, "src")
    with pytest.raises(DataError, match="test part is empty"):
        resolve_split(ChunkSplit(train=(0, 2), validation=(2, 3), test=(3, None)), [100] * 3, "src")


def test_bad_split_parameters():
    with pytest.raises(WorkflowError, match=r"field 'split.test': expected a fraction in \[0, 1\), got 1.5"):
        resolve_split(RowSplit(test=1.5), [10], "src")
    with pytest.raises(WorkflowError, match="leaves no training rows"):
        resolve_split(RowSplit(validation=0.5, test=0.5), [10], "src")
    with pytest.raises(WorkflowError, match="chunk 1 is in both the train and the validation range"):
        resolve_split(ChunkSplit(train=(0, 2), validation=(1, 3), test=(3, None)), [10] * 4, "src")


def test_row_folds_deal_every_chunk_evenly_and_merge_back_exactly(client):
    import dask.array as da

    from daskcollab.data import RowFolds, select_fold
    from daskcollab.ensemble import merge_folds

    folds = RowFolds(k=4, seed=0, chunks=(100, 37, 250))
    for i, n in enumerate(folds.chunks):
        sizes = np.bincount(folds.codes(i), minlength=4)
        assert sizes.sum() == n and sizes.max() - sizes.min() <= 1  # every chunk feeds every fold
    values = da.arange(387, chunks=((100, 37, 250),))
    held = [select_fold(values, folds, k, held_out=True) for k in range(4)]
    train0 = select_fold(values, folds, 0, held_out=False).compute()
    assert len(train0) + len(held[0].compute()) == 387
    assert not set(train0) & set(held[0].compute().tolist())
    np.testing.assert_array_equal(merge_folds(folds, held).compute(), np.arange(387))
