"""The account checks feed `__main__.py` only: no component (nor any other program module) imports them."""

from __future__ import annotations

import ast
from pathlib import Path

INFRA = Path(__file__).resolve().parent.parent / "infra"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_no_program_module_imports_the_account_checks() -> None:
    modules = list(INFRA.glob("*.py"))
    assert {p.stem for p in modules} >= {"network", "cluster", "database", "dns", "helloworld", "app_identity"}
    importers = {
        p.name
        for p in modules
        if any(m == "infra.account" or m.startswith("infra.account.") for m in imported_modules(p))
    }
    assert importers == set()
