"""What the scheduler and worker preloads cost a starting process: import seconds and heavy libraries.

Every worker of an elastic pool imports the worker preload at start-up, and start-up is billed; the
scheduler imports its preload once. Each measurement is a fresh interpreter (``python -c``), repeated
and interleaved, medians quoted:

* ``import``: ``import <preload>`` minus ``import distributed`` (the figure of
  ``../shared/tools/structure-check``: what importing the preload module adds to a bare interpreter);
* ``installed``: in a process that already imported ``distributed`` (and, for the scheduler, its
  Bokeh dashboard, as a ``dask scheduler`` has), the seconds to import the preload *and everything
  its setup installs* (the placement plugin, pool scaling, the dashboard page; for the worker, the
  pool membership and the SIGTERM retirement): what the preload really adds to a ``dask`` process;
* the modules each loads, and which of scikit-learn, scipy, pandas, zarr, xgboost, dask-ml.

    python benchmarks/bench_preload.py [--repeats 7] [--baseline PATH]

``--baseline PATH`` measures a checkout of an older commit the same way, interleaved (e.g.
``git worktree add /tmp/base 9a741ee``), and prints the ratio. Target (issue "One room per
concept"): ``import`` <= 0.5 s over ``import distributed``, no heavy library. Writes
``benchmarks/results/preload.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import median, write_result  # noqa: E402

HEAVY = ("sklearn", "scipy", "pandas", "zarr", "xgboost", "dask_ml")
TARGET_S = 0.5
#: What each preload's setup imports besides the preload module (measured as installed).
INSTALLS = {
    "daskcollab.deploy.scheduler": ("daskcollab.placement._plugin", "daskcollab.deploy._scaling",
                                    "daskcollab.dashboard._install", "daskcollab.dashboard._bokeh"),
    "daskcollab.deploy.worker": ("daskcollab.deploy.preemption", "daskcollab.placement._pools"),
}
#: What a ``dask scheduler`` / ``dask worker`` process has imported before its preloads run.
ALREADY = {
    "daskcollab.deploy.scheduler": ("distributed", "distributed.dashboard.scheduler"),
    "daskcollab.deploy.worker": ("distributed",),
}

_PROBE = """
import importlib, json, sys, time
for m in {before!r}:
    importlib.import_module(m)
n0 = len(sys.modules)
t0 = time.perf_counter()
for m in {modules!r}:
    importlib.import_module(m)
t1 = time.perf_counter()
print(json.dumps({{"seconds": t1 - t0, "modules": len(sys.modules) - n0,
                  "heavy": sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r})}}))
"""


def probe(root: str | None, before: tuple[str, ...], modules: tuple[str, ...]) -> dict:
    """Import ``modules`` in a fresh interpreter after ``before``; ``root``: a checkout to import from."""
    env = dict(os.environ)
    if root:
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    code = _PROBE.format(before=before, modules=modules, heavy=set(HEAVY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=root or os.getcwd())
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(root: str | None, repeats: int, installs: dict[str, tuple[str, ...]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for preload, extra in installs.items():
        bare, imported, installed = [], [], []
        for _ in range(repeats):
            bare.append(probe(root, (), ("distributed",)))
            imported.append(probe(root, (), (preload,)))
            installed.append(probe(root, ALREADY[preload], (preload, *extra)))
        out[preload] = {
            "import_s": median([i["seconds"] for i in imported]) - median([b["seconds"] for b in bare]),
            "import_modules": imported[-1]["modules"], "import_heavy": imported[-1]["heavy"],
            "installed_s": median([i["seconds"] for i in installed]), "installed_modules": installed[-1]["modules"],
            "installed_heavy": installed[-1]["heavy"],
            "samples": {"distributed": [b["seconds"] for b in bare], "import": [i["seconds"] for i in imported],
                        "installed": [i["seconds"] for i in installed]},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--baseline", default=None, help="a checkout of an older commit, measured the same way")
    args = parser.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    now = measure(here, args.repeats, INSTALLS)
    base = None
    if args.baseline:  # the old layout: the plugin was daskcollab.placement._plugin, no _install split
        old = {"daskcollab.deploy.scheduler": ("daskcollab.placement._plugin", "daskcollab.deploy._scaling",
                                               "daskcollab.dashboard._install"),
               "daskcollab.deploy.worker": ("daskcollab.deploy.preemption",)}
        base = measure(os.path.abspath(args.baseline), args.repeats, old)
    checks = {}
    print(f"{'preload':32} {'import s':>9} {'modules':>8} {'installed s':>12} {'modules':>8}  heavy libraries")
    for preload, m in now.items():
        rows = [("now", m)] + ([("baseline", base[preload])] if base else [])
        for label, r in rows:
            print(f"{preload + ' (' + label + ')':32} {r['import_s']:9.3f} {r['import_modules']:8d} "
                  f"{r['installed_s']:12.3f} {r['installed_modules']:8d}  {','.join(r['installed_heavy']) or 'none'}")
        short = preload.rsplit(".", 1)[-1]
        checks[f"{short} preload import s over import distributed"] = {
            "ratio": round(m["import_s"], 3), "target": TARGET_S, "met": m["import_s"] <= TARGET_S}
        checks[f"{short} preload and its setup load no heavy library"] = {
            "ratio": float(len(m["installed_heavy"])), "target": 0.0, "met": not m["installed_heavy"]}
        if base:
            ratio = m["installed_s"] / base[preload]["installed_s"]
            checks[f"{short} preload installed s vs baseline"] = {"ratio": round(ratio, 3), "target": 1.0,
                                                                  "met": ratio <= 1.0}
    for name, c in checks.items():
        print(f"  {name:58} {c['ratio']:.3f} (target <= {c['target']}: {'MET' if c['met'] else 'MISSED'})")
    path = write_result("preload", {"repeats": args.repeats, "baseline": args.baseline, "now": now,
                                    "baseline_results": base, "checks": checks})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
