"""Kubernetes manifests for placement pools (dask-kubernetes): pure builders, checked pools, CRD schemas.

Real: dask-kubernetes' own builders and its shipped CRD schemas. The manifests running on an
(emulated) API server with the operator's handlers: ``test_kube_cluster.py``.
"""

from __future__ import annotations

import copy
import json
import pathlib
import sys

import pytest
import yaml

from daskcollab._errors import DaskCollabError
from daskcollab.cli import main
from daskcollab.deploy import KubePool, kube_manifests, kube_pool, kube_worker_spec, load_kube_pools, manifests_yaml
from daskcollab.placement import EXAMPLE_POOLS, Pool

jsonschema = pytest.importorskip("jsonschema")
pytest.importorskip("dask_kubernetes", reason="install the test extra: pip install -e '.[test]'")
from crds import check_against_crd, crd_schema, pruned_fields  # noqa: E402

POOLS_YAML = pathlib.Path(__file__).parents[2] / "workflows" / "pools" / "kubernetes.yaml"
IMAGE = "ghcr.io/example/daskcollab:0.1.0"


@pytest.fixture(scope="module")
def pools():
    return load_kube_pools(POOLS_YAML)


@pytest.fixture(scope="module")
def manifests(pools):
    return kube_manifests("collab", pools, image=IMAGE, config={"collab.placement.mode": "cheapest"},
                          env={"OMP_NUM_THREADS": "1"})


def container(worker_or_scheduler: dict) -> dict:
    (c,) = worker_or_scheduler["spec"]["containers"]
    return c


