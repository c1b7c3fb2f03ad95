"""Missing or expired AWS credentials: one line naming the fix, before any cluster call, in every verb calling AWS."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from test_ops_verify import outputs

from infra.ops import cli, live
from infra.ops.clients import stack
from infra.ops.upgrade_check.budgets import KubeBudgets

FIX = "run `aws sso login` (SSO profiles, with AWS_PROFILE set) or `aws configure` (access keys), then retry"


def no_cluster(out: Any) -> Any:
    raise AssertionError("the cluster must not be contacted without working AWS credentials")


def run_verify(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(stack, "read_outputs", lambda name: outputs("http://127.0.0.1:9"))
    monkeypatch.setattr(live, "cluster", no_cluster)
    code = cli.main(["verify", "foo"])
    out, err = capfd.readouterr()  # file descriptors: logging and warnings would show here too
    return code, out, err


def test_expired_session_is_one_line_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # Stubbed answers still get signed: static keys, so botocore looks for no credentials (instance metadata...).
    session = boto3.session.Session(region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    sts = session.client("sts")
    stub = Stubber(sts)
    message = "The security token included in the request is expired"
    stub.add_client_error("get_caller_identity", "ExpiredToken", message, http_status_code=403)
    monkeypatch.setattr(live, "aws_client", lambda service, out: sts)
    with stub:
        code, out, err = run_verify(monkeypatch, capfd)
    assert (code, out) == (1, "")
    assert err == f"error: AWS rejected the credentials (ExpiredToken): {FIX}\n"


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Real clients with nothing to find: no keys, no files, no instance metadata, no SSO cache."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.setattr(
        live, "aws_client", lambda service, out: boto3.session.Session(region_name="us-west-2").client(service)
    )


@pytest.mark.usefixtures("no_aws_credentials")
def test_missing_credentials_are_one_line_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_verify(monkeypatch, capfd)
    assert (code, out) == (1, "")
    assert err == f"error: no usable AWS credentials (NoCredentialsError): {FIX}\n"


@pytest.mark.usefixtures("no_aws_credentials")
@pytest.mark.parametrize("argv", [["swap-node", "foo", "n1"], ["upgrade-check", "foo"], ["snapshot", "foo"]])
def test_every_verb_calling_aws_checks_the_credentials_first(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    monkeypatch.setattr(stack, "read_outputs", lambda name: {**outputs("http://127.0.0.1:9"), "dbIdentifier": "x"})
    monkeypatch.setattr(live, "cluster", no_cluster)
    monkeypatch.setattr(KubeBudgets, "from_kubeconfig", no_cluster)
    assert cli.main(argv) == 1
    assert capfd.readouterr() == ("", f"error: no usable AWS credentials (NoCredentialsError): {FIX}\n")


def test_a_bad_target_version_stops_before_any_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stack, "read_outputs", no_cluster)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["upgrade-check", "foo", "--to", "banana"])
    assert exit_info.value.code == 2
    assert "argument --to: Kubernetes version 'banana' should look like 1.NN" in capsys.readouterr().err


def test_sts_out_of_reach_is_one_line_without_blaming_the_credentials(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    class Unreachable:
        def get_caller_identity(self) -> None:
            raise EndpointConnectionError(endpoint_url="https://sts.us-west-2.amazonaws.com/")

    monkeypatch.setattr(live, "aws_client", lambda service, out: Unreachable())
    code, out, err = run_verify(monkeypatch, capfd)
    assert (code, out) == (1, "")
    assert err == (
        "error: cannot check the AWS credentials (EndpointConnectionError: Could not connect to the endpoint URL: "
        '"https://sts.us-west-2.amazonaws.com/")\n'
    )
