"""tools/plan.py (`make plan`): what a reviewer relies on when comparing the program with its reviewed snapshot.

The committed snapshot is crafted in tmp_path from the current foo graph with one change, so each test shows what
the tool prints for that change: a renamed stateful resource or an input AWS cannot change in place is "would be
REPLACED", a resource the program no longer declares is "would be DELETED".
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `venv/bin/pytest` does not put the repo (tools/, infra/) on sys.path
    sys.path.insert(0, str(ROOT))

from tools import plan, reviewed_graph  # noqa: E402

NETWORK = "urn:pulumi:foo::infra::infra:index:Network$"
DATABASE = "urn:pulumi:foo::infra::infra:index:Database$"
RDS, SUBNET = "aws:rds/instance:Instance", "aws:ec2/subnet:Subnet"


def plan_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, committed: str | None
) -> list[str]:
    """`make plan STACK=foo` against `committed` as tests/snapshots/foo.json (None: no snapshot yet)."""
    snapshots = tmp_path / "tests" / "snapshots"
    snapshots.mkdir(parents=True)
    if committed is not None:
        (snapshots / "foo.json").write_text(committed)
    monkeypatch.setattr(reviewed_graph, "ROOT", tmp_path)
    monkeypatch.setattr(reviewed_graph, "SNAPSHOTS", snapshots)
    assert plan.main(["foo"]) == 0
    out = capsys.readouterr().out
    return out[out.index("\nOutputs:") :].splitlines()


def edited(edit: Callable[[dict[str, Any]], None]) -> str:
    """The current foo graph with `edit` applied: what was committed before the program changed."""
    committed = reviewed_graph.graph("foo")
    edit(committed)
    return reviewed_graph.dumps(committed)


def find(snap: dict[str, Any], typ: str, name: str) -> dict[str, Any]:
    [found] = [r for r in snap["resources"] if (r["type"], r["name"]) == (typ, name)]
    return found


def renamed(urn_prefix: str, typ: str, old: str, new: str) -> str:
    """The graph as committed when the resource `new` was still called `old`."""
    text = reviewed_graph.graph_text("foo").replace(f'{urn_prefix}{typ}::{new}"', f'{urn_prefix}{typ}::{old}"')
    return text.replace(f'"name": "{new}"', f'"name": "{old}"')


def warnings(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("  !! ")]


def test_same_graph_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = plan_output(monkeypatch, capsys, tmp_path, reviewed_graph.graph_text("foo"))
    assert lines[-1] == "Same as the reviewed snapshot tests/snapshots/foo.json."


def test_no_snapshot_says_how_to_write_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = plan_output(monkeypatch, capsys, tmp_path, None)
    assert lines[-1] == "No reviewed snapshot tests/snapshots/foo.json yet: `make reviewed-graph STACK=foo` writes one."


def test_renamed_vpc_would_be_replaced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    committed = renamed(NETWORK, "aws:ec2/vpc:Vpc", "network-vpc-old", "network-vpc")
    lines = plan_output(monkeypatch, capsys, tmp_path, committed)
    assert "  + aws:ec2/vpc:Vpc network-vpc" in lines and "  - aws:ec2/vpc:Vpc network-vpc-old" in lines
    assert warnings(lines) == [
        f"  !! aws:ec2/vpc:Vpc {NETWORK}aws:ec2/vpc:Vpc::network-vpc-old would be REPLACED (new URN "
        f"{NETWORK}aws:ec2/vpc:Vpc::network-vpc): a rename destroys it; add "
        '`aliases=[pulumi.Alias(name="network-vpc-old")]` to the new resource\'s ResourceOptions so Pulumi keeps the '
        "existing one, then `make reviewed-graph STACK=foo`."
    ]


def test_renamed_database_would_be_replaced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    committed = renamed(DATABASE, "aws:rds/instance:Instance", "database-db", "database-postgres")
    [warning] = warnings(plan_output(monkeypatch, capsys, tmp_path, committed))
    assert warning.startswith(f"  !! aws:rds/instance:Instance {DATABASE}aws:rds/instance:Instance::database-db would")
    assert " would be REPLACED (new URN " in warning and 'pulumi.Alias(name="database-db")' in warning


def test_changed_database_name_would_be_replaced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    committed = edited(lambda snap: find(snap, RDS, "database-postgres")["inputs"].update(dbName="orders"))
    lines = plan_output(monkeypatch, capsys, tmp_path, committed)
    assert "  ~ aws:rds/instance:Instance database-postgres" in lines
    assert warnings(lines) == [
        f"  !! aws:rds/instance:Instance {DATABASE}aws:rds/instance:Instance::database-postgres would be REPLACED: "
        "dbName 'orders' → 'app' cannot change in place. If that is intended, review, then "
        "`make reviewed-graph STACK=foo`."
    ]


def test_changed_database_identifier_is_an_update(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """RDS renames an instance in place (ModifyDBInstance NewDBInstanceIdentifier): an update, not a replacement."""
    committed = edited(lambda snap: find(snap, RDS, "database-postgres")["inputs"].update(identifier="infra-old"))
    lines = plan_output(monkeypatch, capsys, tmp_path, committed)
    assert "Against the reviewed snapshot tests/snapshots/foo.json: 1 to update:" in lines
    assert "  ~ aws:rds/instance:Instance database-postgres" in lines and warnings(lines) == []


def test_changed_subnet_cidr_would_be_replaced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def edit(snap: dict[str, Any]) -> None:
        subnet = find(snap, SUBNET, "network-private-0")["inputs"]
        subnet["cidrBlock"] = "10.0.128.0/19" if subnet["cidrBlock"] != "10.0.128.0/19" else "10.0.160.0/19"

    [warning] = warnings(plan_output(monkeypatch, capsys, tmp_path, edited(edit)))
    assert warning.startswith(f"  !! aws:ec2/subnet:Subnet {NETWORK}aws:ec2/subnet:Subnet::network-private-0 would be")
    assert " would be REPLACED: cidrBlock '10.0." in warning


def test_removed_resource_would_be_deleted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def add_a_third_subnet(snap: dict[str, Any]) -> None:
        extra = json.loads(
            json.dumps(find(snap, SUBNET, "network-private-1")).replace("network-private-1", "network-private-9")
        )
        snap["resources"].append(extra)

    lines = plan_output(monkeypatch, capsys, tmp_path, edited(add_a_third_subnet))
    assert "Against the reviewed snapshot tests/snapshots/foo.json: 1 to delete:" in lines
    assert "  - aws:ec2/subnet:Subnet network-private-9" in lines
    assert warnings(lines) == [
        f"  !! aws:ec2/subnet:Subnet {NETWORK}aws:ec2/subnet:Subnet::network-private-9 would be DELETED: the program"
        " no longer declares it. If it only moved, give the new resource `aliases=[pulumi.Alias(...)]` (or the old"
        " URN); if deleting it is really intended, review, then `make reviewed-graph STACK=foo`."
    ]


def test_write_snapshot_writes_the_current_graph(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    snapshots = tmp_path / "tests" / "snapshots"
    snapshots.mkdir(parents=True)
    monkeypatch.setattr(reviewed_graph, "ROOT", tmp_path)
    monkeypatch.setattr(reviewed_graph, "SNAPSHOTS", snapshots)
    monkeypatch.setattr(plan, "ROOT", tmp_path)
    (tmp_path / "Pulumi.foo.yaml").write_text((ROOT / "Pulumi.foo.yaml").read_text())
    assert plan.main(["foo", "--write-snapshot"]) == 0
    assert (snapshots / "foo.json").read_text() == reviewed_graph.graph_text("foo")
    assert capsys.readouterr().out.splitlines()[-1].startswith("wrote tests/snapshots/foo.json (")


def test_unknown_stack_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["nosuchstack"]) == 2
    assert capsys.readouterr().err.startswith("no Pulumi.nosuchstack.yaml — stacks: ")


# Run in a fresh interpreter: what `make plan` loads, with the loaded modules' files and sys.path reported back.
PLAN_AS_A_SCRIPT = """
import json, runpy, sys
sys.argv = [sys.argv[1], "nosuchstack"]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exit:
    code = exit.code
