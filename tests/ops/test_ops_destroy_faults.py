"""destroy after the irreversible step: AWS refusing a describe, a delete, or Ctrl-C never ends the report.

moto plays the account (the `world` of test_ops_destroy: stack foo, cluster infra-foo, an ELB and a security group
the cloud provider left); `fakes.refuse` makes one operation answer the way AWS refuses it.
"""

import dataclasses
import signal
from typing import Any

import pytest
from fakes import FakeClock, refuse
from moto_env import REGION, moto_account, own_account
from test_ops_destroy import EKS_LOGS, VIOLATION, Destroyer, World, world

from infra.ops import cli, live
from infra.ops.clients import aws, stack
from infra.ops.destroy import teardown
from infra.ops.destroy.target import AwsClients
from infra.ops.errors import OpsError

__all__ = ["moto_account", "own_account", "world"]  # fixtures: pytest finds them here by name

THROTTLED = "An error occurred (Throttling) when calling the DescribeLoadBalancers operation: Rate exceeded"
FIND_BY_HAND = (
    "aws resourcegroupstaggingapi get-resources --region us-west-2 "
    "--tag-filters Key=kubernetes.io/cluster/infra-foo,Values=owned (delete each one listed)"
)


def recreate_eks_logs(world: World) -> Destroyer:
    """A pulumi destroy that succeeds while EKS re-creates its log group (as it does while the cluster goes)."""
    destroyer = Destroyer()
    destroyer.during = lambda: world.clients.logs.create_log_group(logGroupName=EKS_LOGS)
    return destroyer


def run(world: World, clients: AwsClients | None = None) -> teardown.Teardown:
    target, destroyer = world.target(snapshot=""), recreate_eks_logs(world)
    return teardown.destroy(
        target, destroyer, clients or world.clients, notices=[], clock=FakeClock().clock, say=lambda _: None
    )


def test_a_throttled_describe_in_the_final_sweep_is_a_row_and_the_log_groups_still_go(world: World) -> None:
    refused = refuse(world.clients.sweep.elb, "DescribeLoadBalancers", "Throttling", "Rate exceeded")

    report = run(world)

    assert refused  # the sweep did ask
    assert [(r.name, r.status, r.detail) for r in report.rows] == [
        ("leftovers", "WARN", f"could not check: ClientError: {THROTTLED}; by hand: {FIND_BY_HAND}"),
        ("final DB snapshot", "PASS", "skipped by config (ephemeral stack)"),
        ("cluster and pods", "PASS", "EKS cluster infra-foo no longer exists, so none of its pods run"),
        ("log groups", "PASS", f"deleted {EKS_LOGS} (re-created by AWS after Pulumi deleted them)"),
    ]
    assert world.log_groups() == ["/aws/eks/infra-bar/cluster"]  # the next `pulumi up -s foo` is not blocked
    assert (report.exit_code, report.summary) == (
        4,
        "pulumi destroy succeeded, but AWS did not answer for leftovers: check by hand (their commands)",
    )


def test_no_describe_permission_at_all_still_deletes_the_log_groups(world: World) -> None:
    c = world.clients
    for client, operation in (
        (c.eks, "DescribeCluster"),
        (c.rds, "DescribeDBInstances"),
        (c.logs, "DescribeLogGroups"),
    ):
        refuse(client, operation, "AccessDeniedException", "not authorized", status=403)

    report = run(world)

    rows = {r.name: r for r in report.rows}
    assert rows["cluster and pods"].status == "WARN"
    assert rows["cluster and pods"].detail.endswith(
        f"; by hand: aws eks describe-cluster --region {REGION} --name infra-foo"
    )
    assert rows["log groups"].status == "PASS"
    assert rows["log groups"].detail.startswith(f"deleted {EKS_LOGS} (re-created by AWS after Pulumi deleted them) ")
    assert "could not be looked up" in rows["log groups"].detail
    left = aws.client("logs", REGION).describe_log_groups()["logGroups"]  # a client with permission
    assert [g["logGroupName"] for g in left] == ["/aws/eks/infra-bar/cluster"]
    assert report.exit_code == 4


def test_neither_listing_nor_deleting_log_groups_is_unchecked_with_the_commands(world: World) -> None:
    refuse(world.clients.logs, "DescribeLogGroups", "AccessDeniedException", "not authorized", status=403)
    refuse(world.clients.logs, "DeleteLogGroup", "AccessDeniedException", "not authorized", status=403)

    report = run(world)

    row = report.rows[-1]
    assert (row.name, row.status) == ("log groups", "WARN")
    # why, for both refusals, in AWS's words
    listing = "An error occurred (AccessDeniedException) when calling the DescribeLogGroups operation: not authorized"
    assert f"could not list (AccessDeniedException: {listing}) or delete (" in row.detail
    assert row.detail.endswith(
        f"by hand: aws logs delete-log-group --log-group-name {EKS_LOGS} --region {REGION} && "
        f"aws logs delete-log-group --log-group-name /aws/rds/instance/infra-foo/postgresql --region {REGION} && "
        f"aws logs delete-log-group --log-group-name /aws/rds/instance/infra-foo/upgrade --region {REGION}"
    )
    assert report.unchecked == ["log groups"] and report.exit_code == 4


