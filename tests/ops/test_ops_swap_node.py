"""swap-node end to end: moto's ASG instances are the nodes, a fake clock; each wait must matter.

The fakes are slow where the real world is: evicted pods take 60 s to leave, the ELB drains an
instance for three polls after the service controller deregisters it (DescribeLoadBalancers no
longer lists it by then), the workload is ready only some polls after the new node joins. The
log records when each of those ends and when the terminate call comes, so a missing wait shows.
A node that joins is registered with the ELB by the service controller and passes its health
checks two polls later. Here the ELB's health does not depend on pods, as under the Service's
externalTrafficPolicy Cluster; test_ops_swap_node_local.py has the Local one.
"""

import functools
import os
import re
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.autoscaling.models import autoscaling_backends
from moto_env import MOTO_AMI, REGION, moto_account, unique, vpc_with_subnet

from infra.ops import cli, live
from infra.ops.clients import aws, stack
from infra.ops.clients.kube_model import NODEGROUP_LABEL, Lease, Node, Pod, WorkloadRef, WorkloadStatus
from infra.ops.errors import OpsError
from infra.ops.swap_node import command
from infra.ops.swap_node.steps import SwapDeps
from infra.ops.swap_node.swap import swap_node
from infra.ops.waiting import Clock

__all__ = ["moto_account"]  # a fixture: pytest finds it here by name

EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
POD_LEAVES_AFTER = 60.0  # seconds from eviction until the kubelet has stopped the pod
ELB_DRAIN_POLLS = 3  # DescribeInstanceHealth says "deregistration in progress" this often
ELB_HEALTH_POLLS = 2  # a newly registered instance is OutOfService this often before its health checks pass
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # the wall clock when the fake clock reads 0
HOLDER = "ops@laptop pid 42"


@dataclass
class Cloud:
    autoscaling: Any
    elb: Any
    asg: str  # the node group's
    other_asg: str
    elb_name: str
    hostname: str
    backend: Any  # moto's Auto Scaling backend of the account and region: the groups' state, as the API answers it
    # Each ASG's scaling activities, oldest first (moto records none for launches: DescribeScalingActivities is empty).
    activities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The StatusMessage of each of the next launches EC2 refuses (e.g. no capacity), in turn; empty: launches work.
    launch_fails: list[str] = field(default_factory=list)
    retry_after: timedelta = timedelta(seconds=30)  # the ASG launches again this long after a failed launch
    # How long a launch waits for its instance ("WaitingForInstanceId", no EndTime, no instance named): the instance
    # is not in the group meanwhile. Only with a clock (setup() gives the fake world's).
    launch_takes: timedelta = timedelta(seconds=20)
    wall: Callable[[], datetime] | None = None
    launching: dict[str, tuple[dict[str, Any], datetime]] = field(default_factory=dict)  # instance: activity, done at
    retries: list[tuple[str, datetime]] = field(default_factory=list)  # (ASG, when it launches again)

    def instances(self, asg: str | None = None) -> list[str]:
        return [i for i, group in self.live().items() if group == (asg or self.asg)]

    def live(self) -> dict[str, str]:
        """Each InService instance of the two groups, the node group's first: its ASG. Read from moto's model, which
        DescribeAutoScalingGroups answers from, without a round trip through the API: the fakes read it in every
        poll (FakeKube.nodes()), ~1,000 times a module. What the code under test calls goes through the API."""
        self.settle()
        groups = self.backend.autoscaling_groups  # make_cloud() records the first group's launch before the other is
        return {
            state.instance.id: name
            for name in (self.asg, self.other_asg)
            for state in (groups[name].instance_states if name in groups else [])
            if state.lifecycle_state == "InService" and state.instance.id not in self.launching
        }

    def describe_groups(self, **kwargs: Any) -> Any:
        """DescribeAutoScalingGroups without the instances of launches still waiting for EC2."""
        self.settle()
        found = self.autoscaling.describe_auto_scaling_groups(**kwargs)
        for g in found["AutoScalingGroups"]:
            g["Instances"] = [i for i in g["Instances"] if i["InstanceId"] not in self.launching]
        return found

    def node_groups(self) -> dict[str, str]:
        """Each live instance's node group ("ng" or "other")."""
        label = {self.asg: "ng", self.other_asg: "other"}
        return {instance: label[asg] for instance, asg in self.live().items()}

    def sizes(self) -> tuple[int, int, int]:
        self.settle()
        group = self.backend.autoscaling_groups[self.asg]
        return group.min_size, group.max_size, group.desired_capacity

    def settle(self) -> None:
        """What the ASG did by now: launches that got their instance, retries of failed launches."""
        now = self.wall() if self.wall else None
        if now is None:
            return
        for instance, (activity, done) in list(self.launching.items()):
            if done <= now:
                del self.launching[instance]
                activity["Description"] = f"Launching a new EC2 instance: {instance}"
                activity |= {"StatusCode": "Successful", "Progress": 100, "EndTime": done}
        for asg, when in [r for r in self.retries if r[1] <= now]:
            self.retries.remove((asg, when))
            group = self.backend.autoscaling_groups[asg]
            if group.desired_capacity > len(group.active_instances()):  # still short: launch again
                before = self.instances(asg)
                group.set_desired_capacity(group.desired_capacity)  # moto launches up to it
                self.record(asg, before, when, None)

    def record(self, asg: str, before: list[str], at: datetime, cause: str | None) -> None:
        """Record the activities an ASG writes for what changed since `before`, in its words: `cause` is why (e.g.
        "a user request update of AutoScalingGroup constraints to min: 1, max: 2, desired: 2 changing the desired
        capacity from 1 to 2"; None: the ASG's own retry), and a launch adds that it closes the gap between desired
        and actual capacity."""
        after, stamp = self.instances(asg), at.strftime("%Y-%m-%dT%H:%M:%SZ")
        gone, launched = [i for i in before if i not in after], [i for i in after if i not in before]
        for instance in gone:
            self._activity(asg, at, f"Terminating EC2 instance: {instance}", f"At {stamp} {cause}.")
        actual = len(before) - len(gone)
        why = (  # one launch activity per instance, all with the same Cause
            f"At {stamp} an instance was started in response to a difference between desired and actual capacity, "
            f"increasing the capacity from {actual} to {actual + len(launched)}."
        )
        why = f"At {stamp} {cause}.  {why}" if cause else why
        for instance in launched:
            if self.launch_fails:  # EC2 said no: the ASG has no instance for the launch, and retries later
                failed = self.launch_fails.pop(0)
                self.autoscaling.detach_instances(
                    InstanceIds=[instance], AutoScalingGroupName=asg, ShouldDecrementDesiredCapacity=True
                )
                self.backend.autoscaling_groups[asg].desired_capacity += 1  # what was asked for stays
                description = f"Launching a new EC2 instance.  Status Reason: {failed}"
                self._activity(asg, at, description, why, "Failed", failed)
                self.retries.append((asg, at + self.retry_after))
            elif self.launch_takes and self.wall:  # no instance named until EC2 gives one
                activity = self._activity(asg, at, "Launching a new EC2 instance", why, "WaitingForInstanceId")
                self.launching[instance] = (activity, at + self.launch_takes)
            else:
                self._activity(asg, at, f"Launching a new EC2 instance: {instance}", why)

    def _activity(
        self, asg: str, at: datetime, description: str, cause: str, status: str = "Successful", message: str = ""
    ) -> dict[str, Any]:
        history = self.activities.setdefault(asg, [])
        activity: dict[str, Any] = {"ActivityId": f"{asg}-activity-{len(history)}", "AutoScalingGroupName": asg}
        activity |= {"Description": description, "Cause": cause, "StartTime": at}
        activity |= {"StatusCode": status} | ({"StatusMessage": message} if message else {})
        if status in ("Successful", "Failed", "Cancelled"):
            activity |= {"EndTime": at, "Progress": 100}
        else:  # under way
            activity |= {"Progress": 0}
        history.append(activity)
        return activity


