"""The CLI surface: --help, one-line errors, the kubeconfig verb, watch on a stack name."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.ops import cli, stack
from infra.ops import watch as watch_ops
from infra.ops.stack import StackError

ROOT = Path(__file__).resolve().parents[2]
KUBECONFIG = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}


@pytest.mark.parametrize("verb", ["kubeconfig", "verify", "watch", "swap-node", "upgrade-check", "snapshot", "destroy"])
def test_each_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([verb, "--help"])
    assert exit_info.value.code == 0
    assert f"python -m infra.ops {verb}" in capsys.readouterr().out


def test_module_entry_point_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.ops", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    for verb in ("kubeconfig", "verify", "watch", "swap-node", "upgrade-check", "snapshot", "destroy"):
        assert verb in done.stdout


def test_missing_stack_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def missing(name: str) -> dict[str, Any]:
        raise StackError(f"cannot read outputs of stack {name!r}: error: no stack named 'nope' found")

    monkeypatch.setattr(stack, "read_outputs", missing)
    for argv in (["kubeconfig", "nope"], ["verify", "nope"], ["watch", "nope"], ["swap-node", "nope", "n1"]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert err == "error: cannot read outputs of stack 'nope': error: no stack named 'nope' found\n"


def test_missing_output_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(stack, "read_outputs", lambda name: {})
    assert cli.main(["watch", "foo"]) == 1
    assert "stack output 'url' is missing" in capsys.readouterr().err


def test_unexpected_errors_are_one_line_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("INFRA_OPS_DEBUG", raising=False)

    def broken(name: str) -> dict[str, Any]:
        raise ValueError("bad\nsecond line")

    monkeypatch.setattr(stack, "read_outputs", broken)
    assert cli.main(["verify", "foo"]) == 1
    assert capsys.readouterr().err == "error: ValueError: bad (INFRA_OPS_DEBUG=1 shows a traceback)\n"


def test_bad_arguments_exit_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["watch", "http://127.0.0.1:9", "--interval", "0"])
    assert exit_info.value.code == 2


def test_kubeconfig_written_0600_default_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stack, "read_outputs", lambda name: {"kubeconfig": json.dumps(KUBECONFIG)})
    old = os.umask(0)  # even a permissive umask must not widen the file
    try:
        assert cli.main(["kubeconfig", "foo"]) == 0
    finally:
        os.umask(old)
    path = tmp_path / "foo.kubeconfig"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == KUBECONFIG
    assert "wrote foo.kubeconfig (mode 0600)" in capsys.readouterr().out


def test_kubeconfig_rejects_garbage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(stack, "read_outputs", lambda name: {"kubeconfig": "not json"})
    assert cli.main(["kubeconfig", "foo", "-o", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x").exists()


def test_watch_uses_the_stack_url(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_watch(url: str, **kwargs: Any) -> Any:
        seen.update(url=url, **kwargs)
        return type("Stats", (), {"failures": 0})()

    monkeypatch.setattr(stack, "read_outputs", lambda name: {"url": "http://foo.cloud.weave.works"})
    monkeypatch.setattr(watch_ops, "watch", fake_watch)
    assert cli.main(["watch", "foo", "--duration", "60"]) == 0
    assert seen["url"] == "http://foo.cloud.weave.works"
    assert (seen["interval"], seen["duration"], seen["timeout"]) == (0.5, 60.0, 2.0)


@pytest.mark.parametrize(("status", "code"), [("PASS", 0), ("WARN", 0), ("FAIL", 1)])
def test_upgrade_check_prints_the_table_and_exits_1_on_a_fail(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], status: str, code: int
) -> None:
    from infra.ops import aws, kube_pdbs, upgrade_check
    from infra.ops.checks import CheckResult

    seen: dict[str, Any] = {}

    def run(out: dict[str, Any], target: str | None, deps: Any) -> list[CheckResult]:
        seen.update(out=out, target=target)
        return [CheckResult("target version", status, "1.35 → 1.36")]  # type: ignore[arg-type]

    monkeypatch.setattr(stack, "read_outputs", lambda name: {"region": "us-west-2", "kubeconfig": "{}"})
    monkeypatch.setattr(cli, "make_client", lambda service, out: service)
    monkeypatch.setattr(aws, "caller_identity", lambda sts: seen.setdefault("identity", sts))
    monkeypatch.setattr(kube_pdbs.KubeBudgets, "from_kubeconfig", classmethod(lambda cls, config: "budgets"))
    monkeypatch.setattr(upgrade_check, "run_upgrade_check", run)
    assert cli.main(["upgrade-check", "foo", "--to", "1.36"]) == code
    assert (seen["identity"], seen["target"]) == ("sts", "1.36")
    captured = capsys.readouterr()
    assert f"target version  {status}" in captured.out
    assert ("error: 1 check(s) failed: target version" in captured.err) == (code == 1)


def test_snapshot_verb_checks_credentials_then_snapshots(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra.ops import aws, db_snapshot

    calls: list[Any] = []
    monkeypatch.setattr(stack, "read_outputs", lambda name: {"region": "us-west-2", "dbIdentifier": "infra-foo"})
    monkeypatch.setattr(cli, "make_client", lambda service, out: service)

    def identity(sts: Any) -> str:
        calls.append(("identity", sts))
        return "arn"

    monkeypatch.setattr(aws, "caller_identity", identity)

    def take(out: Any, name: str, rds: Any, **kw: Any) -> str:
        calls.append(("take", name, rds, kw["wait"], kw["timeout"]))
        return "infra-foo-20261127-221530"

    monkeypatch.setattr(db_snapshot, "take_snapshot", take)
    assert cli.main(["snapshot", "foo", "--wait"]) == 0
    assert calls == [("identity", "sts"), ("take", "foo", "rds", True, 3600.0)]


def test_snapshot_list_works_after_a_destroy_with_the_region_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from infra.ops import aws, db_snapshot

    seen: dict[str, Any] = {}
    monkeypatch.setattr(stack, "read_outputs", lambda name: {})  # destroyed: no outputs
    monkeypatch.setattr(cli, "make_client", lambda service, out: seen.setdefault(service, out["region"]))
    monkeypatch.setattr(aws, "caller_identity", lambda sts: "arn")
    found = [db_snapshot.Snapshot("infra-foo-final-1a2b3c4d", datetime(2026, 11, 27, 21, 0, tzinfo=UTC), "available")]
    monkeypatch.setattr(
        db_snapshot, "available_snapshots", lambda rds, instance: found if instance == "infra-foo" else []
    )
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert cli.main(["snapshot", "foo", "--list"]) == 1
    assert "set AWS_REGION" in capsys.readouterr().err
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert cli.main(["snapshot", "foo", "--list"]) == 0
    assert seen["rds"] == "us-west-2"
    assert "infra-foo-final-1a2b3c4d  2026-11-27 21:00" in capsys.readouterr().out
