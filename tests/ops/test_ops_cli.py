"""The CLI surface: --help, dispatch to the verbs, one-line errors and exit codes."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.ops import cli
from infra.ops.clients import stack
from infra.ops.clients.stack import StackError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "verb", ["kubeconfig", "verify", "watch", "up", "swap-node", "upgrade-check", "snapshot", "destroy"]
)
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
    for verb in ("kubeconfig", "verify", "watch", "up", "swap-node", "upgrade-check", "snapshot", "destroy"):
        assert verb in done.stdout


def test_help_loads_none_of_the_slow_clients() -> None:
    # kubernetes, boto3 and pulumi take seconds to import: --help must answer without them.
    code = (
        "import sys\n"
        "from infra.ops import cli\n"
        "for verb in ('up', 'verify', 'watch', 'swap-node'):\n"
        "    try:\n"
        "        cli.main([verb, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "slow = ('boto3', 'botocore', 'kubernetes', 'pulumi')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in slow))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_help_states_the_defaults_the_verbs_get(capsys: pytest.CaptureFixture[str]) -> None:
    watch = cli.parser().parse_args(["watch", "https://example.com"])
    up = cli.parser().parse_args(["up", "foo"])
    assert (watch.interval, watch.timeout, up.probe_interval) == (0.5, 2.0, 0.5)

    shown: dict[str, str] = {}
    for verb in ("up", "verify", "watch", "swap-node"):
        with pytest.raises(SystemExit):
            cli.main([verb, "--help"])
        shown[verb] = " ".join(capsys.readouterr().out.split())  # argparse wraps the option lines
    assert "url output every 0.5 s (--probe-interval)" in shown["up"]
    assert "seconds between requests (default 0.5)" in shown["up"]
    assert "WARN 30 days before expiry" in shown["verify"]
    assert "each Kubernetes call gives up after 20 s" in shown["verify"]
    assert "seconds between requests (default 0.5)" in shown["watch"]
    assert "seconds per request (default 2)" in shown["watch"]
    assert "(a Lease kube-system/infra-swap-node)" in shown["swap-node"]
    assert "probed every 0.5 s (--probe-interval)" in shown["swap-node"]


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