def moto_asg_backend() -> Any:
    account = aws.client("sts", REGION).get_caller_identity()["Account"]
    return autoscaling_backends[account][REGION]


def make_cloud(desired: int, max_size: int) -> Cloud:
    p = unique("t")
    ec2, autoscaling, elb = (aws.client(s, REGION) for s in ("ec2", "autoscaling", "elb"))
    _, subnet = vpc_with_subnet(ec2, f"{REGION}a")
    template = {"ImageId": MOTO_AMI, "InstanceType": "t3.medium"}
    ec2.create_launch_template(LaunchTemplateName=f"{p}-template", LaunchTemplateData=template)
    listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    created = elb.create_load_balancer(LoadBalancerName=f"{p}-svc", Listeners=listeners, Subnets=[subnet])
    names = (f"{p}-eks-ng", f"{p}-other", f"{p}-svc", created["DNSName"])
    cloud = Cloud(autoscaling, elb, *names, moto_asg_backend())
    for name, size, top in ((cloud.asg, desired, max_size), (cloud.other_asg, 1, 1)):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": f"{p}-template"},
            MinSize=1,
            MaxSize=top,
            DesiredCapacity=size,
            VPCZoneIdentifier=subnet,
        )
        # Created a day before the swap: history no lookup for the run's own launch should read.
        cause = f"a user request created an AutoScalingGroup changing the desired capacity from 0 to {size}"
        cloud.record(name, [], START - timedelta(days=1), cause)
    return cloud


@pytest.fixture
def cloud(moto_account: None) -> Cloud:
    return make_cloud(desired=2, max_size=4)


@pytest.fixture
def lone_cloud(moto_account: None) -> Cloud:
    """A node group of one node that may not grow (max 1): no other node can take the pods."""
    return make_cloud(desired=1, max_size=1)


def node_name(instance: str) -> str:
    return f"ip-{instance}.us-west-2.compute.internal"


def instance_of(node: str) -> str:
    return node.removeprefix("ip-").removesuffix(".us-west-2.compute.internal")


@dataclass
class World:
    """The log every fake writes to, and the fake clock."""

    log: list[str] = field(default_factory=list)
    now: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.now)


