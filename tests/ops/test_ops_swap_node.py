"""swap-node end to end: a fake cluster whose nodes are moto's ASG instances, a fake clock."""

from dataclasses import dataclass, field
from typing import Any

import pytest
from moto_env import MOTO_AMI, REGION, moto_account, unique, vpc_with_subnet

from infra.ops import aws, cli, stack
from infra.ops.errors import OpsError
from infra.ops.kube_model import EXCLUDE_FROM_LB_LABEL, NODEGROUP_LABEL, Node, Pod, WorkloadRef, WorkloadStatus
from infra.ops.swap_node import SwapDeps, swap_node
from infra.ops.waiting import Clock

__all__ = ["moto_account"]  # a fixture: pytest finds it here by name


@dataclass
class Cloud:
    autoscaling: Any
    elb: Any
    asg: str  # the node group's
    other_asg: str
    elb_name: str
    hostname: str

    def instances(self, asg: str | None = None) -> list[str]:
        found = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg or self.asg])
        return [i["InstanceId"] for i in found["AutoScalingGroups"][0]["Instances"]]


@pytest.fixture
def cloud(moto_account: None) -> Cloud:
    p = unique("t")
    ec2, autoscaling, elb = (aws.client(s, REGION) for s in ("ec2", "autoscaling", "elb"))
    _, subnet = vpc_with_subnet(ec2, f"{REGION}a")
    template = {"ImageId": MOTO_AMI, "InstanceType": "t3.medium"}
    ec2.create_launch_template(LaunchTemplateName=f"{p}-template", LaunchTemplateData=template)
    for name, size in ((f"{p}-eks-ng", 2), (f"{p}-other", 1)):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": f"{p}-template"},
            MinSize=1,
            MaxSize=4,
            DesiredCapacity=size,
            VPCZoneIdentifier=subnet,
        )
    listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    created = elb.create_load_balancer(LoadBalancerName=f"{p}-svc", Listeners=listeners, Subnets=[subnet])
    return Cloud(autoscaling, elb, f"{p}-eks-ng", f"{p}-other", f"{p}-svc", created["DNSName"])


def node_name(instance: str) -> str:
    return f"ip-{instance}.us-west-2.compute.internal"


@dataclass
class FakeKube:
    """Nodes mirror the ASG's live instances (a replacement joins one poll late, like a kubelet)."""

    cloud: Cloud
    pods_by_node: dict[str, list[Pod]] = field(default_factory=dict)
    pdb_blocks: int = 0
    log: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    join_new: bool = True  # False: a replacement instance never registers as a node

    def nodes(self) -> list[Node]:
        ours, theirs = self.cloud.instances(), self.cloud.instances(self.cloud.other_asg)
        groups = {i: "ng" for i in ours} | {i: "other" for i in theirs}
        joined = [i for i in groups if i in self.seen]
        if self.join_new:
            self.seen |= set(groups)
        return [
            Node(node_name(i), True, provider_id=f"aws:///us-west-2a/{i}", labels={NODEGROUP_LABEL: groups[i]})
            for i in joined
        ]

    def pods(self, *, namespace: str | None = None, node: str | None = None) -> list[Pod]:
        return list(self.pods_by_node.get(node or "", []))

    def cordon(self, node: str) -> None:
        self.log.append(f"cordon {node}")

    def label_node(self, node: str, key: str, value: str) -> None:
        self.log.append(f"label {node} {key}={value}")
        # The service controller reacts to the label by taking the node out of the ELB.
        instance = node.removeprefix("ip-").removesuffix(".us-west-2.compute.internal")
        gone = [{"InstanceId": instance}]
        self.cloud.elb.deregister_instances_from_load_balancer(LoadBalancerName=self.cloud.elb_name, Instances=gone)

    def evict(self, pod: Pod) -> str:
        if pod.name.startswith("helloworld") and self.pdb_blocks:
            self.pdb_blocks -= 1
            return "blocked"
        self.log.append(f"evict {pod.ref}")
        self.pods_by_node[pod.node].remove(pod)
        return "evicted"

    def service_hostname(self, name: str, namespace: str) -> str:
        return self.cloud.hostname

    def workload(self, ref: WorkloadRef, namespace: str) -> WorkloadStatus:
        return WorkloadStatus(3, 3)


