"""The package's layering, checked on its import graph (built with `ast`, nothing imported).

Rules: methods import no pipeline, report, CLI or top-level config code (each method folder owns its
config dataclass); reports read result files and import no pipeline code; core imports none of the layers
above it; and no module imports itself back through a chain of others.

The graph holds every `import` and `from ... import` of a package module, at module level and inside
functions. `from pkg import name` is an import of the submodule `pkg.name` when that module exists, else
of `pkg`. Importing `a.b.c` also runs `a/__init__.py` and `a/b/__init__.py`; those implied edges count for
the cycle check (except to the importing module's own parent packages, which are already running).
"""

from __future__ import annotations

import ast
import functools
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "polyglot_kd"


@dataclass(frozen=True)
class Import:
    source: str
    """The importing module, dotted."""
    target: str
    """The imported module, dotted."""
    path: str
    """The importing file, relative to the root."""
    line: int
    in_function: bool = False
    named: str = ""
    """For a parent package that an import runs: the module the import names (else empty)."""

    @property
    def implied(self) -> bool:
        return bool(self.named)

    def where(self) -> str:
        what = f"{self.named}, which runs {self.target}" if self.named else self.target
        return f"{self.path}:{self.line} imports {what}" + (" (inside a function)" if self.in_function else "")


@dataclass(frozen=True)
class Rule:
    name: str
    importers: str
    """Modules under this dotted prefix..."""
    forbidden: tuple[str, ...]
    """...import nothing under these prefixes..."""
    reason: str
    allowed: frozenset[tuple[str, str]] = frozenset()
    """...except these (importer, imported) edges."""


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


RULES = (
    Rule("methods", f"{PACKAGE}.methods",
         (f"{PACKAGE}.pipeline", f"{PACKAGE}.reports", f"{PACKAGE}.cli", f"{PACKAGE}.config"),
         "methods take objects and own their config dataclasses; only the pipeline knows stages and builds"),
    Rule("reports", f"{PACKAGE}.reports", (f"{PACKAGE}.pipeline",),
         "reports read result files, they do not run or import the stages"),
    Rule("core", f"{PACKAGE}.core",
         (f"{PACKAGE}.pipeline", f"{PACKAGE}.reports", f"{PACKAGE}.cli", f"{PACKAGE}.config", f"{PACKAGE}.methods"),
         "core is the bottom layer that everything else uses",
         # Loading a factorised-embedding checkpoint needs its model class registered with AutoModel
         # first, and every encoder is loaded through core/loading.py: the one method import core makes.
         allowed=frozenset({(f"{PACKAGE}.core.loading", f"{PACKAGE}.methods.embed_init.factorised")})),
)


