"""Layering: the account checks feed `__main__.py` only (no program module imports them, and they import no
component); ops imports no infra module that imports pulumi (the program's SDK runs only inside `pulumi up`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"


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


def module_file(module: str) -> Path | None:
    """`infra.x.y` -> infra/x/y.py or infra/x/y/__init__.py (None: not a module of this project)."""
    base = ROOT.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def project_imports(path: Path) -> set[str]:
    """The infra modules a file imports, their packages included (importing a submodule runs its packages)."""
    found = set()
    for module in imported_modules(path):
        parts = module.split(".")
        found |= {".".join(parts[:n]) for n in range(1, len(parts) + 1) if parts[0] == "infra"}
    return {m for m in found if module_file(m) is not None}


def imports_pulumi(module: str, seen: set[str] | None = None) -> list[str]:
    """The import chain from `module` to a pulumi package ([] when there is none)."""
    seen = set() if seen is None else seen
    seen.add(module)
    path = module_file(module)
    assert path is not None
    if any(m.split(".")[0].startswith("pulumi") for m in imported_modules(path)):
        return [module, "pulumi"]
    for imported in sorted(project_imports(path) - seen):
        chain = imports_pulumi(imported, seen)
        if chain:
            return [module, *chain]
    return []


def registers_resources(path: Path) -> bool:
    """A component module: it defines a ComponentResource or constructs a provider's resource (`aws.ec2.Vpc(...)`,
    `k8s.core.v1.Service(...)`); lookups (`aws.ec2.get_vpc(...)`) are not resources."""
    tree = ast.parse(path.read_text())
    providers = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("pulumi_")
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(ast.unparse(b) == "pulumi.ComponentResource" for b in node.bases):
            return True
        # `aws.ec2.Vpc(...)`: a call to a capitalised attribute of a provider package
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr[:1].isupper()
            and ast.unparse(node.func).split(".")[0] in providers
        ):
            return True
    return False


def test_the_account_checks_import_no_component() -> None:
    components = {f"infra.{p.stem}" for p in INFRA.glob("*.py") if registers_resources(p)}
    assert components >= {"infra.network", "infra.cluster", "infra.database", "infra.helloworld", "infra.dns"}
    assert "infra.registry_image" not in components  # it only looks images up
    importers = {
        f"{p.relative_to(ROOT)}: {m}"
        for p in (INFRA / "account").rglob("*.py")
        for m in project_imports(p) & components
    }
    assert importers == set()


def test_ops_imports_no_infra_module_that_imports_pulumi() -> None:
    ops = list((INFRA / "ops").rglob("*.py"))
    outside = {m for p in ops for m in project_imports(p) if not m.startswith("infra.ops")}
    assert {"infra.contract", "infra.db_pods"} <= outside  # the scan sees what ops shares with the program
    chains = [" -> ".join(chain) for m in sorted(outside) if (chain := imports_pulumi(m))]
    assert chains == []