def env_of(c: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", [])}


# --------------------------------------------------------------------------- manifests vs CRDs


def test_manifests_validate_against_dask_kubernetes_crds(manifests):
    assert [(d["kind"], d["metadata"]["name"]) for d in manifests] == [
        ("DaskCluster", "collab"), ("DaskWorkerGroup", "collab-cpu-ondemand"), ("DaskWorkerGroup", "collab-gpu"),
    ]
    for doc in manifests:
        check_against_crd(doc)
    assert all(d["spec"]["cluster"] == "collab" for d in manifests[1:])


def test_crd_check_bites():
    """The schema check is not vacuous: numeric quantities and misplaced fields are caught."""
    doc = kube_manifests("c", [Pool("gpu", 2.5, resources={"GPU": 1})], image=IMAGE)[0]
    bad = copy.deepcopy(doc)
    container(bad["spec"]["worker"])["resources"]["limits"]["nvidia.com/gpu"] = 1
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'string'"):
        check_against_crd(bad)
    bad = copy.deepcopy(doc)
    container(bad["spec"]["worker"])["nodeSelector"] = {"pool": "gpu"}  # belongs to the pod, not the container
    assert pruned_fields(bad, crd_schema("DaskCluster")) == [".spec.worker.spec.containers[0].nodeSelector"]


def test_worker_groups_carry_pool_placement(manifests):
    cluster, ondemand, gpu = manifests
    spot_pod = cluster["spec"]["worker"]["spec"]
    assert cluster["spec"]["worker"]["replicas"] == 2
    assert spot_pod["nodeSelector"] == {"cloud.google.com/gke-nodepool": "spot-pool"}
    assert spot_pod["tolerations"] == [
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert ondemand["spec"]["worker"]["spec"]["nodeSelector"] == {"cloud.google.com/machine-family": "c3"}
    gpu_container = container(gpu["spec"]["worker"])
    assert gpu_container["resources"]["limits"] == {"memory": "16Gi", "nvidia.com/gpu": "1"}
    assert gpu_container["args"][-2:] == ["--resources", "GPU=1"]
    assert "--resources" not in container(ondemand["spec"]["worker"])["args"]
    assert gpu["spec"]["worker"]["metadata"]["labels"] == {"daskcollab/pool": "gpu"}
    scheduler = container(cluster["spec"]["scheduler"])
    assert scheduler["args"][:2] == ["dask", "scheduler"]  # not the removed dask-scheduler command
    assert scheduler["args"][-2:] == ["--preload", "daskcollab.deploy.scheduler"]
    assert "resources" not in scheduler


def test_explicit_gpu_limit_and_per_pool_image_win():
    kp = kube_pool({"name": "gpu", "price-per-hour": 2.5, "resources": {"GPU": 2},
                    "kubernetes": {"resources": {"limits": {"amd.com/gpu": 2}}, "image": "me/rocm:1"}})
    spec = kube_worker_spec(kp, image=IMAGE)
    assert container(spec)["resources"] == {"limits": {"amd.com/gpu": "2"}}
    assert container(spec)["image"] == "me/rocm:1"
    assert kube_worker_spec(Pool("g", 1.0, resources={"GPU": 2}), image=IMAGE)["spec"]["containers"][0][
        "resources"] == {"limits": {"nvidia.com/gpu": "2"}}


# --------------------------------------------------------------------------- bad pool YAML


def write(tmp_path, text: str) -> pathlib.Path:
    path = tmp_path / "pools.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name: gpu\n",
         r"field 'pools': expected a non-empty YAML list of pools in '.*pools.yaml', got \{'name': 'gpu'\}.*"
         r"Fix: write - \{name"),
        ("- {name: GPU_pool, price-per-hour: 1}\n",
         r"field 'pools.GPU_pool.name': expected the pool name to be a DNS-1035 label .*got 'GPU_pool'.*"
         r"Fix: rename the pool"),
        ("- {name: 4cpu, price-per-hour: 1}\n",  # a DNS-1123 label, but Service-style names must start with a letter
         r"field 'pools.4cpu.name': expected the pool name to be a DNS-1035 label .*starting with a letter.*"
         r"got '4cpu'"),
        ("- {name: big, price-per-hour: 1, kubernetes: {resources: {requests: {memory: 8Gi}, limits: {memory: 4Gi}}}}\n",
         r"field 'pools.big.kubernetes.resources.requests.memory': expected a request at most the limit '4Gi', got "
         r"'8Gi'. Fix: lower the request or raise the limit"),
        ("- {name: a, price-per-hour: 1, kubernetes: {labels: {team: 'ml platform'}}}\n",
         r"field 'pools.a.kubernetes.labels.team': expected a label value .*got 'ml platform'"),
        ("- {name: a, price-per-hour: 1, kubernetes: {node-selector: {'bad key/x': 'y'}}}\n",
         r"field 'pools.a.kubernetes.node-selector.bad key/x': expected a label key"),
        ("- {name: gpu, price-per-hour: 1, kubernetes: {tolerations: [{key: nvidia.com/gpu, operator: Exists, "
         "value: present, effect: NoSchedule}]}}\n",
         r"field 'pools.gpu.kubernetes.tolerations\[0\].value': expected no value with operator Exists, got 'present'."
         r" Fix: drop the value"),
        ("- {name: a, price-per-hour: 1, kubernetes: {tolerations: [{operator: Equal, value: x}]}}\n",
         r"field 'pools.a.kubernetes.tolerations\[0\].key': expected a taint key with operator Equal, got None"),
        ("- {name: gpu, price-per-hour: 1, kubernetes: {resources: {limits: {nvidia.com/gpu: '0.5'}}}}\n",
         r"field 'pools.gpu.kubernetes.resources.limits.nvidia.com/gpu': expected a whole number of nvidia.com/gpu, "
         r"got '0.5'"),
        ("- {name: gpu, price-per-hour: 1, kubernetes: {resources: {requests: {nvidia.com/gpu: '1'}, "
         "limits: {nvidia.com/gpu: '2'}}}}\n",
         r"field 'pools.gpu.kubernetes.resources.requests.nvidia.com/gpu': expected the request of nvidia.com/gpu to "
         r"equal its limit '2', got '1'"),
        ("- {name: gpu, price-per-hour: cheap}\n",
         r"field 'pools\[0\]': expected numbers for price-per-hour.*Fix: write e.g."),
        ("- {name: gpu, price-per-hour: 1, kubernetes: {node-selecter: {a: b}}}\n",
         r"field 'pools.gpu.kubernetes': expected keys from .*'node-selector'.*got \['node-selecter'\].*Fix: remove"),
        ("- {name: spot, price-per-hour: 0.1, kubernetes: {node-selector: {cloud.google.com/gke-spot: true}}}\n",
         r"field 'pools.spot.kubernetes.node-selector.cloud.google.com/gke-spot': expected a string, got True.*"
         r"Fix: quote the value, e.g. cloud.google.com/gke-spot: \"true\""),
        ("- {name: spot, price-per-hour: 0.1, kubernetes: {tolerations: [{key: k, effect: NoSchedul}]}}\n",
         r"field 'pools.spot.kubernetes.tolerations\[0\].effect': expected one of \['NoSchedule', 'PreferNoSchedule', "
         r"'NoExecute'\], got 'NoSchedul'"),
        ("- {name: big, price-per-hour: 1, kubernetes: {resources: {limits: {memory: 4 GB}}}}\n",
         r"field 'pools.big.kubernetes.resources.limits.memory': expected a Kubernetes quantity, got '4 GB'.*"
         r"Fix: write e.g. cpu: \"500m\", memory: 4Gi"),
        ("- {name: big, price-per-hour: 1, kubernetes: {resources: {cpu: 2}}}\n",
         r"field 'pools.big.kubernetes.resources': expected a mapping with 'requests' and/or 'limits'"),
        ("- {name: gpu, price-per-hour: 1, resources: {GPU: 0.5}}\n",
         r"field 'pools.gpu.resources.GPU': expected a whole number of GPUs >= 1, got 0.5.*Fix: Kubernetes hands out"),
        ("- {name: a, price-per-hour: 1, kubernetes: {nthreads: 0}}\n",
         r"field 'pools.a.kubernetes.nthreads': expected a whole number of threads >= 1, got 0"),
        ("- {name: a, price-per-hour: 1, kubernetes: {env: {DASKCOLLAB_PRICE: '0'}}}\n",
         r"field 'pools.a.kubernetes.env': expected no daskcollab pool variables, got \['DASKCOLLAB_PRICE'\].*"
         r"Fix: set the pool's name, price-per-hour and speed instead"),
        ("- {name: a, price-per-hour: 1}\n- {name: a, price-per-hour: 2}\n",
         r"field 'pools\[1\].name': expected unique pool names, got 'a' again in '.*'. Fix: rename one"),
    ],
    ids=["not-a-list", "bad-name", "dns-1035", "memory-request-above-limit", "label-value", "label-key",
         "exists-with-value", "equal-without-key", "fractional-gpu-limit", "gpu-request-not-limit", "bad-price", "unknown-key", "unquoted-bool", "bad-effect", "bad-quantity",
         "resources-without-limits", "fractional-gpu", "nthreads", "reserved-env", "duplicate"],
)
def test_bad_pools_yaml_names_field_and_fix(tmp_path, text, match):
    with pytest.raises(DaskCollabError, match=r"^stage 'kubernetes', " + match):
        load_kube_pools(write(tmp_path, text))


