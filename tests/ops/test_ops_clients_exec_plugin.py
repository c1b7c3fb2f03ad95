"""A kubeconfig whose exec plugin (`aws eks get-token`) fails: one row or one line saying why, no stray log line.

The plugin is a stand-in `aws` on PATH that answers like the AWS CLI (an ExecCredential, or AWS's error on stderr
and exit 255); the Kubernetes API is a local server that answers 401 to a request without the stand-in's token.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import eks_kubeconfig, kubernetes_api, stand_in_aws
from test_ops_verify import FakeEks, FakeSts, app, outputs

from infra.ops import cli, live
from infra.ops.clients import stack
from infra.ops.clients.exec_plugin import ExecPluginError
from infra.ops.clients.kube import Kube
from infra.ops.upgrade_check import check as upgrade_ops

# What the AWS CLI prints (after an empty line) and exits 255 with, for each cause.
ACCESS_DENIED = (
    "An error occurred (AccessDenied) when calling the AssumeRole operation: User: "
    "arn:aws:iam::123456789012:user/ops is not authorized to perform: sts:AssumeRole on resource: "
    "arn:aws:iam::123456789012:role/eks-admin"
)
NO_CREDENTIALS = 'Unable to locate credentials. You can configure credentials by running "aws configure".'


def plugin_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_verify_shows_one_row_naming_the_plugin_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    stand_in_aws(tmp_path, monkeypatch, {"error": ACCESS_DENIED})
    with kubernetes_api() as server, app() as url:
        out = {**outputs(url), "kubeconfig": json.dumps(eks_kubeconfig(server))}
        monkeypatch.setattr(stack, "read_outputs", lambda name: out)
        clients = {"eks": FakeEks(), "sts": FakeSts()}
        monkeypatch.setattr(live, "aws_client", lambda service, out: clients[service])
        code = cli.main(["verify", "foo"])
    printed = capsys.readouterr()
    rows = [line.split(None, 2) for line in printed.out.splitlines()[2:]]
    assert code == 1
    assert [row[:2] for row in rows] == [
        ["Kubernetes", "credentials"],
        ["certificate", "INFO"],
        ["GET", "/"],
        ["GET", "/dbz"],
    ]
    assert printed.out.splitlines()[2].split(None, 3)[2:] == [
        "FAIL",
        f"the kubeconfig's exec plugin `aws eks get-token` failed: {ACCESS_DENIED}; not checked: nodes, "
        "kube-system pods, workload rc/helloworld-1.0.0, service helloworld, database login",
    ]
    assert "HTTP 401" not in printed.out
    assert printed.err == "error: 1 check(s) failed: Kubernetes credentials\n"
    assert plugin_logs(caplog) == []  # nothing went to the logging system (the stray `ERROR:root:exec...` line)


def test_a_failed_token_refresh_is_the_error_not_a_401(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    # The first token has already expired, so the next call asks the plugin again: now without credentials.
    stand_in_aws(tmp_path, monkeypatch, {"error": None, "expires": "2000-01-01T00:00:00Z"}, {"error": NO_CREDENTIALS})
    with kubernetes_api() as server:
        kube = Kube.from_kubeconfig(eks_kubeconfig(server), timeout=(2.0, 2.0))
        with pytest.raises(ExecPluginError) as raised:
            kube.nodes()
    assert str(raised.value) == f"the kubeconfig's exec plugin `aws eks get-token` failed: {NO_CREDENTIALS}"
    assert (tmp_path / "calls").read_text() == "2"
    assert plugin_logs(caplog) == []


def test_a_working_plugin_still_authenticates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_aws(tmp_path, monkeypatch, {"error": None, "expires": "2999-01-01T00:00:00Z"})
    with kubernetes_api() as server:
        assert Kube.from_kubeconfig(eks_kubeconfig(server), timeout=(2.0, 2.0)).nodes() == []


def test_upgrade_check_makes_it_the_budget_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    stand_in_aws(tmp_path, monkeypatch, {"error": NO_CREDENTIALS})
    seen: list[str] = []

    def run(out: Any, target: str | None, deps: upgrade_ops.UpgradeCheckDeps) -> list[Any]:
        with pytest.raises(ExecPluginError) as raised:
            deps.budgets.disruption_budgets()
        seen.append(str(raised.value))
        return []

    monkeypatch.setattr(upgrade_ops, "run_upgrade_check", run)
    monkeypatch.setattr(live, "aws_client", lambda service, out: FakeSts())
    with kubernetes_api() as server:
        out = {"region": "us-west-2", "kubeconfig": json.dumps(eks_kubeconfig(server))}
        monkeypatch.setattr(stack, "read_outputs", lambda name: out)
        assert cli.main(["upgrade-check", "foo"]) == 0
    assert seen == [f"the kubeconfig's exec plugin `aws eks get-token` failed: {NO_CREDENTIALS}"]
    assert plugin_logs(caplog) == []
