"""The EKS managed node group: its sizes and ASG as moto describes them, and a resize and its update through
botocore's Stubber."""

from botocore.stub import Stubber
from moto_env import REGION, Account, account, moto_account

from infra.ops.clients import aws
from infra.ops.clients.nodegroup import Scaling, describe_nodegroup, resize_nodegroup, update_status

__all__ = ["account", "moto_account"]  # fixtures: pytest finds them here by name


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
    group = describe_nodegroup(account.eks, cluster, "ng")
    assert group.desired == 3
    assert group.scaling == Scaling(min_size=1, max_size=4, desired=3)
    # moto invents an ASG name here without creating that ASG, so terminate tests use their own ASG.
    assert len(group.asg_names) == 1


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
        assert resize_nodegroup(eks, "infra-foo", "ng", Scaling(1, 2, 2)) == "u-1"
        failed = {
            **update,
            "status": "Failed",
            "errors": [{"errorCode": "AsgInstanceLaunchFailures", "errorMessage": "no capacity"}],
        }
        stub.add_response(
            "describe_update", {"update": failed}, {"name": "infra-foo", "updateId": "u-1", "nodegroupName": "ng"}
        )
        assert update_status(eks, "infra-foo", "ng", "u-1") == ("Failed", "no capacity")
    assert Scaling(1, 2, 2).cli_args() == "--scaling-config minSize=1,maxSize=2,desiredSize=2"
