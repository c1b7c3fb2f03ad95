"""Every module of infra/ops imports, and the modules under infra/ import each other without a cycle.

The graph counts every import of an infra module wherever it stands: at the top, under TYPE_CHECKING, or inside a
function. A function-level import that would close a cycle is a cycle all the same, so it cannot hide one (an import
inside a function is only for load time: kubernetes and the Automation API take seconds, `--help` none of them).
"""

import ast
import importlib
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_names(top: Path) -> dict[str, Path]:
    """`infra.ops.clients.aws` → its file, for every module and package under `top` (a folder of ROOT)."""
    found = {}
    for path in sorted(top.rglob("*.py")):
        parts = path.relative_to(top.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The known modules `name` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from . import x`, `from ..y import z`
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known and t != name}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each cycle once, as the modules around it (Tarjan's strongly connected components of more than one module,
    or one importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph(top: Path) -> dict[str, set[str]]:
    known = module_names(top)
    return {name: imports_of(name, path, known) for name, path in known.items()}


# __main__ runs the CLI when imported; test_ops_cli runs it as `python -m infra.ops --help`.
OPS_MODULES = [n for n in module_names(ROOT / "infra") if n.startswith("infra.ops") and n != "infra.ops.__main__"]


@pytest.mark.parametrize("name", sorted(OPS_MODULES))
def test_every_ops_module_imports(name: str) -> None:
    assert importlib.import_module(name).__name__ == name


def test_the_ops_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(ROOT / "infra")
    assert {"infra.ops.cli", "infra.ops.clients.aws", "infra.contract"} <= set(graph)  # the scan sees the tree
    assert "infra.ops.clients.stack_workspace" in graph["infra.ops.clients.stack"]  # ... and lazy imports
    ops = {name: {n for n in found if n.startswith("infra.ops")} for name, found in graph.items()}
    assert cycles({name: found for name, found in ops.items() if name.startswith("infra.ops")}) == []


def test_the_modules_under_infra_import_each_other_without_a_cycle() -> None:
    assert cycles(import_graph(ROOT / "infra")) == []


def _package(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root / "pkg"


def test_an_import_inside_a_function_that_closes_a_cycle_is_found(tmp_path: Path) -> None:
    top = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def late():\n    from pkg.a import x  # dodges the cycle at import time\n",
            "pkg/c.py": "from . import a\n",
        },
    )
    graph = import_graph(top)
    assert graph == {"pkg": set(), "pkg.a": {"pkg", "pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg", "pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_a_module_importing_itself_is_a_cycle() -> None:
    assert cycles({"m": {"m"}}) == [["m"]]
