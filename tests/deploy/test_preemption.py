"""Graceful retirement on SIGTERM (the preemption preload) on a real cluster of worker processes."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
from distributed import Client, LocalCluster

from daskcollab._contract import PREEMPTION_TOPIC
from daskcollab._recovery import Loss, LossKind, classify, preempted_workers


def test_sigterm_moves_the_workers_unique_data_to_a_peer_logs_a_preemption_and_exits():
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None,
                      preload=["daskcollab.deploy.preemption"]) as cluster, Client(cluster) as client:
        since = time.time()
        x = client.submit(np.random.random, 1_000, pure=False)  # recomputing it would give other values
        before = x.result()
        [holder] = client.who_has(x)[x.key]
        pid = client.run(os.getpid, workers=[holder])[holder]
        os.kill(pid, signal.SIGTERM)
        for _ in range(1200):  # a hang guard, not a time limit
            if holder not in client.scheduler_info(n_workers=-1)["workers"]:
                break
            time.sleep(0.1)
        assert holder not in client.scheduler_info(n_workers=-1)["workers"]
        [(_, event)] = client.get_events(PREEMPTION_TOPIC)
        assert event == {"worker": holder, "name": event["name"], "grace": 25.0}
        assert holder not in client.who_has(x)[x.key]
        np.testing.assert_array_equal(x.result(), before)  # moved, not recomputed
        # a loss on that worker counts against the preemption budget, not retries
        assert preempted_workers(client, since) == {holder}
        assert classify(Loss(LossKind.WORKER_LOST, (holder,)), {holder}).kind is LossKind.PREEMPTED
