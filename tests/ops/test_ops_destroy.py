"""destroy: retry after DependencyViolation, the sweep, the final report, confirmation (moto)."""

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto_env import REGION, moto_account, unique, vpc_with_subnet

from infra.ops import aws, cli, stack, sweep
from infra.ops import destroy as ops
from infra.ops.errors import OpsError
from infra.ops.stack import StackError
from infra.ops.waiting import Clock

__all__ = ["moto_account"]  # a fixture: pytest finds it here by name

CLOCK = Clock(lambda: 0.0, lambda s: None)


@pytest.fixture(scope="module")
def clients(moto_account: None) -> ops.AwsClients:
    # The module's moto account; each test has its own VPC and cluster name,
    # so the sweep and the report only see that test's resources.
    return ops.AwsClients(
        sweep=sweep.Clients(
            ec2=aws.client("ec2", REGION), elb=aws.client("elb", REGION), elbv2=aws.client("elbv2", REGION)
        ),
        eks=aws.client("eks", REGION),
        rds=aws.client("rds", REGION),
    )


@dataclass
class World:
    clients: ops.AwsClients
    cluster: str
    vpc: str
    subnet: str

    @property
    def final(self) -> str:
        return f"{self.cluster}-final"

    def outputs(self, snapshot: str | None = None) -> dict[str, Any]:
        return {
            "region": REGION,
            "clusterName": self.cluster,
            "vpcId": self.vpc,
            "dbFinalSnapshotIdentifier": self.final if snapshot is None else snapshot,
            "dbEphemeral": True,
        }

    def target(self, snapshot: str | None = None) -> ops.Target:
        return ops.Target.from_outputs("foo", self.outputs(snapshot))

    def left(self) -> list[str]:
        return [i.kind for i in sweep.find(self.clients.sweep, self.vpc, self.cluster)]

    def take_snapshot(self) -> None:
        rds = self.clients.rds
        rds.create_db_instance(
            DBInstanceIdentifier=f"{self.cluster}-db",
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            MasterUsername="app",
            MasterUserPassword="password123",
            AllocatedStorage=20,
        )
        rds.create_db_snapshot(DBInstanceIdentifier=f"{self.cluster}-db", DBSnapshotIdentifier=self.final)


@pytest.fixture
def world(clients: ops.AwsClients) -> World:
    """A VPC holding what the cloud provider leaves behind for this cluster, and an ELB of another."""
    cluster = unique("foo")
    ec2: Any = clients.sweep.ec2
    vpc, subnet = vpc_with_subnet(ec2)
    listener = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    for name, owner in ((f"{cluster}-svc", cluster), (f"{cluster}-bar-svc", "bar")):
        tags = [{"Key": f"kubernetes.io/cluster/{owner}", "Value": "owned"}]
        clients.sweep.elb.create_load_balancer(LoadBalancerName=name, Listeners=listener, Subnets=[subnet], Tags=tags)
    spec = [{"ResourceType": "security-group", "Tags": [{"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"}]}]
    ec2.create_security_group(GroupName="k8s-elb", Description="elb", VpcId=vpc, TagSpecifications=spec)
    return World(clients, cluster, vpc, subnet)


class Destroyer:
    """pulumi destroy stand-in: fails with the given errors first, records what it saw."""

    def __init__(self, *errors: StackError) -> None:
        self.errors = list(errors)
        self.calls: list[bool] = []
        self.before: list[Any] = []
        self.probe: Any = None

    def __call__(self, preview_only: bool) -> None:
        self.calls.append(preview_only)
        if self.probe:
            self.before.append(self.probe())
        if self.errors:
            raise self.errors.pop(0)


VIOLATION = StackError("pulumi destroy of stack 'foo' failed: DependencyViolation", dependency_violation=True)


def test_dependency_violation_sweeps_then_retries_once_and_reports(world: World) -> None:
    world.take_snapshot()
    destroyer = Destroyer(VIOLATION)
    destroyer.probe = world.left
    lines: list[str] = []

    results = ops.destroy(world.target(), destroyer, world.clients, clock=CLOCK, say=lines.append)

    assert destroyer.calls == [False, False]
    assert destroyer.before == [["classic-elb", "security-group"], []]  # swept between the two attempts
    assert any("DependencyViolation: sweeping" in ln for ln in lines)
    assert [(r.name, r.status) for r in results] == [
        ("leftovers", "PASS"),
        ("final DB snapshot", "PASS"),
        ("cluster and pods", "PASS"),
    ]
    assert results[0].detail == f"nothing left tagged kubernetes.io/cluster/{world.cluster} in {world.vpc}"
    assert results[1].detail == f"{world.final} (available)"
    assert results[2].detail == f"EKS cluster {world.cluster} no longer exists, so none of its pods run"
    elbs = world.clients.sweep.elb.describe_load_balancers()["LoadBalancerDescriptions"]
    assert f"{world.cluster}-bar-svc" in [lb["LoadBalancerName"] for lb in elbs]  # another cluster's: untouched


