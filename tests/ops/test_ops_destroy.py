"""destroy: retry after DependencyViolation, the sweep, log groups, the final report, confirmation (moto).

Each test has its own moto account (nothing another test made is visible) and the stack foo of project infra,
so the cluster, the database and their log groups are all named infra-foo.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fakes import FakeClock
from moto_env import REGION, db_instance, moto_account, own_account, record_calls, vpc_with_subnet

from infra.ops import cli, live
from infra.ops.clients import aws, stack
from infra.ops.clients.stack import StackError
from infra.ops.clients.state import StateFacts
from infra.ops.destroy import after_destroy, precheck, sweep, teardown
from infra.ops.destroy import command as destroy_command
from infra.ops.destroy.target import AwsClients, Target
from infra.ops.errors import OpsError

__all__ = ["moto_account", "own_account"]  # fixtures: pytest finds them here by name

EKS_LOGS = "/aws/eks/infra-foo/cluster"
RDS_LOGS = ["/aws/rds/instance/infra-foo/postgresql", "/aws/rds/instance/infra-foo/upgrade"]
FINAL = "infra-foo-final-1a2b3c4d"


@dataclass
class World:
    clients: AwsClients
    vpc: str
    subnet: str

    def outputs(self, snapshot: str = FINAL) -> dict[str, Any]:
        return {
            "region": REGION,
            "clusterName": "infra-foo",
            "vpcId": self.vpc,
            "dbFinalSnapshotIdentifier": snapshot,
            "dbIdentifier": "infra-foo",
            "dbEphemeral": True,
        }

    def target(self, snapshot: str = FINAL) -> Target:
        return Target.locate("foo", "infra", self.outputs(snapshot))

    def left(self) -> list[str]:
        return [i.kind for i in sweep.find(self.clients.sweep, self.vpc, "infra-foo")]

    def log_groups(self) -> list[str]:
        return [g["logGroupName"] for g in self.clients.logs.describe_log_groups()["logGroups"]]

    def create_database(self) -> None:
        db_instance(self.clients.rds, "infra-foo")

    def take_snapshot(self) -> None:
        self.create_database()
        self.clients.rds.create_db_snapshot(DBInstanceIdentifier="infra-foo", DBSnapshotIdentifier=FINAL)
        self.clients.rds.delete_db_instance(DBInstanceIdentifier="infra-foo", SkipFinalSnapshot=True)

    def create_cluster(self) -> None:
        role = "arn:aws:iam::123456789012:role/eks"
        self.clients.eks.create_cluster(name="infra-foo", roleArn=role, resourcesVpcConfig={"subnetIds": [self.subnet]})


@pytest.fixture
def world(own_account: str) -> World:
    """A VPC holding what the cloud provider leaves behind for infra-foo, and an ELB of another cluster."""
    clients = AwsClients(
        sweep=sweep.Clients(
            ec2=aws.client("ec2", REGION), elb=aws.client("elb", REGION), elbv2=aws.client("elbv2", REGION)
        ),
        eks=aws.client("eks", REGION),
        rds=aws.client("rds", REGION),
        logs=aws.client("logs", REGION),
        acm=aws.client("acm", REGION),
        logs_last_try=aws.client("logs", REGION, aws.ONE_SHORT_TRY),
    )
    ec2: Any = clients.sweep.ec2
    vpc, subnet = vpc_with_subnet(ec2)
    listener = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    for name, owner in (("foo-svc", "infra-foo"), ("bar-svc", "infra-bar")):
        tags = [{"Key": f"kubernetes.io/cluster/{owner}", "Value": "owned"}]
        clients.sweep.elb.create_load_balancer(LoadBalancerName=name, Listeners=listener, Subnets=[subnet], Tags=tags)
    spec = [{"ResourceType": "security-group", "Tags": [{"Key": "kubernetes.io/cluster/infra-foo", "Value": "owned"}]}]
    ec2.create_security_group(GroupName="k8s-elb", Description="elb", VpcId=vpc, TagSpecifications=spec)
    clients.logs.create_log_group(logGroupName="/aws/eks/infra-bar/cluster")  # another stack's: stays
    return World(clients, vpc, subnet)


class Destroyer:
    """pulumi destroy stand-in: fails with the given errors first, records what it saw, runs `during` each time."""

    def __init__(self, *errors: StackError) -> None:
        self.errors = list(errors)
        self.calls: list[bool] = []
        self.before: list[Any] = []
        self.probe: Any = None
        self.during: Any = None

    def __call__(self, preview_only: bool) -> None:
        self.calls.append(preview_only)
        if self.probe:
            self.before.append(self.probe())
        if self.during:
            self.during()
        if self.errors:
            raise self.errors.pop(0)


VIOLATION = StackError("pulumi destroy of stack 'foo' failed: DependencyViolation", dependency_violation=True)


def test_dependency_violation_sweeps_then_retries_once_and_reports(world: World) -> None:
    world.take_snapshot()
    logs = world.clients.logs
    logs.create_log_group(logGroupName=RDS_LOGS[0])  # RDS made it for a stack deployed before the program did
    destroyer = Destroyer(VIOLATION)
    destroyer.probe = world.left
    # EKS writes logs while the cluster is being deleted: its service-linked role re-creates the group.
    destroyer.during = lambda: EKS_LOGS in world.log_groups() or logs.create_log_group(logGroupName=EKS_LOGS)
    lines: list[str] = []

    results = teardown.destroy(
        world.target(), destroyer, world.clients, notices=[], clock=FakeClock().clock, say=lines.append
    ).rows

    assert destroyer.calls == [False, False]
    assert destroyer.before == [["classic-elb", "security-group"], []]  # swept between the two attempts
    assert any("DependencyViolation: sweeping" in ln for ln in lines)
    assert [(r.name, r.status, r.detail) for r in results] == [
        ("leftovers", "PASS", f"nothing left tagged kubernetes.io/cluster/infra-foo in {world.vpc}"),
        ("final DB snapshot", "PASS", f"{FINAL} (available)"),
        ("cluster and pods", "PASS", "EKS cluster infra-foo no longer exists, so none of its pods run"),
        (
            "log groups",
            "PASS",
            "deleted /aws/eks/infra-foo/cluster, /aws/rds/instance/infra-foo/postgresql "
            "(re-created by AWS after Pulumi deleted them)",
        ),
    ]
    assert world.log_groups() == ["/aws/eks/infra-bar/cluster"]  # the next `pulumi up` can create ours again
    elbs = world.clients.sweep.elb.describe_load_balancers()["LoadBalancerDescriptions"]
    assert [lb["LoadBalancerName"] for lb in elbs] == ["bar-svc"]  # another cluster's: untouched


def test_log_groups_stay_while_their_writers_exist(world: World) -> None:
    world.create_cluster()
    world.create_database()
    for name in (EKS_LOGS, *RDS_LOGS):
        world.clients.logs.create_log_group(logGroupName=name)
    row = after_destroy.log_groups_check(world.target(), world.clients)
    assert (row.status, row.ok) == ("WARN", True)
    assert row.detail.startswith(f"kept {EKS_LOGS}, {RDS_LOGS[0]}, {RDS_LOGS[1]}: ")
    assert sorted(world.log_groups()) == sorted(["/aws/eks/infra-bar/cluster", EKS_LOGS, *RDS_LOGS])


def test_log_group_that_cannot_be_deleted_fails_with_the_command(world: World) -> None:
    world.clients.logs.create_log_group(logGroupName=EKS_LOGS)

    class Denied:
        def __init__(self, logs: Any) -> None:
            self.logs = logs

        def delete_log_group(self, **kwargs: Any) -> None:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
            raise ClientError(error, "DeleteLogGroup")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.logs, name)

    clients = dataclasses.replace(world.clients, logs=Denied(world.clients.logs))
    row = after_destroy.log_groups_check(world.target(), clients)
    assert row.status == "FAIL"
    assert row.detail.endswith(
        "the next `pulumi up` needs them gone: aws logs delete-log-group --log-group-name /aws/eks/infra-foo/cluster"
    )


def test_nothing_to_delete_is_a_pass_that_names_what_was_checked(world: World) -> None:
    row = after_destroy.log_groups_check(world.target(), world.clients)
    assert (row.status, row.detail) == ("PASS", "none left (/aws/eks/infra-foo/cluster, /aws/rds/instance/infra-foo/*)")


def test_other_failures_and_a_second_violation_are_not_retried(world: World) -> None:
    locked = StackError("pulumi destroy of stack 'foo' failed: error: the stack is currently locked")
    destroyer = Destroyer(locked)
    with pytest.raises(StackError, match="locked"):
        teardown.destroy(
            world.target(), destroyer, world.clients, notices=[], clock=FakeClock().clock, say=lambda _: None
        )
    assert destroyer.calls == [False]
    assert len(world.left()) == 2  # nothing swept

    twice = Destroyer(VIOLATION, VIOLATION)
    with pytest.raises(StackError, match="DependencyViolation"):
        teardown.destroy(world.target(), twice, world.clients, notices=[], clock=FakeClock().clock, say=lambda _: None)
    assert twice.calls == [False, False]


def test_report_failures(world: World) -> None:
    world.create_cluster()
    target, clients = world.target(), world.clients

    assert after_destroy.leftovers_check(target, clients).detail.startswith(
        "still tagged kubernetes.io/cluster/infra-foo: classic-elb"
    )
    assert after_destroy.snapshot_check(target, clients.rds).detail == f"{FINAL} not found"
    assert after_destroy.cluster_check(target, clients.eks).detail == "EKS cluster infra-foo still exists (ACTIVE)"
    assert (
        after_destroy.snapshot_check(world.target(snapshot=""), clients.rds).detail
        == "skipped by config (ephemeral stack)"
    )

    class Denied:
        def describe_db_snapshots(self, **kwargs: Any) -> None:
            error = {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}
            raise ClientError(error, "DescribeDBSnapshots")

    warned = after_destroy.snapshot_check(target, Denied())
    assert warned.status == "WARN" and warned.ok and "could not check" in warned.detail


def test_dry_run_only_reads(world: World) -> None:
    world.clients.logs.create_log_group(logGroupName=EKS_LOGS)
    c = world.clients
    calls = record_calls(c.sweep.ec2, c.sweep.elb, c.sweep.elbv2, c.eks, c.rds, c.logs)
    destroyer = Destroyer()
    lines: list[str] = []

    results = teardown.preview(
        world.target(), destroyer, world.clients, notices=[], clock=FakeClock().clock, say=lines.append
    )

    assert calls and all(name.startswith(("Describe", "List", "Get")) for name in calls), calls
    assert destroyer.calls == [True]  # pulumi destroy --preview-only
    assert len(world.left()) == 2 and EKS_LOGS in world.log_groups()
    assert sum(ln.startswith("  would delete ") for ln in lines) == 2
    rows = {r.name: r for r in results}
    assert rows["final DB snapshot"].detail == f"will be kept as {FINAL}"
    assert rows["log groups"].detail == (
        "after destroy, would delete any still there: /aws/eks/infra-foo/cluster (exists now), "
        "/aws/rds/instance/infra-foo/postgresql (absent now), /aws/rds/instance/infra-foo/upgrade (absent now)"
    )


def test_confirmation() -> None:
    assert precheck.confirmed("foo", lambda prompt: "foo\n")
    assert not precheck.confirmed("foo", lambda prompt: "y")

    def eof(prompt: str) -> str:
        raise EOFError

    assert not precheck.confirmed("foo", eof)
    precheck.require_confirmation("foo", yes=True, interactive=False, ask=eof)
    with pytest.raises(OpsError, match="without --yes"):
        precheck.require_confirmation("foo", yes=False, interactive=False, ask=eof)
    with pytest.raises(OpsError, match="not confirmed; nothing was destroyed"):
        precheck.require_confirmation("foo", yes=False, interactive=True, ask=lambda p: "bar")


def test_target_names_the_cluster_after_project_and_stack() -> None:
    with pytest.raises(OpsError, match=r"region is unknown .*: set AWS_REGION"):
        Target.locate("foo", "infra", {})
    gone = Target.locate("foo", "infra", {}, default_region=REGION)  # already destroyed: no outputs, no state
    assert (gone.region, gone.cluster, gone.vpc_id, gone.snapshot, gone.db_identifier) == (
        REGION,
        "infra-foo",
        None,
        None,
        "infra-foo",
    )
    assert Target.locate("foo", "infra", {"region": "eu-west-1"}, default_region=REGION).region == "eu-west-1"
    half = StateFacts(vpc_id="vpc-1", region="eu-central-1", db_identifier=None, snapshot=None, protected=())
    built = Target.locate("foo", "infra", {}, half)  # `pulumi up` failed after the VPC
    assert (built.vpc_id, built.region, built.snapshot) == ("vpc-1", "eu-central-1", None)


def test_rows_that_cannot_be_known_are_warnings(world: World) -> None:
    gone = Target.locate("foo", "infra", {}, default_region=REGION)
    rows = teardown.destroy(
        gone, Destroyer(), world.clients, notices=[], clock=FakeClock().clock, say=lambda _: None
    ).rows
    assert [(r.name, r.status) for r in rows] == [
        ("leftovers", "WARN"),
        ("final DB snapshot", "WARN"),
        ("cluster and pods", "PASS"),  # the cluster's name is known, and EKS says it is gone
        ("log groups", "PASS"),
    ]
    assert rows[0].detail == "not checked: no VPC in the stack's state or outputs"
    assert rows[1].detail == "not known: no database in the stack's state or outputs"


def test_a_half_created_stack_is_swept_from_its_state(world: World) -> None:
    facts = StateFacts(vpc_id=world.vpc, region=REGION, db_identifier=None, snapshot=None, protected=())
    target = Target.locate("foo", "infra", {}, facts)  # no outputs: `pulumi up` failed before the end
    rows = teardown.destroy(
        target, Destroyer(), world.clients, notices=[], clock=FakeClock().clock, say=lambda _: None
    ).rows
    assert world.left() == []
    assert rows[0].detail == f"nothing left tagged kubernetes.io/cluster/infra-foo in {world.vpc}"


PROTECTED_DB = {  # what `pulumi stack export` holds for a durable stack's database
    "urn": "urn:pulumi:prod::infra::infra:index:Database$aws:rds/instance:Instance::database-postgres",
    "custom": True,
    "id": "infra-prod",
    "type": "aws:rds/instance:Instance",
    "protect": True,
    "outputs": {"identifier": "infra-prod", "skipFinalSnapshot": False, "finalSnapshotIdentifier": "infra-prod-f"},
}
DELETION_PROTECTED_CLUSTER = {  # a durable stack's EKS cluster: not Pulumi-protected, but DeleteCluster refuses
    "urn": "urn:pulumi:prod::infra::infra:index:Cluster$aws:eks/cluster:Cluster::cluster-eks",
    "custom": True,
    "id": "infra-prod",
    "type": "aws:eks/cluster:Cluster",
    "outputs": {"name": "infra-prod", "deletionProtection": True},
}


def test_a_protected_resource_refuses_before_anything_is_deleted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    destroyed: list[str] = []
    monkeypatch.setattr(stack, "read_outputs", lambda name: {"region": REGION})
    state = {"resources": [DELETION_PROTECTED_CLUSTER, PROTECTED_DB]}
    monkeypatch.setattr(stack, "read_state", lambda name: state)
    monkeypatch.setattr(stack, "destroy", lambda name, *a, **k: destroyed.append(name))
    monkeypatch.setattr(live, "aws_client", lambda *a: pytest.fail("no AWS call before the refusal"))

    for argv in (["destroy", "prod", "--yes"], ["destroy", "prod", "--dry-run"]):
        assert cli.main(argv) == 1
        assert capsys.readouterr().err == (
            "error: stack 'prod' has protected resources (aws:eks/cluster:Cluster cluster-eks (deletion protection),"
            " aws:rds/instance:Instance database-postgres (protect)), so pulumi destroy would delete everything else"
            " and then fail on them; nothing was destroyed. To remove them, "
            "review and apply: pulumi config set --path database.ephemeral true -s prod && make up STACK=prod\n"
        )
    assert destroyed == []


def test_destroy_verb(world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    world.take_snapshot()
    destroyed: list[tuple[str, bool]] = []

    def fake_destroy(name: str, on_output: Any, *, preview_only: bool = False) -> None:
        destroyed.append((name, preview_only))
        on_output("Resources: 42 deleted")

    reads: list[tuple[str, int]] = []

    def read_outputs(name: str) -> dict[str, Any]:
        reads.append(("outputs", len(destroyed)))
        return world.outputs()

    def read_state(name: str) -> dict[str, Any]:
        reads.append(("state", len(destroyed)))
        return {"resources": []}

    monkeypatch.setattr(stack, "read_outputs", read_outputs)
    monkeypatch.setattr(stack, "read_state", read_state)
    monkeypatch.setattr(stack, "destroy", fake_destroy)

    assert cli.main(["destroy", "foo"]) == 1  # no terminal and no --yes
    assert "refusing to destroy without --yes" in capsys.readouterr().err
    assert destroyed == []

    assert cli.main(["destroy", "foo", "--dry-run"]) == 0
    assert destroyed == [("foo", True)] and len(world.left()) == 2
    capsys.readouterr()

    assert cli.main(["destroy", "foo", "--yes"]) == 0
    out = capsys.readouterr().out
    assert destroyed[-1] == ("foo", False) and reads[-2:] == [("outputs", 1), ("state", 1)]  # read before
    assert f"stack foo: cluster infra-foo, VPC {world.vpc}, region {REGION}" in out
    assert "AWS identity: arn:aws:sts::" in out
    assert "Resources: 42 deleted" in out
    assert "leftovers          PASS" in out and f"{FINAL} (available)" in out


def test_an_interrupted_destroy_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(name: str, on_output: Any, *, preview_only: bool = False) -> None:
        raise StackError("pulumi destroy of stack 'foo' was interrupted", interrupted=True)

    monkeypatch.setattr(stack, "destroy", interrupted)
    monkeypatch.setattr(destroy_command, "run", lambda args: stack.destroy("foo", print))
    assert cli.main(["destroy", "foo", "--yes"]) == 130
    assert capsys.readouterr().err == "error: pulumi destroy of stack 'foo' was interrupted\n"


def test_a_row_that_cannot_be_checked_is_a_warning_not_the_end_of_the_report(world: World) -> None:
    """After a successful destroy, an AccessDenied on one check must not lose the other rows."""
    from botocore.exceptions import ClientError

    class NoDescribe:
        def describe_cluster(self, **kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeCluster")

    clients = dataclasses.replace(world.clients, eks=NoDescribe())
    world.take_snapshot()
    rows = teardown.destroy(
        world.target(), Destroyer(), clients, notices=[], clock=FakeClock().clock, say=lambda _: None
    ).rows
    by_name = {r.name: r for r in rows}
    assert list(by_name) == ["leftovers", "final DB snapshot", "cluster and pods", "log groups"]
    assert by_name["cluster and pods"].status == "WARN"
    assert by_name["cluster and pods"].detail.startswith("could not check: ")
    assert "AccessDeniedException" in by_name["cluster and pods"].detail
    assert by_name["final DB snapshot"].status == "PASS"
