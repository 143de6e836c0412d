"""The ``daskcollab`` command line.

::

    daskcollab [--version] [-v | -q] COMMAND ...
    daskcollab run FILE.yaml [--scheduler ADDRESS] [--no-progress] [--json OUT] [--report OUT.html] [--concurrency N]
    daskcollab report RUN.json -o REPORT.html
    daskcollab validate FILE.yaml
    daskcollab plan FILE.yaml [--pools POOLS.yaml]
    daskcollab kubernetes POOLS.yaml --name NAME --image IMAGE [--job WORKFLOW.yaml] [-o OUT.yaml]   (alias: k8s)
    daskcollab data NAME PATH [--rows N] [--chunk-rows N]
    daskcollab schema

Exit status (:class:`ExitCode`): 0 success, 2 a usage error (unknown option, missing argument:
argparse's own, or a malformed option value), 3 a workflow, data, placement or budget problem (a ``DaskCollabError``: the
message says what and how to fix it), 1 anything unexpected (a traceback).
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import sys
from collections.abc import Sequence
from enum import IntEnum

from daskcollab._errors import DaskCollabError, UsageError
from daskcollab._logging import quiet_close

logger = logging.getLogger("daskcollab")


class ExitCode(IntEnum):
    """What ``daskcollab`` exits with."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2  # argparse exits with 2 on a usage error
    WORKFLOW = 3  # a DaskCollabError: bad workflow, data, placement, budget


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    verbosity = -1 if getattr(args, "no_progress", False) or args.quiet else args.verbose
    _configure_logging(verbosity)
    try:
        return args.func(args)
    except UsageError as exc:
        logger.error("error: %s", exc)
        return ExitCode.USAGE
    except DaskCollabError as exc:
        logger.error("error: %s", exc)
        return ExitCode.WORKFLOW


def version() -> str:
    """The installed daskcollab version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version("daskcollab")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown (not installed)"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (``main()`` may be called
    again after ``sys.stderr`` was replaced, as by a test harness or an embedding program)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # the base class assigns it; the live sys.stderr wins
        pass


def _configure_logging(verbosity: int) -> None:
    """Console logging of the CLI: ``daskcollab`` lines on stderr, library noise quiet by default.

    ``verbosity`` -1 (``-q`` / ``--no-progress``): warnings only; 0 (default): daskcollab's stage
    lines, Dask's warnings without the nanny's close-time "still alive, killing"; 1 (``-v``):
    that warning and Dask's INFO level too; 2 (``-vv``): daskcollab DEBUG. Dask's "Run out-of-band
    function" line for daskcollab's own scheduler calls is never shown (:mod:`daskcollab._logging`).
    Worker processes started here inherit the Dask level through ``DASK_LOGGING__DISTRIBUTED``.
    """
    ours = logging.getLogger("daskcollab")
    if not any(getattr(h, "_daskcollab_cli", False) for h in ours.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("daskcollab: %(message)s"))
        handler._daskcollab_cli = True  # type: ignore[attr-defined]
        ours.addHandler(handler)
    ours.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity >= 2 else logging.INFO)
    dask_level = logging.INFO if verbosity >= 1 else logging.WARNING
    os.environ["DASK_LOGGING__DISTRIBUTED"] = logging.getLevelName(dask_level).lower()
    logging.getLogger("distributed").setLevel(dask_level)
    quiet_close(verbosity < 1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="daskcollab", description="Collaborative ML workflows on Dask.",
        epilog="exit status: 0 ok, 2 usage error, 3 workflow/data/placement/budget error, 1 unexpected error")
    parser.add_argument("--version", action="version", version=f"daskcollab {version()}")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="count", default=0,
                      help="show Dask's INFO lines too (-vv: daskcollab debug lines)")
    loud.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a YAML workflow and print its metrics table")
    run.add_argument("file", help="workflow YAML file")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="connect to this Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, i.e. Dask config "
                          "scheduler-address, as in a DaskJob's runner pod); without either, start a LocalCluster")
    run.add_argument("--no-progress", action="store_true", help="do not print stage lines and progress bars")
    run.add_argument("--json", metavar="OUT", help="also write the RunResult as JSON to OUT")
    run.add_argument("--report", metavar="OUT.html",
                     help="also write the run's self-contained HTML report to OUT.html (see `daskcollab report`)")
    run.add_argument("--concurrency", type=int, metavar="N",
                     help="at most N stages at once (default: no limit; 1: one stage after another)")
    run.set_defaults(func=_run)

    report = sub.add_parser("report", help="write a run's self-contained HTML report from its RunResult JSON")
    report.add_argument("result", metavar="RUN.json", help="a RunResult JSON file (daskcollab run --json RUN.json)")
    report.add_argument("-o", "--output", metavar="REPORT.html", required=True, help="where to write the report")
    report.set_defaults(func=_report)

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

    from daskcollab.runtime import connect, run
    from daskcollab.workflow import load_workflow

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
    if args.report:
        from daskcollab.report import write_report

        logger.info("report: %s", write_report(result, args.report))
    return ExitCode.OK


def _report(args: argparse.Namespace) -> int:
    from daskcollab.report import write_report

    path = write_report(args.result, args.output)
    print(f"wrote the report of {args.result} to {path}")
    return ExitCode.OK


def _validate(args: argparse.Namespace) -> int:
    from daskcollab.workflow import load_workflow

    workflow = load_workflow(args.file)
    print(f"{args.file}: OK, workflow {workflow.name!r} with {len(workflow.stages)} stages: "
          + ", ".join(f"{s.name} ({s.type_name})" for s in workflow.stages))
    return 0


def _data(args: argparse.Namespace) -> int:
    from daskcollab.data import BUILDERS

    if args.name not in BUILDERS:
        logger.error("error: unknown dataset %r; registered: %r", args.name, sorted(BUILDERS))
        return ExitCode.USAGE
    builder = BUILDERS[args.name]
    options = {k: v for k, v in (("rows", args.rows), ("chunk_rows", args.chunk_rows)) if v is not None}
    accepted = inspect.signature(builder).parameters
    for option in options:
        if option not in accepted:
            logger.error("error: dataset %r does not take --%s (it is a fixed real table)", args.name,
                         option.replace("_", "-"))
            return ExitCode.USAGE
    path = builder(args.path, **options)
    print(f"wrote {args.name!r} to {path}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    import dask.config
    import yaml

    from daskcollab.compile import workflow_plan_report
    from daskcollab.placement import EXAMPLE_POOLS, pool_from_mapping
    from daskcollab.workflow import load_workflow

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
            raise UsageError(stage_message("kubernetes", option, f"expected KEY=VALUE, got {item!r}",
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
            from daskcollab.workflow import load_workflow

            load_workflow(args.job)  # a typo fails here, not in the runner pod
            docs = kube_job_manifests(args.name, pools, args.job, **options)
        else:
            docs = kube_manifests(args.name, pools, **options)
    except ImportError as exc:
        logger.error("error: %s", exc)
        return ExitCode.UNEXPECTED
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
    from daskcollab.workflow import workflow_schema

    print(json.dumps(workflow_schema(), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