@dataclass
class FakeElb:
    """moto's classic ELB, answering DescribeInstanceHealth as AWS does.

    After a deregistration the instance drains for `drain_polls` polls ("InService",
    "Instance deregistration currently in progress."), then is OutOfService. moto instead
    says "Unknown" for an instance that is not registered. A registered instance is
    OutOfService for `health_polls` polls ("Instance registration is still in progress.").
    """

    moto: Any
    world: World
    drain_polls: int = ELB_DRAIN_POLLS
    health_polls: int = ELB_HEALTH_POLLS
    draining: dict[str, int] = field(default_factory=dict)
    registering: dict[str, int] = field(default_factory=dict)

    def get_paginator(self, name: str) -> Any:
        return self.moto.get_paginator(name)

    def deregister(self, name: str, instance: str) -> None:
        self.moto.deregister_instances_from_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
        self.draining[instance] = self.drain_polls

    def register(self, name: str, instance: str) -> None:
        self.moto.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
        self.registering[instance] = self.health_polls

    def describe_instance_health(self, LoadBalancerName: str, Instances: list[dict[str, str]] = []) -> dict[str, Any]:  # noqa: B006, N803
        states = self.moto.describe_instance_health(LoadBalancerName=LoadBalancerName, Instances=Instances)
        answer = []
        for state in states["InstanceStates"]:
            instance = state["InstanceId"]
            if instance in self.registering:
                self.registering[instance] -= 1
                if self.registering[instance] >= 0:
                    state = {**state, "State": "OutOfService", "ReasonCode": "ELB"}
                    state["Description"] = "Instance registration is still in progress."
                else:
                    del self.registering[instance]
                    self.world.log.append(f"elb in service {instance}")
            if self.draining.get(instance):
                self.draining[instance] -= 1
                state = {**state, "State": "InService", "Description": "Instance deregistration currently in progress."}
            elif state["State"] == "Unknown":
                if instance in self.draining:
                    del self.draining[instance]
                    self.world.log.append(f"elb drained {instance}")
                state = {**state, "State": "OutOfService", "ReasonCode": "ELB"}
                state["Description"] = "Instance is not currently registered with the LoadBalancer."
            answer.append(state)
        return {"InstanceStates": answer}


@dataclass
class FakeKube:
    """Nodes mirror the ASG's live instances (a new one joins one poll late, like a kubelet)."""

    cloud: Cloud
    world: World
    elb: FakeElb
    pods_by_node: dict[str, list[Pod]] = field(default_factory=dict)
    evicted_at: dict[str, float] = field(default_factory=dict)
    pdb_blocks: int = 0
    seen: set[str] = field(default_factory=set)
    join_new: bool = True  # False: a replacement instance never registers as a node
    not_ready: set[str] = field(default_factory=set)  # instance ids whose kubelet is unreachable
    workload_polls: int = 0
    undo_fails: bool = False
    registered: set[str] = field(default_factory=set)  # by the service controller, into the ELB
    cordoned: set[str] = field(default_factory=set)  # node names
    labelled: set[str] = field(default_factory=set)  # node names with the exclude-from-external-LBs label
    traffic_policy: str = "Cluster"  # the Service's externalTrafficPolicy
    leases: dict[str, Lease] = field(default_factory=dict)  # by name; the semantics test_ops_kube_lease.py checks
    lease_notes: dict[str, dict[str, str]] = field(default_factory=dict)  # each Lease's annotations, by name

    def nodes(self) -> list[Node]:
        groups = self.cloud.node_groups()
        joined = [i for i in groups if i in self.seen]
        if self.join_new:
            self.seen |= set(groups)
        for instance in set(joined) - self.registered:
            self.elb.register(self.cloud.elb_name, instance)
            self.registered.add(instance)
        return [
            Node(
                node_name(i),
                i not in self.not_ready,
                unschedulable=node_name(i) in self.cordoned,
                provider_id=f"aws:///us-west-2a/{i}",
                labels={NODEGROUP_LABEL: groups[i]} | ({EXCLUDE: "true"} if node_name(i) in self.labelled else {}),
            )
            for i in joined
        ]

    def pods(self, *, namespace: str | None = None, node: str | None = None) -> list[Pod]:
        on = [node] if node else list(self.pods_by_node)
        return [
            p
            for name in on
            for p in self.pods_by_node.get(name, [])
            if namespace in (None, p.namespace) and not (instance_of(name) not in self.not_ready and self._left(p))
        ]

    def _left(self, pod: Pod) -> bool:
        return self.world.now >= self.evicted_at.get(pod.ref, float("inf")) + POD_LEAVES_AFTER

    def cordon(self, node: str) -> None:
        self.world.log.append(f"cordon {node}")
        self.cordoned.add(node)

    def label_node(self, node: str, key: str, value: str) -> None:
        self.world.log.append(f"label {node} {key}={value}")
        self.labelled.add(node)
        # The service controller reacts to the label by deregistering the node from the ELB.
        self.elb.deregister(self.cloud.elb_name, instance_of(node))

    def uncordon(self, node: str) -> None:
        if self.undo_fails:
            raise OpsError("HTTP 403 Forbidden")
        self.world.log.append(f"uncordon {node}")
        self.cordoned.discard(node)

    def unlabel_node(self, node: str, key: str) -> None:
        self.world.log.append(f"unlabel {node} {key}")
        self.labelled.discard(node)
        self.elb.register(self.cloud.elb_name, instance_of(node))  # the service controller takes it back

    def create_lease(self, namespace: str, name: str, holder: str, acquired: datetime) -> str | None:
        if name in self.leases:
            return None
        self.leases[name] = Lease(f"uid-{len(self.world.log)}", holder, acquired)
        return self.leases[name].uid

    def read_lease(self, namespace: str, name: str) -> tuple[Lease, dict[str, str]] | None:
        return (self.leases[name], self.lease_notes.get(name, {})) if name in self.leases else None

    def annotate_lease(self, namespace: str, name: str, uid: str, annotations: Mapping[str, str]) -> None:
        assert self.leases[name].uid == uid
        self.lease_notes[name] = self.lease_notes.get(name, {}) | dict(annotations)

    def delete_lease(self, namespace: str, name: str, uid: str) -> bool:
        if name not in self.leases or self.leases[name].uid != uid:
            return False
        del self.leases[name]
        self.lease_notes.pop(name, None)
        return True

    def evict(self, pod: Pod) -> str:
        if pod.name.startswith("helloworld") and self.pdb_blocks:
            self.pdb_blocks -= 1
            return "blocked"
        self.world.log.append(f"evict {pod.ref}")
        self.evicted_at[pod.ref] = self.world.now
        pods = self.pods_by_node[pod.node]
        pods[pods.index(pod)] = replace(pod, deleting=True)
        return "evicted"

    def service_hostname(self, name: str, namespace: str) -> str:
        return self.cloud.hostname

    def service_traffic_policy(self, name: str, namespace: str) -> str:
        return self.traffic_policy

    def workload(self, ref: WorkloadRef, namespace: str) -> WorkloadStatus:
        self.workload_polls += 1
        if self.workload_polls < 3:  # the moved pods become ready on the new node a little later
            return WorkloadStatus(3, 2)
        self.world.log.append("workload 3/3 ready")
        return WorkloadStatus(3, 3)

    def on_node(self, instance: str) -> list[str]:
        return [p.name for p in self.pods(node=node_name(instance))]


