# daskcollab image for Kubernetes pods: the scheduler, the workers of every CPU pool and a DaskJob's runner.
#
#   docker build -t ghcr.io/you/daskcollab:0.1.0 .
#   daskcollab kubernetes workflows/pools/kubernetes.yaml --name collab --image ghcr.io/you/daskcollab:0.1.0
#
# Python, dask and distributed in the image must be the client's versions (pyproject.toml pins
# dask/distributed 2026.8.0; Python 3.11): Dask refuses or mis-reads messages across versions.
# `dask` (scheduler, worker: what the operator's pods run) and `daskcollab` (a DaskJob's runner) are on PATH.
# GPU pools: build the CUDA variant described in README.md (section Kubernetes) and set it as the
# pool's `kubernetes: {image: ...}`.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OMP_NUM_THREADS=1

WORKDIR /opt/daskcollab
COPY pyproject.toml README.md ./
COPY daskcollab ./daskcollab
RUN pip install . && useradd --create-home --uid 1000 dask
# workflow files for DaskJobs (`daskcollab kubernetes ... --job workflows/NAME.yaml` runs this path)
COPY workflows ./workflows

USER 1000
