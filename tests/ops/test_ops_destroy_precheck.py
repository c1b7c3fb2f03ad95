"""destroy's checks before anything is deleted: the AWS credentials work and see the stack's VPC, and the state
holds no pending operation."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, TokenRetrievalError
from botocore.stub import Stubber
from moto_env import REGION, moto_account, own_account, vpc_with_subnet
from test_ops_clients_state import INTERRUPTED, ROLE_URN
from test_ops_credentials import FIX

from infra.ops import cli, live
from infra.ops.clients import aws, stack
from infra.ops.destroy import precheck
from infra.ops.errors import OpsError

__all__ = ["moto_account", "own_account"]  # fixtures: pytest finds them here by name

EXPIRED = "The security token included in the request is expired"


def expired_sts() -> Any:
    """An STS client that answers GetCallerIdentity the way AWS does for an expired session."""
    session = boto3.session.Session(region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    sts = session.client("sts")
    stubber = Stubber(sts)
    stubber.add_client_error("get_caller_identity", "ExpiredToken", EXPIRED, http_status_code=403)
    stubber.activate()
    return sts


def test_an_expired_session_fails_first_with_the_fix() -> None:
    with pytest.raises(OpsError) as caught:
        precheck.check_access(expired_sts(), None, stack="foo", vpc_id="vpc-1", region=REGION)
    assert str(caught.value) == f"AWS rejected the credentials (ExpiredToken); nothing was destroyed: {FIX}"


def test_an_expired_sso_token_fails_the_same_way() -> None:
    class SsoExpired:
        def get_caller_identity(self) -> None:
            raise TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed")

    with pytest.raises(OpsError) as caught:
        precheck.check_access(SsoExpired(), None, stack="foo", vpc_id=None, region=REGION)
    assert str(caught.value) == f"no usable AWS credentials (TokenRetrievalError); nothing was destroyed: {FIX}"


def test_sts_out_of_reach_is_not_blamed_on_the_credentials() -> None:
    class Unreachable:
        def get_caller_identity(self) -> None:
            raise EndpointConnectionError(endpoint_url="https://sts.us-west-2.amazonaws.com/")

    with pytest.raises(OpsError) as caught:
        precheck.check_access(Unreachable(), None, stack="foo", vpc_id=None, region=REGION)
    assert str(caught.value) == (
        "cannot check the AWS credentials (EndpointConnectionError: Could not connect to the endpoint URL: "
        '"https://sts.us-west-2.amazonaws.com/"); nothing was destroyed'
    )


def test_a_vpc_the_credentials_cannot_see_is_refused(own_account: str) -> None:
    sts, ec2 = aws.client("sts", REGION), aws.client("ec2", REGION)
    vpc, _ = vpc_with_subnet(ec2)
    assert precheck.check_access(sts, ec2, stack="foo", vpc_id=vpc, region=REGION).endswith(f"(account {own_account})")
    with pytest.raises(OpsError) as caught:
        precheck.check_access(sts, ec2, stack="foo", vpc_id="vpc-0123456789abcdef0", region=REGION)
    assert str(caught.value).startswith(
        f"VPC vpc-0123456789abcdef0 of stack 'foo' is not visible to arn:aws:sts::{own_account}:"
    )
    assert "nothing was destroyed" in str(caught.value) and "`pulumi refresh -s foo`" in str(caught.value)


def test_destroy_checks_credentials_before_destroying(
    own_account: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    destroyed: list[str] = []
    monkeypatch.setattr(stack, "read_outputs", lambda name: {"region": REGION, "vpcId": "vpc-1"})
    monkeypatch.setattr(stack, "read_state", lambda name: {"resources": []})
    monkeypatch.setattr(stack, "destroy", lambda name, *a, **k: destroyed.append(name))
    real = live.aws_client
    monkeypatch.setattr(
        live, "aws_client", lambda service, out: expired_sts() if service == "sts" else real(service, out)
    )
    for argv in (["destroy", "foo", "--yes"], ["destroy", "foo", "--dry-run"]):
        assert cli.main(argv) == 1
        assert (
            capsys.readouterr().err
            == f"error: AWS rejected the credentials (ExpiredToken); nothing was destroyed: {FIX}\n"
        )
    assert destroyed == []


def test_destroy_refuses_pending_operations_before_anything_is_deleted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    destroyed: list[str] = []
    monkeypatch.setattr(stack, "read_outputs", lambda name: {"region": "eu-west-1"})
    monkeypatch.setattr(stack, "read_state", lambda name: INTERRUPTED)
    monkeypatch.setattr(stack, "destroy", lambda name, *a, **k: destroyed.append(name))
    monkeypatch.setattr(live, "aws_client", lambda *a: pytest.fail("no AWS call before the refusal"))

    for argv in (["destroy", "foo", "--yes"], ["destroy", "foo", "--dry-run"]):
        assert cli.main(argv) == 1
        assert capsys.readouterr().err == (
            "error: stack 'foo' has 2 pending operation(s) from an interrupted pulumi run: aws:iam/role:Role "
            "cluster-role (interrupted while creating); aws:ec2/vpc:Vpc network-vpc (interrupted while updating). "
            "pulumi destroy would warn and go on, leaving what they made in AWS outside the state; nothing was "
            "destroyed. check each in AWS, then run `pulumi refresh -s foo`: it clears pending updates and deletes, "
            "and asks (in a terminal) what to do with each interrupted create; without a terminal, adopt a create "
            f"that AWS has with `pulumi refresh -s foo --yes --import-pending-creates {ROLE_URN} <ID>` (ID: its id "
            "in AWS), or drop creates AWS does not have with `pulumi refresh -s foo --yes --clear-pending-creates`; "
            "then run destroy again\n"
        )
    assert destroyed == []
