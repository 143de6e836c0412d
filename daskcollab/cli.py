"""The ``daskcollab`` command line.

::

    daskcollab run FILE.yaml [--scheduler ADDRESS] [--no-progress] [--json OUT] [--concurrency N]
    daskcollab validate FILE.yaml
    daskcollab plan FILE.yaml [--pools POOLS.yaml]
    daskcollab kubernetes POOLS.yaml --name NAME --image IMAGE [--job WORKFLOW.yaml] [-o OUT.yaml]   (alias: k8s)
    daskcollab data NAME PATH [--rows N] [--chunk-rows N]
    daskcollab schema

Exit status: 0 on success, 2 for a workflow or data problem (the message says what and how
to fix it), 1 for anything unexpected.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Sequence

from daskcollab._errors import DaskCollabError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(quiet=bool(getattr(args, "no_progress", False)))
    try:
        return args.func(args)
    except DaskCollabError as exc:
        print(f"daskcollab: error: {exc}", file=sys.stderr)
        return 2


def _configure_logging(*, quiet: bool) -> None:
    """Stage lines and warnings of the ``daskcollab`` logger on stderr (warnings only when quiet)."""
    import logging

    logger = logging.getLogger("daskcollab")
    if not any(getattr(h, "_daskcollab_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("daskcollab: %(message)s"))
        handler._daskcollab_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="daskcollab", description="Collaborative ML workflows on Dask.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a YAML workflow and print its metrics table")
    run.add_argument("file", help="workflow YAML file")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="connect to this Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, i.e. Dask config "
                          "scheduler-address, as in a DaskJob's runner pod); without either, start a LocalCluster")
    run.add_argument("--no-progress", action="store_true", help="do not print stage lines and progress bars")
    run.add_argument("--json", metavar="OUT", help="also write the RunResult as JSON to OUT")
    run.add_argument("--concurrency", type=int, metavar="N",
                     help="at most N stages at once (default: no limit; 1: one stage after another)")
    run.set_defaults(func=_run)

    validate = sub.add_parser("validate", help="check a YAML workflow without running it")
    validate.add_argument("file")
    validate.set_defaults(func=_validate)

    data = sub.add_parser("data", help="create a registered dataset as a Zarr store")
    data.add_argument("name", help="registered dataset: flights, flights-regression, sensor-fusion")
    data.add_argument("path", help="where to write the Zarr store")
    data.add_argument("--rows", type=int, help="rows to generate (synthetic datasets only)")
    data.add_argument("--chunk-rows", type=int, help="rows per chunk")
    data.set_defaults(func=_data)

    plan = sub.add_parser("plan", help="predict makespan and cost per placement mode and pool, before running")
    plan.add_argument("file", help="workflow YAML file")
    plan.add_argument("--pools", metavar="POOLS.yaml",
                      help="YAML list of pools ({name, price-per-hour, speed, workers, resources}); default: "
                           "config collab.placement.pools, else an example of three pools")
    plan.set_defaults(func=_plan)

    kube = sub.add_parser(
        "kubernetes", aliases=["k8s"],
        help="print dask-kubernetes manifests (DaskCluster + one DaskWorkerGroup per pool) for kubectl apply -f",
    )
    kube.add_argument("pools", metavar="POOLS.yaml",
                      help="YAML list of pools as for plan --pools, each with an optional kubernetes: block")
    kube.add_argument("--name", required=True, help="DaskCluster name; worker groups are NAME-POOL")
    kube.add_argument("--image", required=True, help="container image with daskcollab installed")
    kube.add_argument("--namespace", help="namespace written into the manifests (default: kubectl's)")
    kube.add_argument("--nthreads", type=int, default=1, help="threads per worker unless the pool sets nthreads")
    kube.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                      help="environment variable of the scheduler and all workers (repeatable)")
    kube.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                      help="Dask config of the scheduler and all workers, e.g. collab.placement.mode=cheapest "
                           "(repeatable)")
    kube.add_argument("--job", metavar="WORKFLOW.yaml",
                      help="print a DaskJob that runs `daskcollab run WORKFLOW.yaml` on the cluster instead (the "
                           "path as it is inside the image; the local file at that path is validated first)")
    kube.add_argument("-o", "--output", metavar="OUT.yaml", help="write the manifests here instead of stdout")
    kube.set_defaults(func=_kubernetes)

    schema = sub.add_parser("schema", help="print the JSON schema of workflow YAML files")
    schema.set_defaults(func=_schema)
    return parser


def _run(args: argparse.Namespace) -> int:
    import dask.config
    from daskcollab.runtime._runner import connect, run
    from daskcollab.workflow._yaml import load_workflow

    workflow = load_workflow(args.file)
    progress = False if args.no_progress else None
    address = args.scheduler or dask.config.get("scheduler-address", default=None)
    if address:
        with connect(address) as client:
            result = run(workflow, client, progress=progress, concurrency=args.concurrency)
    else:
        result = run(workflow, progress=progress, concurrency=args.concurrency)
    print(result.table())
    if args.json:
        with open(args.json, "w") as f:
            f.write(result.to_json())
    return 0


def _validate(args: argparse.Namespace) -> int:
    from daskcollab.workflow._yaml import load_workflow

    workflow = load_workflow(args.file)
    print(f"{args.file}: OK, workflow {workflow.name!r} with {len(workflow.stages)} stages: "
          + ", ".join(f"{s.name} ({s.type_name})" for s in workflow.stages))
    return 0


def _data(args: argparse.Namespace) -> int:
    from daskcollab.data._builders import BUILDERS

    if args.name not in BUILDERS:
        print(f"daskcollab: error: unknown dataset {args.name!r}; registered: {sorted(BUILDERS)!r}", file=sys.stderr)
        return 2
    builder = BUILDERS[args.name]
    options = {k: v for k, v in (("rows", args.rows), ("chunk_rows", args.chunk_rows)) if v is not None}
    accepted = inspect.signature(builder).parameters
    for option in options:
        if option not in accepted:
            print(f"daskcollab: error: dataset {args.name!r} does not take --{option.replace('_', '-')} "
                  "(it is a fixed real table)", file=sys.stderr)
            return 2
    path = builder(args.path, **options)
    print(f"wrote {args.name!r} to {path}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    import dask.config
    import yaml

    from daskcollab.compile._plan import workflow_plan_report
    from daskcollab.placement import EXAMPLE_POOLS
    from daskcollab.placement._pools import pool_from_mapping
    from daskcollab.workflow._yaml import load_workflow

    workflow = load_workflow(args.file)
    if args.pools:
        with open(args.pools) as f:
            specs = yaml.safe_load(f) or []
    else:
        specs = dask.config.get("collab.placement.pools", default=[]) or []
    pools = [pool_from_mapping(s) for s in specs] or list(EXAMPLE_POOLS)
    if not specs:
        print("(no pools given: planning on the example pools; pass --pools POOLS.yaml for yours)")
    print(workflow_plan_report(workflow, pools))
    return 0


def _pairs(option: str, items: Sequence[str]) -> dict[str, str]:
    from daskcollab._errors import stage_message

    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DaskCollabError(stage_message("kubernetes", option, f"expected KEY=VALUE, got {item!r}",
                                                f"write e.g. {option} collab.placement.mode=cheapest"))
        pairs[key] = value
    return pairs


def _kubernetes(args: argparse.Namespace) -> int:
    try:
        from daskcollab.deploy import kube_job_manifests, kube_manifests, load_kube_pools, manifests_yaml

        pools = load_kube_pools(args.pools)
        options = dict(image=args.image, namespace=args.namespace, nthreads=args.nthreads,
                       env=_pairs("--env", args.env), config=_pairs("--config", args.config))
        if args.job:
            from daskcollab.workflow._yaml import load_workflow

            load_workflow(args.job)  # a typo fails here, not in the runner pod
            docs = kube_job_manifests(args.name, pools, args.job, **options)
        else:
            docs = kube_manifests(args.name, pools, **options)
    except ImportError as exc:
        print(f"daskcollab: error: {exc}", file=sys.stderr)
        return 1
    command = f"daskcollab kubernetes {args.pools} --name {args.name} --image {args.image}"
    text = f"# {command}{f' --job {args.job}' if args.job else ''}\n" + manifests_yaml(docs)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        what = (f"DaskJob {args.name!r}" if args.job else f"DaskCluster {args.name!r}")
        print(f"wrote {what} and {len(docs) - 1} DaskWorkerGroup(s) to {args.output}; "
              f"apply with: kubectl apply -f {args.output}")
    else:
        print(text, end="")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from daskcollab.workflow._yaml import workflow_schema

    print(json.dumps(workflow_schema(), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
