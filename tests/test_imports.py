"""The layering, read from the source with `ast`: which in-house package may import which, and no import cycle.

- `recorder` (the recording side) imports no other in-house package;
- `extractor` imports `recorder`; `analysis` imports nothing in-house;
- `simulator` imports `recorder`, and only the application and the benchmarks import it;
- `pumpwatch` (the application) imports all of them, and nothing imports it but the benchmarks.

Imports count wherever they are (module level or inside a function); only those under
`if TYPE_CHECKING:` are left out, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("recorder", "extractor", "analysis", "simulator", "pumpwatch", "bench")
ALLOWED: dict[str, set[str]] = {
    "recorder": set(),
    "extractor": {"recorder"},
    "analysis": set(),
    "simulator": {"recorder"},
    "pumpwatch": {"recorder", "extractor", "analysis", "simulator"},
    "bench": {"recorder", "extractor", "analysis", "simulator", "pumpwatch"},
}
"""package → the in-house packages it may import"""


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name → file, for every .py file of `packages` under `root` (a package is its `__init__`)."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement below `node` except the bodies of `if TYPE_CHECKING:` (their `else` runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for orelse in child.orelse:
                yield from _imports_of(orelse)
            continue
        yield from _imports_of(child)


def _imports_of(node: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The in-house module a dotted name is or lies in (`recorder.store.base.CoverageRow` → `recorder.store.base`)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The in-house modules that importing `name` runs: each target, and the packages it lies in that
    are not `name`'s own (those are initialized before `name` runs, so importing them runs nothing new)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets |= {_known(alias.name, modules) for alias in node.names}
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        targets.add(_known(base, modules))
        targets |= {_known(f"{base}.{alias.name}", modules) for alias in node.names}
    targets.discard(None)
    own = {*_ancestors(name), name}
    return {m for target in targets for m in (*_ancestors(target), target) if m in modules and m not in own}


def module_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    modules = module_files(root, packages)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (`a → b → a`), or None (depth-first search, iterative)."""
    state: dict[str, int] = {}
    """1: on the current path, 2: done"""
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return [*path[path.index(step):], step]
            elif step not in state:
                state[step] = 1
                path.append(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return None


def package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, targets in graph.items():
        top = name.split(".")[0]
        edges.setdefault(top, set()).update(t.split(".")[0] for t in targets if t.split(".")[0] != top)
    return edges


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return module_graph(ROOT, PACKAGES)


def test_every_package_imports_only_what_its_layer_allows(graph):
    edges = package_edges(graph)
    assert set(edges) == set(PACKAGES)
    extra = {package: sorted(targets - ALLOWED[package]) for package, targets in edges.items() if targets - ALLOWED[package]}
    culprits = sorted(f"{name} imports {target}" for name, targets in graph.items() for target in targets
                      if target.split(".")[0] in extra.get(name.split(".")[0], ()))
    assert not extra, "imports across the layering:\n" + "\n".join(culprits)


def test_the_layering_itself_has_no_cycle():
    assert find_cycle(ALLOWED) is None
    assert find_cycle(package_edges(module_graph(ROOT, PACKAGES))) is None


def test_no_import_cycle_between_modules(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


# --- the checker itself, on a tree made for it -------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_resolves_relative_and_from_package_imports_and_skips_type_checking(tmp_path):
    root = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from . import b\nfrom .sub.c import thing\n",
        "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\nelse:\n    import json\n",
        "pkg/sub/__init__.py": "from ..b import x\n",
        "pkg/sub/c.py": "def f():\n    from pkg import b\n",
        "other/__init__.py": "",
        "other/d.py": "import pkg.sub.c\nimport os.path\n",
    })
    graph = module_graph(root, ["pkg", "other"])
    assert graph["pkg.a"] == {"pkg.b", "pkg.sub", "pkg.sub.c"}
    assert graph["pkg.b"] == set()
    assert graph["pkg.sub"] == {"pkg.b"}
    assert graph["pkg.sub.c"] == {"pkg.b"}
    assert graph["other.d"] == {"pkg", "pkg.sub", "pkg.sub.c"}
    assert package_edges(graph) == {"pkg": set(), "other": {"pkg"}}
    assert find_cycle(graph) is None


def test_the_checker_finds_a_cycle_through_a_function_level_import(tmp_path):
    root = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import x\n",
        "pkg/b.py": "def late():\n    from . import a\n",
    })
    assert find_cycle(module_graph(root, ["pkg"])) == ["pkg.a", "pkg.b", "pkg.a"]


def test_the_checker_finds_a_cycle_through_a_package_init(tmp_path):
    root = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/config.py": "import pkg.store.base\n",
        "pkg/store/__init__.py": "from pkg.config import Config\n",
        "pkg/store/base.py": "",
    })
    assert find_cycle(module_graph(root, ["pkg"])) == ["pkg.config", "pkg.store", "pkg.config"]