def module_files(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of `package` under `root`, dotted name -> file (a package is its __init__.py)."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _import_nodes(node: ast.AST, inside: bool = False):
    """(import statement, inside a function) for every import in the tree."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, inside
        yield from _import_nodes(child, inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))


def _named_imports(tree: ast.Module, module: str, is_package: bool, modules: dict[str, Path]):
    """(imported module, line, inside a function) for each module a file names in an import."""
    for node, inside in _import_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, inside
        else:
            base = node.module if not node.level else _resolve_relative(module, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in modules else base), node.lineno, inside


def imports_of(module: str, path: Path, modules: dict[str, Path], root: Path) -> list[Import]:
    """The package imports of one module, each with the parent packages the import runs."""
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    is_package = path.name == "__init__.py"
    package_prefix = module.split(".")[0]
    own_parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    if is_package:
        own_parents.add(module)
    out: list[Import] = []
    for target, line, inside in _named_imports(tree, module, is_package, modules):
        if not under(target, package_prefix):
            continue
        out.append(Import(module, target, rel, line, inside))
        parts = target.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in modules and parent not in own_parents:
                out.append(Import(module, parent, rel, line, inside, named=target))
    return out


def import_graph(root: Path, package: str = PACKAGE) -> list[Import]:
    """Every import edge between the modules of `package` under `root`, self-imports left out."""
    modules = module_files(root, package)
    return [edge for module, path in modules.items() for edge in imports_of(module, path, modules, root)
            if edge.target != edge.source]


def rule_violations(edges: list[Import], rules=RULES) -> list[str]:
    """One line per import that a rule forbids: file, line, imported module, rule and reason.

    Only the modules an import names are checked (a parent package it runs is checked where it is
    itself imported)."""
    out = []
    for edge in edges:
        if edge.implied:
            continue
        for rule in rules:
            if (under(edge.source, rule.importers) and any(under(edge.target, f) for f in rule.forbidden)
                    and (edge.source, edge.target) not in rule.allowed):
                out.append(f"{edge.where()} (rule '{rule.name}': {rule.reason})")
    return sorted(set(out))


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components, iteratively (no recursion limit on a deep graph)."""
    index, low, on_stack, stack, components, counter = {}, {}, set(), [], [], 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _shortest_cycle(graph: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    """start -> ... -> start, fewest edges, through modules of one component."""
    previous, queue = {}, deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph.get(node, ())):
            if child not in within:
                continue
            if child == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return chain[::-1] + [start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return []


def find_cycles(edges: list[Import]) -> list[list[Import]]:
    """Import cycles as chains of edges: for each module on a cycle, the shortest one through it,
    each distinct cycle once."""
    graph: dict[str, set[str]] = {}
    first_edge: dict[tuple[str, str], Import] = {}
    for edge in sorted(edges, key=lambda e: (e.implied, e.in_function, e.line)):
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
        first_edge.setdefault((edge.source, edge.target), edge)
    cycles, seen = [], set()
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        for module in sorted(component):
            chain = _shortest_cycle(graph, module, component)
            key = frozenset(zip(chain, chain[1:]))
            if chain and key not in seen:
                seen.add(key)
                cycles.append([first_edge[(a, b)] for a, b in zip(chain, chain[1:])])
    return cycles


def describe_cycle(cycle: list[Import]) -> str:
    chain = " -> ".join([cycle[0].source] + [edge.target for edge in cycle])
    return chain + "".join(f"\n      {edge.where()}" for edge in cycle)


# ---------------------------------------------------------------------------------------------------
# The package's own layering


@functools.cache
def _package_graph() -> tuple[Import, ...]:
    return tuple(import_graph(ROOT))


def _fail_on(problems: list[str]) -> None:
    if problems:
        pytest.fail(f"{len(problems)} layering problem(s):\n  " + "\n  ".join(problems), pytrace=False)


def test_the_package_graph_is_found():
    edges = _package_graph()
    modules = module_files(ROOT)
    assert {f"{PACKAGE}.cli", f"{PACKAGE}.core.loading", f"{PACKAGE}.pipeline.build"} <= modules.keys()
    assert any(e.source == f"{PACKAGE}.cli" and under(e.target, f"{PACKAGE}.pipeline") for e in edges)


def test_methods_import_no_pipeline_reports_cli_or_config():
    problems = rule_violations(list(_package_graph()), [r for r in RULES if r.name == "methods"])
    _fail_on(problems)


def test_reports_import_no_pipeline():
    problems = rule_violations(list(_package_graph()), [r for r in RULES if r.name == "reports"])
    _fail_on(problems)


def test_core_imports_no_layer_above_it():
    problems = rule_violations(list(_package_graph()), [r for r in RULES if r.name == "core"])
    _fail_on(problems)


def test_no_import_cycles():
    cycles = find_cycles(list(_package_graph()))
    _fail_on([describe_cycle(c) for c in cycles])


# ---------------------------------------------------------------------------------------------------
# The checker on synthetic packages: it fails when it should


def _package(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (path -> source) under root, with an empty __init__.py in every folder."""
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        for folder in path.relative_to(root).parents:
            if folder != Path(".") and not (root / folder / "__init__.py").exists():
                (root / folder / "__init__.py").write_text("")
    return root


def test_a_method_that_imports_a_stage_is_reported(tmp_path):
    _package(tmp_path, {
        "polyglot_kd/methods/foo/train.py": "import torch\n\ndef fit():\n    from polyglot_kd.pipeline.stages import distill\n",
        "polyglot_kd/methods/foo/losses.py": "from polyglot_kd.config import FooConfig\n",
        "polyglot_kd/pipeline/stages/distill.py": "from polyglot_kd.methods.foo import train\n",
        "polyglot_kd/config.py": "",
    })
    problems = rule_violations(import_graph(tmp_path))
    assert problems == [
        "polyglot_kd/methods/foo/losses.py:1 imports polyglot_kd.config (rule 'methods': " + RULES[0].reason + ")",
        "polyglot_kd/methods/foo/train.py:4 imports polyglot_kd.pipeline.stages.distill (inside a function) "
        "(rule 'methods': " + RULES[0].reason + ")",
    ]


def test_a_two_module_cycle_is_reported(tmp_path):
    _package(tmp_path, {"polyglot_kd/a.py": "import polyglot_kd.b\n",
                        "polyglot_kd/b.py": "import os\nfrom polyglot_kd import a\n",
                        "polyglot_kd/c.py": "from polyglot_kd import a, b\n"})
    cycles = find_cycles(import_graph(tmp_path))
    assert [describe_cycle(c) for c in cycles] == [
        "polyglot_kd.a -> polyglot_kd.b -> polyglot_kd.a\n"
        "      polyglot_kd/a.py:1 imports polyglot_kd.b\n"
        "      polyglot_kd/b.py:2 imports polyglot_kd.a"]


def test_from_import_resolves_to_the_submodule_or_the_package(tmp_path):
    _package(tmp_path, {"polyglot_kd/pkg/__init__.py": "VALUE = 1\n", "polyglot_kd/pkg/sub.py": "",
                        "polyglot_kd/user.py": "from polyglot_kd.pkg import sub, VALUE\nfrom .pkg.sub import x\n",
                        "polyglot_kd/pkg/rel.py": "from . import sub\nfrom .. import user\n"})
    edges = {(e.source, e.target, e.implied) for e in import_graph(tmp_path)}
    assert ("polyglot_kd.user", "polyglot_kd.pkg.sub", False) in edges
    assert ("polyglot_kd.user", "polyglot_kd.pkg", False) in edges  # VALUE lives in pkg/__init__.py
    assert ("polyglot_kd.pkg.rel", "polyglot_kd.pkg.sub", False) in edges
    assert ("polyglot_kd.pkg.rel", "polyglot_kd.user", False) in edges


def test_a_cycle_through_a_package_init_is_reported_but_not_a_child_reaching_its_parent(tmp_path):
    # c imports p.q, which runs p/__init__.py, which imports c
    _package(tmp_path, {"polyglot_kd/c.py": "def f():\n    import polyglot_kd.p.q\n",
                        "polyglot_kd/p/__init__.py": "from polyglot_kd import c\nfrom polyglot_kd.p import q\n",
                        "polyglot_kd/p/q.py": "from polyglot_kd.p.r import x\n", "polyglot_kd/p/r.py": ""})
    cycles = [describe_cycle(c) for c in find_cycles(import_graph(tmp_path))]
    assert cycles == ["polyglot_kd.c -> polyglot_kd.p -> polyglot_kd.c\n"
                      "      polyglot_kd/c.py:2 imports polyglot_kd.p.q, which runs polyglot_kd.p (inside a function)\n"
                      "      polyglot_kd/p/__init__.py:1 imports polyglot_kd.c"]


def test_core_may_import_only_the_factorised_model(tmp_path):
    _package(tmp_path, {
        "polyglot_kd/core/loading.py": "from polyglot_kd.methods.embed_init import factorised\n",
        "polyglot_kd/core/pooling.py": "from polyglot_kd.methods.embed_init import factorised\n",
        "polyglot_kd/methods/embed_init/factorised.py": "",
        "polyglot_kd/core/speed.py": "import polyglot_kd.reports.summary\n",
        "polyglot_kd/reports/summary.py": "from polyglot_kd.pipeline.stages.evaluate import run\n",
        "polyglot_kd/pipeline/stages/evaluate.py": "",
    })
    problems = rule_violations(import_graph(tmp_path))
    assert [p.split(" (rule")[0] for p in problems] == [
        "polyglot_kd/core/pooling.py:1 imports polyglot_kd.methods.embed_init.factorised",
        "polyglot_kd/core/speed.py:1 imports polyglot_kd.reports.summary",
        "polyglot_kd/reports/summary.py:1 imports polyglot_kd.pipeline.stages.evaluate",
    ]
