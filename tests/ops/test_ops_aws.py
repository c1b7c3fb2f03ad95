"""AWS lookups and terminate-in-ASG against moto."""

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto_env import MOTO_AMI, REGION, moto_account, unique, vpc_with_subnet

from infra.ops import aws
from infra.ops.errors import OpsError

__all__ = ["moto_account"]  # a fixture: pytest finds it here by name


@dataclass
class Account:
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
    assert aws.instance_id("aws:///us-west-2a/i-0abc123def4567890") == "i-0abc123def4567890"
    for bad in ("", "aws:///us-west-2a/", "gce://p/z/i-0abc", "aws:///us-west-2a/i-0abc/extra"):
        with pytest.raises(OpsError, match="providerID"):
            aws.instance_id(bad)


def test_terminate_keeps_desired_capacity_and_refuses_foreign_instances(account: Account) -> None:
    ng, other = f"{account.prefix}-eks-ng-foo", f"{account.prefix}-other-asg"
    ours = make_asg(account, ng, desired=2)
    theirs = make_asg(account, other, desired=1)
    loose = account.ec2.run_instances(ImageId=MOTO_AMI, MinCount=1, MaxCount=1, SubnetId=account.subnet)
    loose_id = loose["Instances"][0]["InstanceId"]
    allowed = (ng,)

    with pytest.raises(OpsError, match=f"belongs to ASG '{other}'"):
        aws.terminate_in_asg(account.autoscaling, theirs[0], allowed)
    with pytest.raises(OpsError, match="not in any Auto Scaling group"):
        aws.terminate_in_asg(account.autoscaling, loose_id, allowed)
    assert state_of(account, theirs[0]) == "running" and state_of(account, loose_id) == "running"

    assert aws.terminate_in_asg(account.autoscaling, ours[0], allowed) == ng
    assert desired_of(account, ng) == 2  # ShouldDecrementDesiredCapacity=False
    assert state_of(account, ours[0]) == "terminated"
    after = asg_instances(account, ng)
    assert ours[0] not in after and len(after) == 2  # the ASG launched a replacement

    assert aws.terminate_in_asg(account.autoscaling, after[0], allowed, decrement=True) == ng
    assert desired_of(account, ng) == 1 and asg_instances(account, ng) == [after[1]]  # no replacement


def test_describe_nodegroup_reads_desired_and_asgs(account: Account) -> None:
    role, cluster = "arn:aws:iam::123456789012:role/eks", f"{account.prefix}-foo"
    account.eks.create_cluster(name=cluster, roleArn=role, resourcesVpcConfig={"subnetIds": [account.subnet]})
    account.eks.create_nodegroup(
        clusterName=cluster,
        nodegroupName="ng",
        nodeRole=role,
        subnets=[account.subnet],
        scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 3},
    )
    group = aws.describe_nodegroup(account.eks, cluster, "ng")
    assert group.desired == 3
    assert group.scaling == aws.Scaling(min_size=1, max_size=4, desired=3)
    # moto invents an ASG name here without creating that ASG, so terminate tests use their own ASG.
    assert len(group.asg_names) == 1
    assert aws.cluster_status(account.eks, cluster) == "ACTIVE"
    assert aws.cluster_status(account.eks, "gone") is None


def test_classic_elb_lookup_by_hostname(account: Account) -> None:
    name = f"{account.prefix}-k8s-svc"
    listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    created = account.elb.create_load_balancer(LoadBalancerName=name, Listeners=listeners, Subnets=[account.subnet])
    assert aws.classic_elb_named_by_host(account.elb, created["DNSName"].upper()) == name
    assert aws.classic_elb_named_by_host(account.elb, "nlb-123.elb.us-west-2.amazonaws.com") is None


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
        assert aws.elb_routes_to(elb, "k8s-svc", "i-0abc") == (routes, detail)
        stub.add_client_error("describe_instance_health", "InvalidInstance", http_status_code=400)
        assert aws.elb_routes_to(elb, "k8s-svc", "i-0abc") == (False, "unknown to the load balancer")
        stub.add_client_error("describe_instance_health", "LoadBalancerNotFound", http_status_code=400)
        with pytest.raises(ClientError):
            aws.elb_routes_to(elb, "k8s-svc", "i-0abc")


def test_nodegroup_resize_and_update_status() -> None:
    eks = aws.client("eks", REGION)
    with Stubber(eks) as stub:
        update = {"id": "u-1", "status": "InProgress", "type": "ConfigUpdate"}
        config = {"minSize": 1, "maxSize": 2, "desiredSize": 2}
        stub.add_response(
            "update_nodegroup_config",
            {"update": update},
            {"clusterName": "infra-foo", "nodegroupName": "ng", "scalingConfig": config},
        )
        assert aws.resize_nodegroup(eks, "infra-foo", "ng", aws.Scaling(1, 2, 2)) == "u-1"
        failed = {
            **update,
            "status": "Failed",
            "errors": [{"errorCode": "AsgInstanceLaunchFailures", "errorMessage": "no capacity"}],
        }
        stub.add_response(
            "describe_update", {"update": failed}, {"name": "infra-foo", "updateId": "u-1", "nodegroupName": "ng"}
        )
        assert aws.update_status(eks, "infra-foo", "ng", "u-1") == ("Failed", "no capacity")
    assert aws.Scaling(1, 2, 2).cli_args() == "--scaling-config minSize=1,maxSize=2,desiredSize=2"


def test_snapshot_status(account: Account) -> None:
    db, final = f"{account.prefix}-db", f"{account.prefix}-final"
    assert aws.snapshot_status(account.rds, final) is None
    account.rds.create_db_instance(
        DBInstanceIdentifier=db,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        MasterUsername="app",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )
    account.rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=final)
    assert aws.snapshot_status(account.rds, final) == "available"
