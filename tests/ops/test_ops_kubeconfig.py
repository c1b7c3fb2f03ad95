"""The kubeconfig verb: a file only its owner reads, named after the stack; it never clobbers another file, never
writes through a symlink, and writes atomically."""

import json
import os
import stat
from pathlib import Path

import pytest

from infra.ops import cli
from infra.ops.clients import stack

KUBECONFIG = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
TEXT = json.dumps(KUBECONFIG)
MINE = "apiVersion: v1\nkind: Config\n# the operator's own clusters\n"


@pytest.fixture(autouse=True)
def outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "read_outputs", lambda name: {"kubeconfig": TEXT})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_different_file_is_kept_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "config"
    target.write_text(MINE)
    target.chmod(0o644)
    assert cli.main(["kubeconfig", "foo", "-o", str(target)]) == 1
    assert capsys.readouterr().err == (
        f"error: {target} exists with other contents; refusing to overwrite it without --force\n"
    )
    assert target.read_text() == MINE

    assert cli.main(["kubeconfig", "foo", "-o", str(target), "--force"]) == 0
    assert json.loads(target.read_text()) == KUBECONFIG and mode(target) == 0o600


def test_the_same_file_is_rewritten_and_tightened(tmp_path: Path) -> None:
    target = tmp_path / "foo.kubeconfig"
    target.write_text(TEXT + "\n")
    target.chmod(0o644)
    assert cli.main(["kubeconfig", "foo", "-o", str(target)]) == 0  # re-running the verb needs no --force
    assert mode(target) == 0o600


def test_a_symlink_is_never_followed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = tmp_path / "kube-config"
    real.write_text(MINE)
    link = tmp_path / "foo.kubeconfig"
    link.symlink_to(real)
    assert cli.main(["kubeconfig", "foo", "-o", str(link)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {link} is a symlink (to {real}); refusing to write through it")
    assert real.read_text() == MINE and link.is_symlink()

    assert cli.main(["kubeconfig", "foo", "-o", str(link), "--force"]) == 0
    assert not link.is_symlink() and json.loads(link.read_text()) == KUBECONFIG
    assert real.read_text() == MINE  # the link's target is untouched


def test_a_failed_write_leaves_the_old_file_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "config"
    target.write_text(MINE)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.delenv("INFRA_OPS_DEBUG", raising=False)
    monkeypatch.setattr(os, "fsync", disk_full)
    assert cli.main(["kubeconfig", "foo", "-o", str(target), "--force"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert target.read_text() == MINE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kubeconfig", "foo", "-o", str(tmp_path), "--force"]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path} exists and is not a regular file (--force replaces only a file or a symlink): "
        "choose another -o\n"
    )


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