def test_ctrl_c_after_the_destroy_reports_what_did_not_run_and_still_deletes_the_log_groups(world: World) -> None:
    def interrupt(**_: Any) -> None:
        raise KeyboardInterrupt

    world.clients.sweep.elb.meta.events.register("before-call.*.DescribeLoadBalancers", interrupt)

    report = run(world)

    assert [(r.name, r.status, r.detail.split("; by hand: ")[0]) for r in report.rows] == [
        ("leftovers", "WARN", "interrupted"),
        ("final DB snapshot", "WARN", "not run (interrupted)"),
        ("cluster and pods", "WARN", "not run (interrupted)"),
        ("log groups", "PASS", f"deleted {EKS_LOGS} (re-created by AWS after Pulumi deleted them)"),
    ]
    assert report.rows[0].detail.endswith(FIND_BY_HAND)
    assert world.log_groups() == ["/aws/eks/infra-bar/cluster"]  # the next `pulumi up -s foo` is not blocked
    assert (report.exit_code, report.summary) == (
        130,
        "pulumi destroy succeeded, then was interrupted: finish the rows that say so by hand (their commands)",
    )


@pytest.fixture
def verb(world: World, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """`python -m infra.ops destroy foo` over the world's clients; returns the pulumi destroy calls it made."""
    calls: list[bool] = []
    destroyer = recreate_eks_logs(world)

    def fake_destroy(name: str, on_output: Any, *, preview_only: bool = False) -> None:
        calls.append(preview_only)
        destroyer(preview_only)

    by_service = {
        "ec2": world.clients.sweep.ec2,
        "elb": world.clients.sweep.elb,
        "elbv2": world.clients.sweep.elbv2,
        **{f.name: getattr(world.clients, f.name) for f in dataclasses.fields(world.clients) if f.name != "sweep"},
    }
    monkeypatch.setattr(stack, "read_outputs", lambda name: world.outputs(snapshot=""))
    monkeypatch.setattr(stack, "read_state", lambda name: {"resources": []})
    monkeypatch.setattr(stack, "destroy", fake_destroy)
    monkeypatch.setattr(live, "aws_client", lambda service, out: by_service.get(service) or aws.client(service, REGION))
    return calls


def test_the_exit_code_says_what_is_left(world: World, verb: list[bool], capsys: pytest.CaptureFixture[str]) -> None:
    refuse(world.clients.sweep.elb, "DeleteLoadBalancer", "AccessDenied", "not authorized", status=403)

    assert cli.main(["destroy", "foo", "--yes"]) == 3
    out, err = capsys.readouterr()
    assert verb == [False]
    assert "leftovers          FAIL    still tagged kubernetes.io/cluster/infra-foo: classic-elb foo-svc" in out
    assert err == "error: pulumi destroy succeeded, but teardown is incomplete: leftovers\n"

    world.clients.sweep.elb.meta.events.unregister("before-call.*.DeleteLoadBalancer")
    refuse(world.clients.sweep.elb, "DescribeLoadBalancers", "Throttling", "Rate exceeded")
    assert cli.main(["destroy", "foo", "--yes"]) == 4
    assert capsys.readouterr().err.startswith("error: pulumi destroy succeeded, but AWS did not answer for leftovers")


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
def test_sigterm_or_a_hangup_after_the_destroy_ends_like_ctrl_c_and_still_deletes_the_log_groups(
    world: World, verb: list[bool], capsys: pytest.CaptureFixture[str], sent: signal.Signals
) -> None:
    def terminate(**_: Any) -> None:  # `timeout`, a cancelled CI job or a dropped SSH session, while the sweep runs
        if signal.getsignal(sent) in (signal.SIG_DFL, None):
            pytest.fail(f"{sent.name} would kill destroy without its report")
        signal.raise_signal(sent)

    world.clients.sweep.elb.meta.events.register("before-call.*.DescribeLoadBalancers", terminate)

    assert cli.main(["destroy", "foo", "--yes"]) == 130
    out, err = capsys.readouterr()
    assert "interrupted: one short try at the log groups step" in out
    assert f"log groups         PASS    deleted {EKS_LOGS} (re-created by AWS after Pulumi deleted them)" in out
    assert world.log_groups() == ["/aws/eks/infra-bar/cluster"]
    assert err.startswith("error: pulumi destroy succeeded, then was interrupted")


def test_a_second_interrupt_stops_the_last_try_too(world: World) -> None:
    def interrupt(**_: Any) -> None:
        raise KeyboardInterrupt

    world.clients.sweep.elb.meta.events.register("before-call.*.DescribeLoadBalancers", interrupt)
    world.clients.logs_last_try.meta.events.register("before-call.*.DeleteLogGroup", interrupt)

    report = run(world)

    assert (report.rows[-1].name, report.rows[-1].status) == ("log groups", "WARN")
    assert report.rows[-1].detail.startswith(
        f"interrupted; by hand: aws logs delete-log-group --log-group-name {EKS_LOGS}"
    )
    assert report.exit_code == 130


def test_a_refused_sweep_between_two_destroy_attempts_stops_without_retrying(world: World) -> None:
    refuse(world.clients.sweep.elb, "DescribeLoadBalancers", "Throttling", "Rate exceeded")
    destroyer = Destroyer(VIOLATION)

    with pytest.raises(OpsError) as caught:
        teardown.destroy(
            world.target(), destroyer, world.clients, notices=[], clock=FakeClock().clock, say=lambda _: None
        )

    assert destroyer.calls == [False]  # pulumi destroy is not retried into the same DependencyViolation
    assert str(caught.value) == (
        "pulumi destroy of stack 'foo' stopped on a DependencyViolation and the sweep could not run "
        f"(ClientError: {THROTTLED}); the destroy is not finished: run destroy again"
    )