@dataclass
class FakeAutoscaling:
    """moto's Auto Scaling, logging the terminate call with what is still on the node at that moment, and answering
    DescribeScalingActivities from the activities the cloud recorded, as AWS orders and pages them."""

    moto: Any
    kube: FakeKube
    page: int = 2  # "A response can contain fewer items than the value specified by MaxRecords" (the API reference)

    def describe_auto_scaling_instances(self, **kwargs: Any) -> Any:
        return self.moto.describe_auto_scaling_instances(**kwargs)

    def describe_auto_scaling_groups(self, **kwargs: Any) -> Any:
        return self.kube.cloud.describe_groups(**kwargs)

    def describe_scaling_activities(
        self,
        AutoScalingGroupName: str,  # noqa: N803
        MaxRecords: int = 100,  # noqa: N803
        NextToken: str = "0",  # noqa: N803
        Filters: list[dict[str, Any]] = [],  # noqa: B006, N803
    ) -> Any:
        assert 1 <= MaxRecords <= 100  # the API's limit
        self.kube.cloud.settle()
        history = [a for a in self.kube.cloud.activities.get(AutoScalingGroupName, []) if started_within(a, Filters)]
        # "Activities are sorted by start time. Activities still in progress are described first."
        ordered = sorted(reversed(history), key=lambda a: (a.get("EndTime") is not None, -a["StartTime"].timestamp()))
        start = int(NextToken)
        end = start + min(MaxRecords, self.page)
        return {"Activities": ordered[start:end]} | ({"NextToken": str(end)} if end < len(ordered) else {})

    def terminate_instance_in_auto_scaling_group(self, InstanceId: str, ShouldDecrementDesiredCapacity: bool) -> Any:  # noqa: N803
        left = ", ".join(self.kube.on_node(InstanceId)) or "nothing"
        self.kube.world.log.append(f"terminate {InstanceId} decrement={ShouldDecrementDesiredCapacity} pods={left}")
        cloud = self.kube.cloud
        asg = self.moto.describe_auto_scaling_instances(InstanceIds=[InstanceId])["AutoScalingInstances"][0]
        before = cloud.instances(asg["AutoScalingGroupName"])
        answer = self.moto.terminate_instance_in_auto_scaling_group(
            InstanceId=InstanceId, ShouldDecrementDesiredCapacity=ShouldDecrementDesiredCapacity
        )
        cause = f"instance {InstanceId} was taken out of service in response to a user request"
        if ShouldDecrementDesiredCapacity:
            cause += f", shrinking the capacity from {len(before)} to {len(before) - 1}"
        cloud.record(asg["AutoScalingGroupName"], before, self.kube.world.wall(), cause)
        return answer