def test_other_failures_and_a_second_violation_are_not_retried(world: World) -> None:
    locked = StackError("pulumi destroy of stack 'foo' failed: error: the stack is currently locked")
    destroyer = Destroyer(locked)
    with pytest.raises(StackError, match="locked"):
        ops.destroy(world.target(), destroyer, world.clients, clock=CLOCK, say=lambda _: None)
    assert destroyer.calls == [False]
    assert len(world.left()) == 2  # nothing swept

    twice = Destroyer(VIOLATION, VIOLATION)
    with pytest.raises(StackError, match="DependencyViolation"):
        ops.destroy(world.target(), twice, world.clients, clock=CLOCK, say=lambda _: None)
    assert twice.calls == [False, False]


def test_report_failures(world: World) -> None:
    role = "arn:aws:iam::123456789012:role/eks"
    world.clients.eks.create_cluster(name=world.cluster, roleArn=role, resourcesVpcConfig={"subnetIds": [world.subnet]})
    target, clients = world.target(), world.clients

    assert ops.leftovers_check(target, clients).detail.startswith(
        f"still tagged kubernetes.io/cluster/{world.cluster}: classic-elb"
    )
    assert ops.snapshot_check(target, clients.rds).detail == f"{world.final} not found"
    assert ops.cluster_check(target, clients.eks).detail == f"EKS cluster {world.cluster} still exists (ACTIVE)"
    assert ops.snapshot_check(world.target(snapshot=""), clients.rds).detail == "skipped by config (ephemeral stack)"

    class Denied:
        def describe_db_snapshots(self, **kwargs: Any) -> None:
            error = {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}
            raise ClientError(error, "DescribeDBSnapshots")

    warned = ops.snapshot_check(target, Denied())
    assert warned.status == "WARN" and warned.ok and "could not check" in warned.detail


def test_dry_run_previews_and_deletes_nothing(world: World) -> None:
    destroyer = Destroyer()
    lines: list[str] = []
    results = ops.preview(world.target(), destroyer, world.clients, clock=CLOCK, say=lines.append)
    assert destroyer.calls == [True]  # pulumi destroy --preview-only
    assert len(world.left()) == 2
    assert sum(ln.startswith("  would delete ") for ln in lines) == 2
    assert results[-1].detail == f"will be kept as {world.final}"


def test_confirmation() -> None:
    assert ops.confirmed("foo", lambda prompt: "foo\n")
    assert not ops.confirmed("foo", lambda prompt: "y")

    def eof(prompt: str) -> str:
        raise EOFError

    assert not ops.confirmed("foo", eof)
    ops.require_confirmation("foo", yes=True, interactive=False, ask=eof)
    with pytest.raises(OpsError, match="without --yes"):
        ops.require_confirmation("foo", yes=False, interactive=False, ask=eof)
    with pytest.raises(OpsError, match="not confirmed; nothing was destroyed"):
        ops.require_confirmation("foo", yes=False, interactive=True, ask=lambda p: "bar")


def test_target_needs_a_region_but_not_the_other_outputs() -> None:
    with pytest.raises(OpsError, match="'region' is missing: set AWS_REGION"):
        ops.Target.from_outputs("foo", {})
    half_built = ops.Target.from_outputs("foo", {}, default_region=REGION)  # `pulumi up` failed early
    assert (half_built.region, half_built.cluster, half_built.vpc_id, half_built.snapshot) == (REGION, None, None, "")
    assert ops.Target.from_outputs("foo", {"region": "eu-west-1"}, default_region=REGION).region == "eu-west-1"


def test_destroy_verb(world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    world.take_snapshot()
    destroyed: list[tuple[str, bool]] = []

    def fake_destroy(name: str, on_output: Any, *, preview_only: bool = False) -> None:
        destroyed.append((name, preview_only))
        on_output("Resources: 42 deleted")

    reads: list[int] = []

    def read_outputs(name: str) -> dict[str, Any]:
        reads.append(len(destroyed))
        return world.outputs()

    monkeypatch.setattr(stack, "read_outputs", read_outputs)
    monkeypatch.setattr(stack, "destroy", fake_destroy)

    assert cli.main(["destroy", "foo"]) == 1  # no terminal and no --yes
    assert "refusing to destroy without --yes" in capsys.readouterr().err
    assert destroyed == []

    assert cli.main(["destroy", "foo", "--dry-run"]) == 0
    assert destroyed == [("foo", True)] and len(world.left()) == 2
    capsys.readouterr()

    assert cli.main(["destroy", "foo", "--yes"]) == 0
    out = capsys.readouterr().out
    assert destroyed[-1] == ("foo", False) and reads[-1] == 1  # outputs read before destroying
    assert "Resources: 42 deleted" in out
    assert "leftovers          PASS" in out and f"{world.final} (available)" in out
