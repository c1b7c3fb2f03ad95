"""The stack's EKS managed node group: its sizes and Auto Scaling groups, and changing its sizes through EKS."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scaling:
    min_size: int
    max_size: int
    desired: int

    def __str__(self) -> str:
        return f"min {self.min_size}, max {self.max_size}, desired {self.desired}"

    def cli_args(self) -> str:
        return f"--scaling-config minSize={self.min_size},maxSize={self.max_size},desiredSize={self.desired}"


@dataclass(frozen=True)
class NodeGroup:
    scaling: Scaling
    asg_names: tuple[str, ...]

    @property
    def desired(self) -> int:
        return self.scaling.desired


def describe_nodegroup(eks: Any, cluster: str, nodegroup: str) -> NodeGroup:
    found = eks.describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]
    asgs = found.get("resources", {}).get("autoScalingGroups", [])
    sizes = found["scalingConfig"]
    return NodeGroup(
        scaling=Scaling(int(sizes["minSize"]), int(sizes["maxSize"]), int(sizes["desiredSize"])),
        asg_names=tuple(a["name"] for a in asgs),
    )


def resize_nodegroup(eks: Any, cluster: str, nodegroup: str, scaling: Scaling) -> str:
    """Ask EKS for new sizes (EKS resizes the ASG, so the node group and the ASG agree). Returns the update id."""
    config = {"minSize": scaling.min_size, "maxSize": scaling.max_size, "desiredSize": scaling.desired}
    found = eks.update_nodegroup_config(clusterName=cluster, nodegroupName=nodegroup, scalingConfig=config)
    return str(found["update"]["id"])


def update_status(eks: Any, cluster: str, nodegroup: str, update_id: str) -> tuple[str, str]:
    """An EKS update's status (InProgress, Failed, Cancelled, Successful) and its error messages."""
    found = eks.describe_update(name=cluster, updateId=update_id, nodegroupName=nodegroup)["update"]
    errors = "; ".join(str(e.get("errorMessage") or e.get("errorCode")) for e in found.get("errors") or [])
    return str(found["status"]), errors