def started_within(activity: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    """DescribeScalingActivities' StartTimeLowerBound filter: ISO 8601, UTC unless it says otherwise."""
    for f in filters:
        assert f["Name"] == "StartTimeLowerBound" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", f["Values"][0])
        if activity["StartTime"] < datetime.fromisoformat(f["Values"][0]):
            return False
    return True


@dataclass
class FakeEks:
    """An EKS node group over a moto ASG (moto's own node groups name an ASG that does not exist).

    Like EKS, the node group's sizes are the ASG's, and UpdateNodegroupConfig resizes the ASG;
    DescribeUpdate says InProgress once, then Successful.
    """

    cloud: Cloud
    world: World
    polled: set[str] = field(default_factory=set)

    def describe_nodegroup(self, clusterName: str, nodegroupName: str) -> dict[str, Any]:  # noqa: N803
        low, high, desired = self.cloud.sizes()
        found = {
            "scalingConfig": {"minSize": low, "maxSize": high, "desiredSize": desired},
            "resources": {"autoScalingGroups": [{"name": self.cloud.asg}]},
        }
        return {"nodegroup": found}

    def update_nodegroup_config(self, clusterName: str, nodegroupName: str, scalingConfig: dict[str, int]) -> Any:  # noqa: N803
        low, high, desired = (scalingConfig[k] for k in ("minSize", "maxSize", "desiredSize"))
        self.world.log.append(f"resize min={low} max={high} desired={desired}")
        cloud, was = self.cloud, self.cloud.sizes()[2]
        before = cloud.instances()
        cloud.autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=cloud.asg, MinSize=low, MaxSize=high, DesiredCapacity=desired
        )
        if desired != was:  # EKS's call to UpdateAutoScalingGroup, in the ASG's words
            cause = f"a user request update of AutoScalingGroup constraints to min: {low}, max: {high}, desired: "
            cloud.record(
                cloud.asg,
                before,
                self.world.wall(),
                f"{cause}{desired} changing the desired capacity from {was} to {desired}",
            )
        return {"update": {"id": f"u-{len(self.world.log)}", "status": "InProgress"}}

    def describe_update(self, name: str, updateId: str, nodegroupName: str) -> Any:  # noqa: N803
        status = "Successful" if updateId in self.polled else "InProgress"
        self.polled.add(updateId)
        return {"update": {"id": updateId, "status": status, "errors": []}}


OUTPUTS = {
    "clusterName": "foo",
    "nodeGroupName": "ng",
    "region": REGION,
    "helloworldNamespace": "helloworld",
    "helloworldWorkload": "rc/helloworld-1.0.0",
    "helloworldReplicas": 3,
}


def setup(
    cloud: Cloud, world: World | None = None, elb_type: type[FakeElb] = FakeElb, kube_type: type[FakeKube] = FakeKube
) -> tuple[FakeKube, SwapDeps, list[str], World]:
    world = world or World()
    cloud.wall = world.wall  # the ASG acts on the fake world's time
    elb = elb_type(cloud.elb, world)
    kube = kube_type(cloud, world, elb)
    kube.nodes()  # every current instance has joined, and is InService in the ELB (other groups' too)
    running = list(cloud.node_groups())
    cloud.elb.register_instances_with_load_balancer(
        LoadBalancerName=cloud.elb_name, Instances=[{"InstanceId": instance} for instance in running]
    )
    kube.registered |= set(running)
    lines: list[str] = []
    deps = SwapDeps(
        kube,
        FakeEks(cloud, world),
        FakeAutoscaling(cloud.autoscaling, kube),
        elb,
        Clock(lambda: world.now, world.sleep),
        lines.append,
        wall=world.wall,
        holder=HOLDER,
    )
    return kube, deps, lines, world


def app_pods(kube: FakeKube, instance: str) -> tuple[Pod, Pod, Pod]:
    name = node_name(instance)
    app = Pod("helloworld-1.0.0-x", "helloworld", node=name, owner_kinds=("ReplicationController",))
    proxy = Pod("kube-proxy-x", "kube-system", node=name, owner_kinds=("DaemonSet",))
    dns = Pod("coredns-x", "kube-system", node=name, owner_kinds=("ReplicaSet",))
    kube.pods_by_node[name] = [dns, proxy, app]
    return app, proxy, dns


def test_swap_node_waits_for_pods_elb_and_workload_in_order(cloud: Cloud) -> None:
    kube, deps, lines, world = setup(cloud)
    old, keep = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    kube.pdb_blocks = 2

    swap_node(OUTPUTS, old, timeout=600, deps=deps)  # by instance id

    assert world.log == [
        f"cordon {name}",
        f"label {name} {EXCLUDE}=true",
        "evict kube-system/coredns-x",  # the app was tried first, but its PDB said 429 twice
        "evict helloworld/helloworld-1.0.0-x",
        f"elb drained {old}",  # only after the draining, which DescribeLoadBalancers does not show
        f"terminate {old} decrement=False pods=kube-proxy-x",  # evicted pods gone; the DaemonSet pod stays
        "workload 3/3 ready",  # waited for, after the replacement joined
    ]
    after = cloud.instances()
    assert old not in after and keep in after and len(after) == 2
    assert cloud.sizes() == (1, 4, 2)
    assert "  skip kube-system/kube-proxy-x: DaemonSet pod (runs on every node)" in lines
    assert any("PodDisruptionBudget (429)" in ln for ln in lines)
    assert any("Instance deregistration currently in progress." in ln for ln in lines)
    assert any(ln.startswith("  waiting for replacement node: 1/2 Ready") for ln in lines)
    assert lines[-1] == f"done: {name} replaced"
    assert world.now >= POD_LEAVES_AFTER


