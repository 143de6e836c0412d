"""The package's seams: no import cycle between sub-packages, public names between them, preloads that
import nothing heavy, and a placement policy that neither imports ``distributed`` nor touches files.

The import walks read the source (``ast``): module-level imports make the package graph (an import
inside a function, or under ``if TYPE_CHECKING``, runs later or never); every import counts for the
private-module rule.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "daskcollab"
#: What a scheduler or worker preload must not load (each costs seconds of a billed start-up).
HEAVY = ("sklearn", "scipy", "pandas", "zarr", "xgboost", "dask_ml")
#: Imports of another sub-package's private module that are allowed, each with its reason (at most 15).
ALLOWED_PRIVATE: dict[str, str] = {}
#: placement modules that are Dask glue (they may import distributed or touch files); the rest is policy.
PLACEMENT_GLUE = {
    "_plugin": "the SchedulerPlugin: translates scheduler events",
    "_scheduler": "reads and writes TaskState objects",
    "_store": "the cost model's file",
    "_client": "asks the scheduler from a client",
}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield path, name


def _imports(path: pathlib.Path, module: str):
    """(imported module, at module level) for each import of ``path``; ``from x import y`` names ``x.y`` too."""
    is_package = path.name == "__init__.py"
    out = []

    def visit(node, top):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                out.extend((a.name, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = module.split(".") if is_package else module.split(".")[:-1]
                target = ".".join(base[: len(base) - child.level + 1] + [child.module or ""]).strip(".") \
                    if child.level else child.module
                out.append((target, top))
                out.extend((f"{target}.{a.name}", top) for a in child.names)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            else:
                visit(child, top)

    visit(ast.parse(path.read_text()), True)
    return out


def _subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (ROOT / parts[1]).is_dir() else None


def _package_graph():
    known = {name for _, name in _modules()}
    graph: dict[str, set[str]] = {}
    private = []
    for path, module in _modules():
        here = _subpackage(module)
        for target, top in _imports(path, module):
            if target not in known or not target.startswith("daskcollab."):
                continue
            there = _subpackage(target)
            if there is None or there == (here or module.split(".")[1]):
                continue
            if top and here:
                graph.setdefault(here, set()).add(there)
            if any(p.startswith("_") for p in target.split(".")[2:]):
                private.append(f"{module} -> {target}")
    return graph, private


def _cycles(graph):
    """Strongly connected sets of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(graph):
        if v not in index:
            strong(v)
    return out


def test_the_walk_sees_a_cycle_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_subpackages():
    graph, _ = _package_graph()
    assert graph, "the walk found no import between sub-packages: it is broken"
    assert _cycles(graph) == []


def test_subpackages_import_each_others_public_names():
    _, private = _package_graph()
    unexplained = sorted(set(private) - set(ALLOWED_PRIVATE))
    assert unexplained == [], ("import the public name from the package's __init__ (add it to its exports), "
                               "or list the import in ALLOWED_PRIVATE with its reason")
    assert len(ALLOWED_PRIVATE) <= 15
    assert set(ALLOWED_PRIVATE) <= set(private), "ALLOWED_PRIVATE lists an import that no longer exists"


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


@pytest.mark.parametrize("preload", ["daskcollab.deploy.scheduler", "daskcollab.deploy.worker"])
def test_importing_a_preload_loads_no_heavy_library(preload):
    loaded = _run(f"import sys, {preload}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))")
    assert loaded == "[]"


def test_a_scheduler_and_worker_started_with_the_preloads_load_no_heavy_library():
    """Not only the import: what the preloads install (the placement plugin, pool scaling, the
    dashboard page, the pool membership) on a real scheduler and worker."""
    out = _run(f"""
        import asyncio, sys
        from distributed import Scheduler, Worker

        async def main():
            async with Scheduler(port=0, dashboard_address="127.0.0.1:0", preload=["daskcollab.deploy.scheduler"]) as s:
                async with Worker(s.address, nthreads=1, preload=["daskcollab.deploy.worker"],
                                  preload_argv=[["--pool", "spot", "--price", "0.1"]]) as w:
                    return sorted(s.plugins), s.workers[w.address].extra["daskcollab"]["pool"]

        plugins, pool = asyncio.run(main())
        print(pool, "daskcollab-placement" in plugins, sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))
    """)
    assert out.splitlines()[-1] == "spot True []"


def test_import_daskcollab_is_lazy_and_complete():
    out = _run(f"""
        import sys, daskcollab as dc
        before = sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})
        missing = [n for n in dc.__all__ if getattr(dc, n, None) is None]
        print(before, missing, dc.XGBoostModel.__module__, dc.run.__module__, callable(dc.data.build_flights),
              dc.placement.Pool.__name__, hasattr(dc, "no_such_name"))
    """)
    assert out == "[] [] daskcollab.workflow._model_stages daskcollab.runtime._runner True Pool False"


def _placement_policy():
    for path in sorted((ROOT / "placement").glob("_*.py")):
        if path.stem not in PLACEMENT_GLUE:
            yield path


@pytest.mark.parametrize("path", list(_placement_policy()), ids=lambda p: p.stem)
def test_placement_policy_is_pure(path):
    """No ``distributed`` (or tornado), no files, no clock: callers pass ``now``."""
    tree = ast.parse(path.read_text())
    imported = {t.split(".")[0] for t, _ in _imports(path, f"daskcollab.placement.{path.stem}")}
    assert not imported & {"distributed", "tornado", "os", "pathlib", "shutil", "io", "time"}, path.stem
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not {c for c in calls if c == "open" or c.endswith((".read_text", ".write_text", ".read_bytes",
                                                                 ".write_bytes", ".open"))}, path.stem


def test_the_purity_check_covers_the_policy_modules():
    names = {p.stem for p in _placement_policy()}
    assert {"_decide", "_runs", "_learning", "_watchdog", "_demand", "_ledger", "_cost_model", "_state"} <= names
    assert set(PLACEMENT_GLUE) <= {p.stem for p in (ROOT / "placement").glob("_*.py")}
