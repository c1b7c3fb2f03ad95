"""The Makefile as operators use it: `make help` by default, `make <verb> STACK=…`, no default stack for an account.

Make runs against a stand-in venv (VENV=tmp): its stamp is fresh, so nothing is installed, and its bin/python
records each call instead of running a verb.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPERATOR_TARGETS = [
    "test",
    "lint",
    "go-test",
    "pytest",
    "plan",
    "reviewed-graph",
    "up",
    "preview",
    "kubeconfig",
    "verify",
    "watch",
    "swap-node",
    "destroy",
    "upgrade-check",
    "db-snapshot",
]


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A venv whose python and uv log their argv to calls.log; its stamp is newer than the requirements."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "uv"):  # uv: the installer make bootstraps into the venv
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "calls.log"}\n')
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "venv" / ".installed").touch()
    return tmp_path / "venv"


def make(*args: str, venv: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("make")
    assert executable
    clean = {k: v for k, v in os.environ.items() if k not in {"STACK", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    return subprocess.run(
        [executable, "-s", f"VENV={venv}", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=20,
    )


def calls(venv: Path) -> list[str]:
    log = venv.parent / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_make_alone_lists_every_operator_target_by_group(venv: Path) -> None:
    done = make(venv=venv)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    listed = [line.split()[1] for line in lines if line.startswith("  make ")]
    assert set(OPERATOR_TARGETS) <= set(listed)
    assert any(line.startswith("  make destroy STACK=<stack> ") for line in lines)  # the usage, not just the name
    groups = [line for line in lines if line and not line.startswith(" ")]
    assert [g.split(" (")[0] for g in groups] == ["checks", "offline", "a real account"]
    assert calls(venv) == []


@pytest.mark.parametrize("target", ["destroy", "up", "swap-node", "verify", "db-snapshot"])
def test_an_account_target_without_stack_names_the_fix_and_runs_nothing(target: str, venv: Path) -> None:
    done = make(target, venv=venv)
    assert done.returncode == 2
    assert done.stderr.endswith(
        f"*** make {target} needs the stack named on the command line, e.g. make {target} STACK=foo.  Stop.\n"
    )
    assert done.stdout == ""
    assert calls(venv) == []


def test_a_stack_exported_in_the_shell_is_not_a_choice_for_destroy(venv: Path) -> None:
    done = make("destroy", venv=venv, env={"STACK": "foo"})
    assert done.returncode == 2
    assert "make destroy STACK=foo" in done.stderr
    assert calls(venv) == []


def test_destroy_with_stack_runs_the_verb_for_that_stack(venv: Path) -> None:
    done = make("destroy", "STACK=prod", "ARGS=--dry-run", venv=venv)
    assert done.returncode == 0, done.stderr
    assert calls(venv) == ["-m infra.ops destroy prod --dry-run"]


def test_the_offline_plan_defaults_to_foo(venv: Path) -> None:
    assert make("plan", venv=venv).returncode == 0
    assert calls(venv) == ["tools/plan.py foo", "tools/cost.py foo"]  # the graph, then its idle cost and delta


def test_the_reviewed_graph_and_the_database_snapshot_are_distinct_targets(venv: Path) -> None:
    assert make("reviewed-graph", "STACK=prod", venv=venv).returncode == 0
    assert make("db-snapshot", "STACK=prod", "ARGS=--wait", venv=venv).returncode == 0
    assert calls(venv) == ["tools/plan.py prod --write-snapshot", "-m infra.ops snapshot prod --wait"]
    for old in ("snapshot", "snapshot-db"):
        gone = make(old, "STACK=foo", venv=venv)
        assert gone.returncode == 2
        assert f"No rule to make target '{old}'" in gone.stderr
    assert len(calls(venv)) == 2


def test_infra_ops_outside_the_venv_says_how_to_run_it(tmp_path: Path) -> None:
    # -S: no site-packages at all, so pulumi and the other dependencies cannot be imported, whatever is installed.
    base_python = getattr(sys, "_base_executable", sys.executable)
    done = subprocess.run(
        [base_python, "-S", "-m", "infra.ops", "verify", "foo"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("python -m infra.ops runs in the project's venv (No module named ")
    assert done.stderr.endswith(
        "use `make verify STACK=foo` (`make help` lists the verbs) or `venv/bin/python -m infra.ops ...`\n"
    )
    assert "Traceback" not in done.stderr
