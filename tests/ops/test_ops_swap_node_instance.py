"""A node's EC2 instance against moto: its id, terminating it in its ASG (and only there), the classic ELB that
serves it, and what DescribeInstanceHealth says while it drains."""

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto_env import MOTO_AMI, REGION, Account, account, moto_account

from infra.ops.clients import aws
from infra.ops.errors import OpsError
from infra.ops.swap_node import instance

__all__ = ["account", "moto_account"]  # fixtures: pytest finds them here by name


def make_asg(acct: Account, name: str, desired: int) -> list[str]:
    template = f"lt-{name}"  # name already carries the test's prefix
    acct.ec2.create_launch_template(
        LaunchTemplateName=template, LaunchTemplateData={"ImageId": MOTO_AMI, "InstanceType": "t3.medium"}
    )
    acct.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=desired,
        VPCZoneIdentifier=acct.subnet,
    )
    return asg_instances(acct, name)


def asg_instances(acct: Account, name: str) -> list[str]:
    group = acct.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return [i["InstanceId"] for i in group["Instances"]]


def desired_of(acct: Account, name: str) -> int:
    group = acct.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return int(group["DesiredCapacity"])


def state_of(acct: Account, instance: str) -> str:
    return str(acct.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"])


def test_instance_id_from_provider_id() -> None:
    assert instance.instance_id("aws:///us-west-2a/i-0abc123def4567890") == "i-0abc123def4567890"
    for bad in ("", "aws:///us-west-2a/", "gce://p/z/i-0abc", "aws:///us-west-2a/i-0abc/extra"):
        with pytest.raises(OpsError, match="providerID"):
            instance.instance_id(bad)


def test_terminate_keeps_desired_capacity_and_refuses_foreign_instances(account: Account) -> None:
    ng, other = f"{account.prefix}-eks-ng-foo", f"{account.prefix}-other-asg"
    ours = make_asg(account, ng, desired=2)
    theirs = make_asg(account, other, desired=1)
    loose = account.ec2.run_instances(ImageId=MOTO_AMI, MinCount=1, MaxCount=1, SubnetId=account.subnet)
    loose_id = loose["Instances"][0]["InstanceId"]
    allowed = (ng,)

    with pytest.raises(OpsError, match=f"belongs to ASG '{other}'"):
        instance.terminate_in_asg(account.autoscaling, theirs[0], allowed)
    with pytest.raises(OpsError, match="not in any Auto Scaling group"):
        instance.terminate_in_asg(account.autoscaling, loose_id, allowed)
    assert state_of(account, theirs[0]) == "running" and state_of(account, loose_id) == "running"

    assert instance.terminate_in_asg(account.autoscaling, ours[0], allowed) == ng
    assert desired_of(account, ng) == 2  # ShouldDecrementDesiredCapacity=False
    assert state_of(account, ours[0]) == "terminated"
    after = asg_instances(account, ng)
    assert ours[0] not in after and len(after) == 2  # the ASG launched a replacement

    assert instance.terminate_in_asg(account.autoscaling, after[0], allowed, decrement=True) == ng
    assert desired_of(account, ng) == 1 and asg_instances(account, ng) == [after[1]]  # no replacement


def test_classic_elb_lookup_by_hostname(account: Account) -> None:
    name = f"{account.prefix}-k8s-svc"
    listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    created = account.elb.create_load_balancer(LoadBalancerName=name, Listeners=listeners, Subnets=[account.subnet])
    assert instance.classic_elb_named_by_host(account.elb, created["DNSName"].upper()) == name
    assert instance.classic_elb_named_by_host(account.elb, "nlb-123.elb.us-west-2.amazonaws.com") is None


# DescribeInstanceHealth answers as AWS documents them (moto cannot express draining): botocore's
# Stubber checks each request and response against the ELB API model.
DRAINING = {"State": "InService", "ReasonCode": "N/A", "Description": "Instance deregistration currently in progress."}


GONE = {
    "State": "OutOfService",
    "ReasonCode": "ELB",
    "Description": "Instance is not currently registered with the LoadBalancer.",
}


@pytest.mark.parametrize(
    ("states", "routes", "detail"),
    [
        (
            [{"InstanceId": "i-0abc", "State": "InService", "ReasonCode": "N/A", "Description": "N/A"}],
            True,
            "InService",
        ),
        ([{"InstanceId": "i-0abc", **DRAINING}], True, "InService: Instance deregistration currently in progress."),
        (
            [{"InstanceId": "i-0abc", "State": "Unknown", "Description": "A transient error occurred."}],
            True,
            "Unknown: A transient error occurred.",
        ),
        ([{"InstanceId": "i-0abc", **GONE}], False, "OutOfService: " + GONE["Description"]),
        ([], False, "not listed"),  # a terminated instance is not reported
    ],
)
def test_elb_routes_to_an_instance_until_draining_ends(states: list[dict[str, str]], routes: bool, detail: str) -> None:
    elb = aws.client("elb", REGION)
    with Stubber(elb) as stub:
        request = {"LoadBalancerName": "k8s-svc", "Instances": [{"InstanceId": "i-0abc"}]}
        stub.add_response("describe_instance_health", {"InstanceStates": states}, request)
        assert instance.elb_routes_to(elb, "k8s-svc", "i-0abc") == (routes, detail)
        stub.add_client_error("describe_instance_health", "InvalidInstance", http_status_code=400)
        assert instance.elb_routes_to(elb, "k8s-svc", "i-0abc") == (False, "unknown to the load balancer")
        stub.add_client_error("describe_instance_health", "LoadBalancerNotFound", http_status_code=400)
        with pytest.raises(ClientError):
            instance.elb_routes_to(elb, "k8s-svc", "i-0abc")


def test_elb_in_service_leaves_out_registering_and_draining_instances() -> None:
    elb = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("elb")
    states = [
        {"InstanceId": "i-0a", "State": "InService", "ReasonCode": "N/A", "Description": "N/A"},
        {
            "InstanceId": "i-0b",
            "State": "InService",
            "ReasonCode": "N/A",
            "Description": "Instance deregistration currently in progress.",
        },
        {
            "InstanceId": "i-0c",
            "State": "OutOfService",
            "ReasonCode": "ELB",
            "Description": "Instance registration is still in progress.",
        },
    ]
    with Stubber(elb) as stubber:
        stubber.add_response("describe_instance_health", {"InstanceStates": states}, {"LoadBalancerName": "svc"})
        assert instance.elb_in_service(elb, "svc") == {"i-0a"}