@dataclass
class FakeEks:
    """moto's EKS node groups name an ASG that does not exist, so the ASG name is injected here."""

    asg: str

    def describe_nodegroup(self, clusterName: str, nodegroupName: str) -> dict[str, Any]:  # noqa: N803
        found = {"scalingConfig": {"desiredSize": 2}, "resources": {"autoScalingGroups": [{"name": self.asg}]}}
        return {"nodegroup": found}


OUTPUTS = {
    "clusterName": "foo",
    "nodeGroupName": "ng",
    "region": REGION,
    "helloworldNamespace": "helloworld",
    "helloworldWorkload": "rc/helloworld-1.0.0",
    "helloworldReplicas": 3,
}


def setup(cloud: Cloud) -> tuple[FakeKube, SwapDeps, list[str], list[float]]:
    kube = FakeKube(cloud)
    kube.nodes()  # every current instance has joined
    now = [0.0]
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    deps = SwapDeps(kube, FakeEks(cloud.asg), cloud.autoscaling, cloud.elb, Clock(lambda: now[0], sleep), lines.append)
    return kube, deps, lines, now


def test_swap_node_drains_deregisters_terminates_and_waits(cloud: Cloud) -> None:
    kube, deps, lines, now = setup(cloud)
    old, keep = cloud.instances()
    name = node_name(old)
    cloud.elb.register_instances_with_load_balancer(LoadBalancerName=cloud.elb_name, Instances=[{"InstanceId": old}])
    app = Pod("helloworld-1.0.0-x", "helloworld", node=name, owner_kinds=("ReplicationController",))
    proxy = Pod("kube-proxy-x", "kube-system", node=name, owner_kinds=("DaemonSet",))
    dns = Pod("coredns-x", "kube-system", node=name, owner_kinds=("ReplicaSet",))
    kube.pods_by_node[name] = [dns, proxy, app]
    kube.pdb_blocks = 2

    swap_node(OUTPUTS, old, timeout=600, deps=deps)  # by instance id

    assert kube.log == [
        f"cordon {name}",
        f"label {name} {EXCLUDE_FROM_LB_LABEL}=true",
        "evict kube-system/coredns-x",  # the app was tried first, but its PDB said 429 twice
        "evict helloworld/helloworld-1.0.0-x",
    ]
    assert kube.pods_by_node[name] == [proxy]  # DaemonSet pod left alone
    after = cloud.instances()
    assert old not in after and keep in after and len(after) == 2
    groups = cloud.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[cloud.asg])["AutoScalingGroups"]
    assert groups[0]["DesiredCapacity"] == 2
    assert "  skip kube-system/kube-proxy-x: DaemonSet pod (runs on every node)" in lines
    assert any("PodDisruptionBudget (429)" in ln for ln in lines)
    assert any(ln.startswith("  waiting for replacement node: 1/2 Ready") for ln in lines)
    assert lines[-1] == f"done: {name} replaced"
    assert now[0] > 0


def test_node_outside_the_node_group_is_refused_before_anything_changes(cloud: Cloud) -> None:
    kube, deps, _, _ = setup(cloud)
    (foreign,) = cloud.instances(cloud.other_asg)
    with pytest.raises(OpsError, match=f"belongs to ASG '{cloud.other_asg}'"):
        swap_node(OUTPUTS, node_name(foreign), timeout=600, deps=deps)
    assert kube.log == []
    with pytest.raises(OpsError, match="node 'ghost' not found"):
        swap_node(OUTPUTS, "ghost", timeout=600, deps=deps)


def test_replacement_that_never_joins_times_out(cloud: Cloud) -> None:
    kube, deps, _, _ = setup(cloud)
    kube.join_new = False
    old = cloud.instances()[0]
    with pytest.raises(OpsError, match=r"timed out after 60s waiting for replacement node: 1/2 Ready"):
        swap_node(OUTPUTS, node_name(old), timeout=60, deps=deps)


def test_swap_node_verb_reports_errors_in_one_line(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stack, "read_outputs", lambda name: {**OUTPUTS, "helloworldWorkload": "job/x"})
    monkeypatch.setattr(cli, "make_kube", lambda out: FakeKube(cloud))
    assert cli.main(["swap-node", "foo", "n1"]) == 1
    assert capsys.readouterr().err == "error: workload 'job/x' should look like rc/NAME or deployment/NAME\n"
