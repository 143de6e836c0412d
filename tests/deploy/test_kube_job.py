"""A workflow as a DaskJob: the manifest (CRD-checked), the CLI, ``daskcollab run`` honouring
``DASK_SCHEDULER_ADDRESS``, and the job run end to end on the emulated Kubernetes API."""

from __future__ import annotations

import pathlib
import textwrap

import pytest
import yaml

from daskcollab.cli import main
from daskcollab.placement import EXAMPLE_POOLS, Pool

pytest.importorskip("dask_kubernetes", reason="install the test extra: pip install -e '.[test]'")
from crds import check_against_crd  # noqa: E402

from daskcollab.deploy import kube_job_manifests  # noqa: E402

POOLS_YAML = pathlib.Path(__file__).parents[2] / "workflows" / "pools" / "kubernetes.yaml"
IMAGE = "ghcr.io/example/daskcollab:0.1.0"


def write_workflow(tmp_path, store) -> pathlib.Path:
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(f"""
        name: in-a-job
        stages:
          - {{name: src, type: zarr_source, path: {store}}}
          - {{name: nb, type: post_fit, data: src, estimator: naive_bayes}}
          - {{name: ev, type: evaluate, models: [nb]}}
    """))
    return path


def test_job_manifests_validate_against_the_operators_crds():
    job, *groups = kube_job_manifests("nightly", EXAMPLE_POOLS, "workflows/flights-delay.yaml", image=IMAGE,
                                      namespace="ml", env={"OMP_NUM_THREADS": "1"})
    for doc in (job, *groups):
        check_against_crd(doc)
    (runner,) = job["spec"]["job"]["spec"]["containers"]
    assert runner["args"] == ["daskcollab", "run", "workflows/flights-delay.yaml", "--no-progress"]
    assert {e["name"] for e in runner["env"]} == {"OMP_NUM_THREADS"}  # the operator adds DASK_SCHEDULER_ADDRESS
    scheduler = job["spec"]["cluster"]["spec"]["scheduler"]["spec"]["containers"][0]
    assert scheduler["args"][:2] == ["dask", "scheduler"] and scheduler["args"][-1] == "daskcollab.deploy.scheduler"
    assert job["spec"]["cluster"]["spec"]["worker"]["metadata"]["labels"] == {"daskcollab/pool": "cpu-spot"}
    assert [(g["metadata"]["name"], g["spec"]["cluster"], g["metadata"]["namespace"]) for g in groups] == [
        ("nightly-cpu-ondemand", "nightly", "ml"), ("nightly-gpu", "nightly", "ml")]


def test_cli_job_validates_the_workflow_first(tmp_path, capsys):
    wf = write_workflow(tmp_path, tmp_path / "data.zarr")
    assert main(["k8s", str(POOLS_YAML), "--name", "nightly", "--image", IMAGE, "--job", str(wf)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["DaskJob", "DaskWorkerGroup", "DaskWorkerGroup"]
    for doc in docs:
        check_against_crd(doc)
    bad = tmp_path / "bad.yaml"
    bad.write_text(wf.read_text().replace("type: post_fit", "type: post_fitt"))
    assert main(["k8s", str(POOLS_YAML), "--name", "nightly", "--image", IMAGE, "--job", str(bad)]) == 3
    assert "post_fitt" in capsys.readouterr().err


def test_run_connects_to_dask_scheduler_address(cluster, clf_store, tmp_path, monkeypatch, capsys):
    """In a DaskJob's runner pod the operator sets DASK_SCHEDULER_ADDRESS (Dask config
    ``scheduler-address``); ``daskcollab run`` must use that cluster, not start a LocalCluster."""
    import dask.config

    def clients_seen() -> int:
        return sum(1 for _, e in cluster.scheduler.get_events("all") if e.get("action") == "add-client")

    before = clients_seen()
    with dask.config.set({"scheduler-address": cluster.scheduler_address}):
        assert main(["run", str(write_workflow(tmp_path, clf_store)), "--no-progress"]) == 0
    assert "nb" in capsys.readouterr().out
    assert clients_seen() == before + 1  # ran on the given scheduler


@pytest.mark.kubernetes
def test_daskjob_runs_the_workflow_on_its_own_cluster(kube, clf_store, tmp_path):
    import asyncio

    import dask_kubernetes.operator._objects  # noqa: F401  (registers the Dask kinds with kr8s)
    from kr8s.asyncio.objects import object_from_spec

    async def apply(docs):  # kubectl apply -f
        for doc in docs:
            await (await object_from_spec(doc)).create()

    pools = [Pool("cpu-spot", 0.10, workers=1)]
    asyncio.run(apply(kube_job_manifests("nightly", pools, str(write_workflow(tmp_path, clf_store)), image=IMAGE)))

    def job_status():
        (job,) = kube.objects("daskjobs")
        return job.get("status", {}).get("jobStatus")

    kube.wait_for(lambda: job_status() in ("Successful", "Failed"), timeout=90, what="the job to end")
    runner = next(c for c in kube.kubelet.stopped + list(kube.kubelet.containers.values()) if c.pod == "nightly-runner")
    log = runner.log.read_text()
    assert job_status() == "Successful", log[-3000:]
    assert "nb" in log and "auc" in log.lower()  # the metrics table
    scheduler = next(c for c in kube.kubelet.stopped + list(kube.kubelet.containers.values())
                     if c.labels.get("dask.org/component") == "scheduler")
    assert "Receive client connection" in scheduler.log.read_text()  # the runner used the job's cluster
    kube.wait_for(lambda: kube.objects("daskclusters") == [], what="the job's cluster to be deleted")