def test_not_ready_node_is_swapped_although_its_pods_never_finish_terminating(cloud: Cloud) -> None:
    # The kubelet is unreachable: evicted pods keep their deletionTimestamp forever.
    kube, deps, lines, world = setup(cloud)
    old, _ = cloud.instances()
    app_pods(kube, old)
    kube.not_ready.add(old)

    swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps)

    assert f"terminate {old} decrement=False pods=coredns-x, kube-proxy-x, helloworld-1.0.0-x" in world.log
    assert lines[-1] == f"done: {node_name(old)} replaced"


@pytest.mark.parametrize(
    ("pod", "reason"),
    [
        (Pod("debug", "default"), "no controller recreates it"),
        (Pod("cache-0", "helloworld", owner_kinds=("StatefulSet",), local_storage=True), "its emptyDir data"),
    ],
)
def test_unmanaged_or_emptydir_pods_refuse_unless_forced(cloud: Cloud, pod: Pod, reason: str) -> None:
    kube, deps, lines, world = setup(cloud)
    old, _ = cloud.instances()
    name = node_name(old)
    kube.pods_by_node[name] = [replace(pod, node=name)]
    with pytest.raises(OpsError, match=f"refusing to evict {pod.ref} \\({reason}.*--force"):
        swap_node(OUTPUTS, name, timeout=600, deps=deps)
    assert world.log == [] and old in cloud.instances()  # nothing touched

    swap_node(OUTPUTS, name, timeout=600, deps=deps, force=True)
    assert f"evict {pod.ref}" in world.log
    assert lines[-1] == f"done: {name} replaced"


def test_last_node_grows_the_group_first_and_restores_its_sizes(lone_cloud: Cloud) -> None:
    cloud = lone_cloud
    kube, deps, lines, world = setup(cloud)
    (old,) = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)

    swap_node(OUTPUTS, name, timeout=600, deps=deps)

    (new,) = cloud.instances()
    assert new != old
    # Grown, and the new node serving through the ELB (health checks passed), before the old one leaves it.
    assert world.log[:3] == ["resize min=1 max=2 desired=2", f"elb in service {new}", f"cordon {name}"]
    assert f"terminate {old} decrement=True pods=kube-proxy-x" in world.log  # the surge node replaces it
    assert world.log[-2:] == ["workload 3/3 ready", "resize min=1 max=1 desired=1"]
    assert cloud.sizes() == (1, 1, 1)
    assert lines[-1] == f"done: {name} replaced"


def test_an_instance_ec2_has_not_delivered_is_neither_in_the_group_nor_a_node(lone_cloud: Cloud) -> None:
    """The fakes' launch after a resize: until EC2 names the instance (launch_takes), DescribeAutoScalingGroups
    leaves it out and no node joins for it, as on AWS; the tests of the wait for the replacement rest on this."""
    cloud = lone_cloud
    kube, deps, _, world = setup(cloud)
    (old,) = cloud.instances()

    def group_nodes() -> list[str]:
        return sorted(n.name for n in kube.nodes() if n.labels[NODEGROUP_LABEL] == "ng")

    deps.eks.update_nodegroup_config("foo", "ng", {"minSize": 1, "maxSize": 2, "desiredSize": 2})
    listed = deps.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[cloud.asg])
    assert [i["InstanceId"] for i in listed["AutoScalingGroups"][0]["Instances"]] == [old]
    assert group_nodes() == group_nodes() == [node_name(old)]
    world.sleep(20)  # launch_takes
    (new,) = set(cloud.instances()) - {old}
    assert group_nodes() == [node_name(old)]  # the kubelet registers a poll after the instance exists
    assert group_nodes() == sorted([node_name(old), node_name(new)])


def undone_then_surge_removed(old: str, new: str) -> list[str]:
    """What the fakes log from the undo on when a lone node's swap stops after the group grew to two: the old node
    serves again, then the instance the resize launched leaves the ELB, is terminated with the desired capacity
    decremented, and the sizes go back to min 1, max 1, desired 1."""
    name = node_name(old)
    return [
        f"uncordon {name}",
        f"unlabel {name} {EXCLUDE}",
        f"elb in service {old}",
        f"cordon {node_name(new)}",
        f"label {node_name(new)} {EXCLUDE}=true",
        f"elb drained {new}",
        f"terminate {new} decrement=True pods=nothing",
        "resize min=1 max=1 desired=1",
    ]