files = [getattr(module, "__file__", None) or "" for module in list(sys.modules.values())]
print(json.dumps({"code": code, "path": sys.path, "files": files}))
"""


def test_plan_runs_without_the_test_suite(tmp_path: Path) -> None:
    """A developer tool must not need tests/: run isolated (-I: no PYTHONPATH, neither the script's nor the working
    directory on sys.path) from elsewhere, plan.py loads all it imports, answers, and nothing comes from tests/."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", PLAN_AS_A_SCRIPT, str(ROOT / "tools" / "plan.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stderr.startswith("no Pulumi.nosuchstack.yaml — stacks: "), done.stderr
    report = json.loads(done.stdout)
    tests = ROOT / "tests"
    assert report["code"] == 2
    assert [p for p in report["path"] if Path(p).resolve().is_relative_to(tests)] == []
    assert [f for f in report["files"] if f and Path(f).resolve().is_relative_to(tests)] == []
    assert str(ROOT / "tools" / "offline" / "mocks.py") in report["files"]


def test_tools_import_nothing_from_tests() -> None:
    """Every import in tools/ names no module of tests/ (harness, fakes, ...) and not tests itself."""
    test_modules = {"tests"} | {p.stem for p in (ROOT / "tests").rglob("*.py")}
    imported = set()
    for source in (ROOT / "tools").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {(source.name, alias.name.split(".")[0]) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add((source.name, node.module.split(".")[0]))
    assert ("plan.py", "tools") in imported and ("runner.py", "pulumi") in imported  # the walk sees imports
    assert sorted((file, module) for file, module in imported if module in test_modules) == []
