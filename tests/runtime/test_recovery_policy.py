"""Recovery policy as plain data: which failures are lost work, the two budgets, the messages."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from daskcollab import DataError, RecoveryError
from daskcollab.models._xgboost_train import quantile_edges, rank_layout, samples_randomly, snap
from daskcollab._recovery import Loss, LossKind, LostWork, RecoveryBudget, classify, loss_of


class KilledWorker(Exception):  # the name distributed uses; loss_of matches by name, not import
    def __init__(self, task, last_worker):
        super().__init__(task)
        self.task, self.last_worker = task, last_worker


class _W:
    address = "tcp://10.0.0.7:4000"


def test_lost_work_is_recognised_through_causes_and_other_errors_are_not():
    assert loss_of(KilledWorker("x-1", _W())).workers == ("tcp://10.0.0.7:4000",)
    try:
        try:
            raise RuntimeError("Missing required workers: {'tcp://a:1'}")
        except RuntimeError as inner:
            raise ValueError("wrapped") from inner
    except ValueError as outer:
        assert loss_of(outer).kind is LossKind.WORKER_LOST
    assert loss_of(DataError("stage 'x', field 'y': bad. Fix: z")) is None  # a problem to fix, never retried
    assert loss_of(ValueError("lost dependencies")) is None  # only Dask's cancellation says so
    lost = LostWork(Loss(LossKind.WORKER_LOST, ("tcp://b:2",), "collective"))
    assert pickle.loads(pickle.dumps(lost)).loss == lost.loss


def test_preemptions_have_their_own_budget_and_the_last_attempt_pool():
    budget = RecoveryBudget("xgb", retries=1, preemptions=2, last_attempt_pool="on-demand")
    assert budget.admit(classify(Loss(LossKind.WORKER_LOST, ("tcp://a:1",)), {"tcp://a:1"})) is None  # 1 of 2
    assert budget.admit(Loss(LossKind.PREEMPTED, ("tcp://b:1",))) == "on-demand"  # 2 of 2: the last attempt
    assert budget.admit(Loss(LossKind.WORKER_LOST, ("tcp://c:1",))) == "on-demand"  # retries 1 of 1
    with pytest.raises(RecoveryError, match=r"stage 'xgb', field 'retries': lost work again: tcp://d:1 was lost; "
                                            r"its worker-lost budget of 1 attempt\(s\) is spent \(attempt 1: tcp://a:1 "
                                            r"was preempted.*Fix: raise retries= on stage 'xgb'"):
        budget.admit(Loss(LossKind.WORKER_LOST, ("tcp://d:1",)))


def test_deterministic_cuts_do_not_depend_on_the_layout():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1_000, 3))
    edges = quantile_edges(X[::3], X.min(axis=0), max_bin=16)
    assert all(len(e) <= 15 for e in edges)
    whole = snap(X, edges)
    parts = np.concatenate([snap(X[a:b], edges) for a, b in [(0, 7), (7, 500), (500, 1_000)]])
    np.testing.assert_array_equal(whole, parts)
    assert all(np.isin(whole[:, j], edges[j].astype(np.float32)).all() for j in range(3))
    assert rank_layout([100, 0, 100, 100], 2) == [[0], [2, 3]] or rank_layout([100, 0, 100, 100], 2) == [[0, 2], [3]]
    assert samples_randomly({"subsample": 0.8}) and not samples_randomly({"max_depth": 3})