def find_the_launch_by_hand(asg: str) -> list[str]:
    """The commands a lone node's restore prints when it could not tell which instance the resize (from desired 1 to
    2) launched: how to find it in the ASG's record, then the sizes back."""
    return [
        '  first find the instance the resize launched: Description "Launching a new EC2 instance: i-...", '
        'StatusCode Successful, Cause with "changing the desired capacity from 1 to 2" or, after that one Failed, the '
        'next whose Cause is only "At ... an instance was started in response to a difference between desired and '
        'actual capacity, increasing the capacity from 1 to 2." (not a replacement); wait while one is in progress:',
        f"  aws autoscaling describe-scaling-activities --auto-scaling-group-name {asg} --no-cli-pager --query "
        "\"Activities[?contains(Cause, 'changing the desired capacity from 1 to 2') || contains(Cause, 'increasing "
        "the capacity from 1 to 2')].[ActivityId,StartTime,StatusCode,Description,Cause]\"",
        "  its node is the one whose providerID ends with that instance id; drain it and terminate it with "
        "--should-decrement-desired-capacity:",
        "  kubectl get nodes -o custom-columns=NODE:.metadata.name,PROVIDER_ID:.spec.providerID",
        "  aws eks update-nodegroup-config --cluster-name foo --nodegroup-name ng "
        "--scaling-config minSize=1,maxSize=1,desiredSize=1",
    ]


def test_failure_after_growing_undoes_the_cordon_then_removes_only_the_node_it_added(lone_cloud: Cloud) -> None:
    cloud = lone_cloud
    kube, deps, lines, world = setup(cloud)
    (old,) = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    kube.pdb_blocks = 10**6  # a PodDisruptionBudget that never allows the eviction

    with pytest.raises(OpsError, match=r"a PodDisruptionBudget still blocks evicting helloworld/helloworld-1\.0\.0-x"):
        swap_node(OUTPUTS, name, timeout=120, deps=deps)

    (new,) = set(world.log[1].split()[-1:])  # "elb in service NEW": the instance the group grew by
    # The old node serves again; then the run's own node is taken out of the ELB, drained and terminated with the
    # desired capacity decremented: no scale-in gets to pick the old node, undrained.
    assert world.log[5:] == undone_then_surge_removed(old, new)
    assert cloud.instances() == [old] and cloud.sizes() == (1, 1, 1)
    assert f"stopped: {name}: uncordoned it and removed its label {EXCLUDE} (it rejoins the ELB)" in lines
    assert f"remove {new}, the instance this run added (a scale-in could pick the old node instead)" in lines
    assert "restore node group ng to min 1, max 1, desired 1" in lines
    assert not any("kubectl" in ln for ln in lines)


def test_failed_undo_prints_the_undo_commands_and_keeps_the_added_node_serving(lone_cloud: Cloud) -> None:
    cloud = lone_cloud
    kube, deps, lines, world = setup(cloud)
    (old,) = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    kube.pdb_blocks = 10**6
    kube.undo_fails = True  # e.g. the API server unreachable

    with pytest.raises(OpsError, match="PodDisruptionBudget"):
        swap_node(OUTPUTS, name, timeout=120, deps=deps)

    undo = lines.index(f"stopped with {name} cordoned and excluded from load balancers (HTTP 403 Forbidden); to undo:")
    assert lines[undo + 1 : undo + 3] == [
        f"  kubectl uncordon {name}",
        f"  kubectl label node {name} node.kubernetes.io/exclude-from-external-load-balancers-",
    ]
    # The old node is still out of the ELB: removing the added one would leave it nothing to send requests to.
    (new,) = set(cloud.instances()) - {old}
    assert not any(entry.startswith(("cordon ip-i", "terminate")) and new in entry for entry in world.log)
    assert cloud.sizes() == (1, 2, 2)
    failed = lines.index(
        "could not restore node group ng to min 1, max 1, desired 1 (timed out after 120s waiting for another "
        f"node of the group InService in ELB {cloud.elb_name}: 0 other node(s) of the group InService:  (--timeout "
        "allows a longer wait)); run:"
    )
    assert lines[failed + 1 :] == [
        f"  kubectl label node {node_name(new)} {EXCLUDE}=true",
        f"  kubectl drain {node_name(new)} --ignore-daemonsets --delete-emptydir-data",
        f"  aws autoscaling terminate-instance-in-auto-scaling-group --instance-id {new} "
        "--should-decrement-desired-capacity --no-cli-pager",
        "  aws eks update-nodegroup-config --cluster-name foo --nodegroup-name ng "
        "--scaling-config minSize=1,maxSize=1,desiredSize=1",
    ]


def test_no_other_node_in_service_in_the_elb_stops_before_the_cordon(cloud: Cloud) -> None:
    kube, deps, _, world = setup(cloud)
    old, keep = cloud.instances()
    kube.elb.registering[keep] = 10**6  # the other node's health checks keep failing

    with pytest.raises(OpsError, match="timed out after 60s waiting for another node of the group InService in ELB"):
        swap_node(OUTPUTS, node_name(old), timeout=60, deps=deps)
    assert world.log == []  # nothing cordoned or labelled: the old node keeps serving


def test_elb_that_never_finishes_draining_stops_before_the_terminate(cloud: Cloud) -> None:
    kube, deps, _, world = setup(cloud)
    old, _ = cloud.instances()
    kube.elb.drain_polls = 10**6  # connection draining that outlasts the timeout

    with pytest.raises(OpsError, match=f"timed out after 60s waiting for ELB .* to take {old} out of service"):
        swap_node(OUTPUTS, node_name(old), timeout=60, deps=deps)
    assert not any(entry.startswith("terminate") for entry in world.log)
    assert world.log[-2:] == [f"uncordon {node_name(old)}", f"unlabel {node_name(old)} {EXCLUDE}"]
    assert old in cloud.instances()


