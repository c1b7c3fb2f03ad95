"""The moto account the AWS-facing ops tests share: environment, fixtures, unique names, a VPC.

Test modules import `moto_account` (and `own_account`, `account`) by name (pytest finds fixtures in the module's
namespace) and list them in their `__all__`, so the import reads as used.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from infra.ops.clients import aws

MOTO_AMI = "ami-12c6146b"  # one of moto's built-in images (listing them all is slow)
REGION = "us-west-2"
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent",
}
_ids = itertools.count()
_accounts = itertools.count(100000000001)


@pytest.fixture(scope="module")
def moto_account() -> Iterator[None]:
    # One moto account per module (stopping a mock costs about a second); tests use unique names.
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ENV.items():
            patch.setenv(key, value)
        with mock_aws():
            yield


@pytest.fixture
def own_account(moto_account: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh moto account for one test (moto keys every backend by account): nothing another test made is there."""
    account = str(next(_accounts))
    monkeypatch.setenv("MOTO_ACCOUNT_ID", account)
    return account


def record_calls(*clients: Any) -> list[str]:
    """Every API operation the clients call from now on (e.g. "DescribeVpcs"), in order."""
    calls: list[str] = []
    for client in clients:
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def unique(prefix: str) -> str:
    """A name no other test in the module's account uses (load balancer names are unique per account)."""
    return f"{prefix}{next(_ids)}"


def db_instance(rds: Any, identifier: str) -> None:
    """The smallest PostgreSQL instance moto will make (available at once)."""
    rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="not-a-secret-1",
    )


def vpc_with_subnet(ec2: Any, az: str | None = None) -> tuple[str, str]:
    """A fresh 10.0.0.0/16 VPC and its 10.0.1.0/24 subnet (in `az`, or where moto puts it): their ids."""
    vpc = str(ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"])
    where = {"AvailabilityZone": az} if az else {}
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", **where)["Subnet"]
    return vpc, str(subnet["SubnetId"])


@dataclass
class Account:
    """Clients in the module's moto account, a subnet of a fresh VPC in the region's first zone, and a prefix."""

    ec2: Any
    autoscaling: Any
    eks: Any
    elb: Any
    rds: Any
    subnet: str
    prefix: str  # names are unique per account, and the account is shared by the module


@pytest.fixture
def account(moto_account: None) -> Account:
    ec2 = aws.client("ec2", REGION)
    _, subnet = vpc_with_subnet(ec2, f"{REGION}a")
    return Account(
        ec2=ec2,
        autoscaling=aws.client("autoscaling", REGION),
        eks=aws.client("eks", REGION),
        elb=aws.client("elb", REGION),
        rds=aws.client("rds", REGION),
        subnet=subnet,
        prefix=unique("t"),
    )