def test_pool_bounds_in_the_pools_file(tmp_path):
    (spot, gpu) = load_kube_pools(write(tmp_path, "- {name: spot, price-per-hour: 0.1, workers: 1, max: 8}\n"
                                                  "- {name: gpu, price-per-hour: 2.5, workers: 0, max: 2}\n"))
    assert (spot.pool.min_workers, spot.pool.max_workers, gpu.pool.workers, gpu.pool.max_workers) == (1, 8, 0, 2)
    declared = json.loads(env_of(container(kube_manifests("c", [spot, gpu], image=IMAGE)[0]["spec"]["scheduler"]))[
        "DASK_COLLAB__PLACEMENT__POOLS"])
    assert [(p["name"], p["min"], p["max"]) for p in declared] == [("spot", 1, 8), ("gpu", 0, 2)]
    with pytest.raises(DaskCollabError, match=r"field 'pools.gpu.max': expected 0 <= min <= workers <= max, got "
                       r"min=2, workers=2, max=1"):
        load_kube_pools(write(tmp_path, "- {name: gpu, price-per-hour: 2.5, workers: 2, max: 1}\n"))


def test_bad_cluster_arguments():
    with pytest.raises(DaskCollabError, match=r"field 'name': expected the cluster name to be a DNS-1035 label .*"
                       r"got 'My_Cluster'"):
        kube_manifests("My_Cluster", EXAMPLE_POOLS, image=IMAGE)
    with pytest.raises(DaskCollabError, match=r"field 'namespace': expected a DNS-1123 label .*got 'ML_team'"):
        kube_manifests("c", EXAMPLE_POOLS, image=IMAGE, namespace="ML_team")
    with pytest.raises(DaskCollabError, match=r"field 'pools.cpu-ondemand.name': expected worker group names of at "
                       r"most 63 characters, got 'c{53}-cpu-ondemand' \(66\)"):
        kube_manifests("c" * 53, EXAMPLE_POOLS, image=IMAGE)
    with pytest.raises(DaskCollabError, match=r"field 'config': expected a dotted Dask config key, got 'a b'"):
        kube_manifests("c", EXAMPLE_POOLS, image=IMAGE, config={"a b": 1})
    with pytest.raises(DaskCollabError, match=r"field 'pool': expected a Pool, got 'gpu'"):
        KubePool("gpu")