def test_node_outside_the_node_group_is_refused_before_anything_changes(cloud: Cloud) -> None:
    _, deps, _, world = setup(cloud)
    (foreign,) = cloud.instances(cloud.other_asg)
    with pytest.raises(OpsError, match=f"belongs to ASG '{cloud.other_asg}'"):
        swap_node(OUTPUTS, node_name(foreign), timeout=600, deps=deps)
    assert world.log == []
    with pytest.raises(OpsError, match="node 'ghost' not found"):
        swap_node(OUTPUTS, "ghost", timeout=600, deps=deps)


def test_replacement_that_never_joins_times_out(cloud: Cloud) -> None:
    kube, deps, _, _ = setup(cloud)
    kube.join_new = False
    old = cloud.instances()[0]
    with pytest.raises(OpsError, match=r"timed out after 60s waiting for replacement node: 1/2 Ready"):
        swap_node(OUTPUTS, node_name(old), timeout=60, deps=deps)


def wire_cli(monkeypatch: pytest.MonkeyPatch, kube: FakeKube, deps: SwapDeps) -> None:
    """`python -m infra.ops swap-node` on the fakes (and moto's STS for the credential check)."""
    monkeypatch.setattr(stack, "read_outputs", lambda name: OUTPUTS)
    monkeypatch.setattr(live, "cluster", lambda out: kube)
    clients = {"eks": deps.eks, "autoscaling": deps.autoscaling, "elb": deps.elb, "sts": aws.client("sts", REGION)}
    monkeypatch.setattr(live, "aws_client", lambda service, out: clients[service])
    monkeypatch.setattr(live, "REAL_CLOCK", deps.clock)
    # The wall clock too: the ASG's activity times are the fake world's.
    monkeypatch.setattr(command, "SwapDeps", functools.partial(SwapDeps, wall=deps.wall))


def test_swap_node_verb_passes_force_and_reports_errors_in_one_line(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kube, deps, _, _ = setup(cloud)
    old, _ = cloud.instances()
    kube.pods_by_node[node_name(old)] = [Pod("debug", "default", node=node_name(old))]
    wire_cli(monkeypatch, kube, deps)

    assert cli.main(["swap-node", "foo", old]) == 1
    err = capsys.readouterr().err
    assert (
        err == "error: refusing to evict default/debug (no controller recreates it); run again with --force "
        "to evict them anyway (like kubectl drain --force)\n"
    )
    assert cli.main(["swap-node", "foo", old, "--force"]) == 0
    assert f"done: {node_name(old)} replaced" in capsys.readouterr().out

    monkeypatch.setattr(stack, "read_outputs", lambda name: {**OUTPUTS, "helloworldWorkload": "job/x"})
    assert cli.main(["swap-node", "foo", "n1"]) == 1
    assert capsys.readouterr().err == "error: workload 'job/x' should look like rc/NAME or deployment/NAME\n"


@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(signal.SIGTERM, id="sigterm"),  # `timeout`, a CI job cancelled
        pytest.param(signal.SIGHUP, id="sighup"),  # the SSH session dropped
        pytest.param(signal.SIGINT, id="ctrl-c"),
    ],
)
def test_signal_during_swap_node_undoes_the_cordon_restores_sizes_and_releases_the_lock(
    lone_cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sig: signal.Signals
) -> None:
    cloud = lone_cloud
    kube, deps, _, world = setup(cloud)
    (old,) = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    wire_cli(monkeypatch, kube, deps)
    ignored: list[int] = []

    def outer(signum: int, frame: object) -> None:  # the caller's handler, to be given back afterwards
        ignored.append(signum)

    saved = signal.getsignal(sig)
    if sig != signal.SIGINT:  # Ctrl-C is Python's own KeyboardInterrupt
        signal.signal(sig, outer)

    def evict_then_signal(pod: Pod) -> str:  # delivered to this process, like the real signal mid-drain
        os.kill(os.getpid(), sig)
        return "evicted"

    monkeypatch.setattr(kube, "evict", evict_then_signal)
    try:
        assert cli.main(["swap-node", "foo", name]) == 130
        handler_after = signal.getsignal(sig)
    finally:
        signal.signal(sig, saved)

    assert ignored == [] and handler_after is (saved if sig == signal.SIGINT else outer)
    (new,) = set(world.log[1].split()[-1:])  # "elb in service NEW": the instance the group grew by
    undone = world.log.index(f"uncordon {name}")
    assert world.log[undone + 1] == f"unlabel {name} {EXCLUDE}"
    assert world.log[-2:] == [f"terminate {new} decrement=True pods=nothing", "resize min=1 max=1 desired=1"]
    assert cloud.instances() == [old] and cloud.sizes() == (1, 1, 1)
    assert kube.leases == {}  # the next run is not refused
    out, err = capsys.readouterr()
    assert err == "error: interrupted\n"
    assert re.search(
        r"EKS update u-\d+ started, not waited for \(interrupted\); check with: aws eks describe-update", out
    )
