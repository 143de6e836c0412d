"""Fixtures of the deployment tests: ``kube``, a Kubernetes API emulated on this machine (see ``kubesim.py``).

Usage::

    @pytest.mark.kubernetes
    def test_something(kube):
        cluster = start_kube_cluster("c", pools, image="any/image:tag")  # KUBECONFIG points at the emulator
        ...
        kube.objects("deployments")          # what the API server holds
        kube.wait_for(lambda: ..., what="")  # poll, failing with the pods' logs

``kube_module`` is the same emulation shared by a whole test module (start it once, ~0.1 s; the
clusters on it cost the time: each pod is a real ``dask`` process).
"""

from __future__ import annotations

import contextlib

import pytest


@contextlib.contextmanager
def _emulation(path):
    pytest.importorskip("kmock", reason="install the test extra: pip install -e '.[test]'")
    pytest.importorskip("dask_kubernetes", reason="install the test extra: pip install -e '.[test]'")
    from kubesim import emulated_kubernetes

    with emulated_kubernetes(path) as kube:
        yield kube


@pytest.fixture
def kube(tmp_path):
    with _emulation(tmp_path / "kube") as emulated:
        yield emulated


@pytest.fixture(scope="module")
def kube_module(tmp_path_factory):
    with _emulation(tmp_path_factory.mktemp("kube")) as emulated:
        yield emulated