def test_plan_reads_the_same_pools_file():
    """The kubernetes: block is an extension: `daskcollab plan --pools` reads the same file."""
    from daskcollab.placement._pools import pool_from_mapping

    specs = yaml.safe_load(POOLS_YAML.read_text())
    assert [pool_from_mapping(s) for s in specs] == [kp.pool for kp in load_kube_pools(POOLS_YAML)]


# --------------------------------------------------------------------------- CLI


def test_cli_prints_manifests_for_kubectl(capsys):
    assert main(["k8s", str(POOLS_YAML), "--name", "collab", "--image", IMAGE, "--namespace", "ml",
                 "--config", "collab.placement.mode=cheapest", "--env", "OMP_NUM_THREADS=1"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["DaskCluster", "DaskWorkerGroup", "DaskWorkerGroup"]
    assert {d["metadata"]["namespace"] for d in docs} == {"ml"}
    for doc in docs:
        check_against_crd(doc)
    assert env_of(container(docs[2]["spec"]["worker"]))["DASK_COLLAB__PLACEMENT__MODE"] == "cheapest"


def test_cli_writes_file_and_reports_errors(tmp_path, capsys):
    out = tmp_path / "collab.yaml"
    assert main(["kubernetes", str(POOLS_YAML), "--name", "collab", "--image", IMAGE, "-o", str(out)]) == 0
    assert "kubectl apply -f" in capsys.readouterr().out
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(out.read_text())] == [
        "collab", "collab-cpu-ondemand", "collab-gpu"]
    bad = write(tmp_path, "- {name: gpu, price-per-hour: 1, kubernetes: [gpu-pool]}\n")
    assert main(["k8s", str(bad), "--name", "collab", "--image", IMAGE]) == 3
    assert "field 'pools.gpu.kubernetes': expected a mapping, got ['gpu-pool']" in capsys.readouterr().err
    assert main(["k8s", str(POOLS_YAML), "--name", "c", "--image", IMAGE, "--config", "nonsense"]) == 2
    assert "field '--config': expected KEY=VALUE, got 'nonsense'" in capsys.readouterr().err


def test_manifests_yaml_round_trips(manifests):
    assert list(yaml.safe_load_all(manifests_yaml(manifests))) == manifests


def test_missing_dask_kubernetes_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_kubernetes.operator", None)  # as if not installed
    with pytest.raises(ImportError, match=r"needs dask-kubernetes: pip install 'daskcollab\[kubernetes\]'"):
        kube_manifests("collab", EXAMPLE_POOLS, image=IMAGE)
    assert load_kube_pools(POOLS_YAML)  # reading and validating pools needs no dask-kubernetes
