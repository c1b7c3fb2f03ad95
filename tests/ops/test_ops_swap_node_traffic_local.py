"""swap-node under the Service's externalTrafficPolicy Local: the ELB never runs out of InService instances.

Same fakes as test_ops_swap_node.py, with the ELB's health check on kube-proxy's health-check node port: a
registered node is InService only while it holds a ready helloworld pod that is not terminating, from two passing
checks after the pod became ready (infra/helloworld.py: 5 s apart). The replication controller recreates an
evicted pod on the schedulable node of the group with the fewest (the topology spread's preference; the other
group's nodes are tainted for other work), ready a few seconds later. Every change the fakes log and every tick
of the fake clock records the set of instances the ELB sends new requests to, so a test sees the whole run.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from kubernetes import client as k8s
from test_ops_swap_node import (
    EXCLUDE,
    OUTPUTS,
    Cloud,
    FakeElb,
    FakeKube,
    World,
    cloud,
    lone_cloud,
    moto_account,
    node_name,
    setup,
)

from infra.ops.clients.kube import Kube
from infra.ops.clients.kube_model import NODEGROUP_LABEL, Pod
from infra.ops.errors import OpsError
from infra.ops.swap_node.steps import SwapDeps
from infra.ops.swap_node.swap import swap_node

__all__ = ["cloud", "lone_cloud", "moto_account"]  # fixtures: pytest finds them here by name

POD_READY_AFTER = 5.0  # a recreated pod: scheduled, started, its readiness probe passed
HEALTHY_AFTER = 10.0  # then two passing ELB health checks, 5 s apart
APP = "helloworld-1.0.0"  # OUTPUTS' workload rc/helloworld-1.0.0, in namespace helloworld
UNHEALTHY = "Instance has failed at least the UnhealthyThreshold number of health checks consecutively."


class WatchedLog(list[str]):
    """World.log that calls `watch` after each entry (every change a fake makes is logged)."""

    watch: Callable[[], None] = staticmethod(lambda: None)

    def append(self, entry: str) -> None:
        super().append(entry)
        self.watch()


@dataclass
class WatchedWorld(World):
    """The fake clock, also watched before and after each sleep."""

    log: list[str] = field(default_factory=WatchedLog)

    def sleep(self, seconds: float) -> None:
        assert isinstance(self.log, WatchedLog)
        self.log.watch()
        super().sleep(seconds)
        self.log.watch()


@dataclass
class LocalKube(FakeKube):
    traffic_policy: str = "Local"
    ready_at: dict[str, float] = field(default_factory=dict)  # pod ref -> when it turned ready (absent: long ago)
    never_ready: bool = False  # recreated pods never pass their readiness probe (a bad image, no room)
    recreated: int = 0

    def pods(self, *, namespace: str | None = None, node: str | None = None) -> list[Pod]:
        now = self.world.now
        return [
            replace(p, ready=p.ready and self.ready_at.get(p.ref, -math.inf) <= now)
            for p in super().pods(namespace=namespace, node=node)
        ]

    def evict(self, pod: Pod) -> str:
        outcome = super().evict(pod)
        if outcome == "evicted" and pod.name.startswith(f"{APP}-") and not pod.deleting:  # drain evicts it again
            self._recreate(pod)
        return outcome

    def _recreate(self, evicted: Pod) -> None:
        """The RC's new pod, on the group's schedulable node with the fewest app pods."""
        spots = [n.name for n in self.nodes() if n.labels[NODEGROUP_LABEL] == "ng" and n.ready and not n.unschedulable]
        assert spots, "nowhere to schedule"
        where = min(spots, key=lambda n: (len(self.app_pods(n)), n))
        self.recreated += 1
        pod = replace(evicted, name=f"{APP}-r{self.recreated}", node=where, deleting=False)
        self.ready_at[pod.ref] = math.inf if self.never_ready else self.world.now + POD_READY_AFTER
        self.pods_by_node.setdefault(where, []).append(pod)

    def app_pods(self, node: str) -> list[Pod]:
        return [p for p in self.pods(node=node) if p.name.startswith(f"{APP}-") and not p.deleting]

    def serves(self, instance: str) -> bool:
        """kube-proxy's health-check node port answers 200, and has for two checks."""
        ready = [self.ready_at.get(p.ref, -math.inf) for p in self.app_pods(node_name(instance)) if p.ready]
        return any(at + HEALTHY_AFTER <= self.world.now for at in ready)


@dataclass
class LocalElb(FakeElb):
    kube: LocalKube | None = None

    def describe_instance_health(self, LoadBalancerName: str, Instances: list[dict[str, str]] = []) -> dict[str, Any]:  # noqa: B006, N803
        answer = super().describe_instance_health(LoadBalancerName=LoadBalancerName, Instances=Instances)
        assert self.kube is not None
        for state in answer["InstanceStates"]:
            fine = state["State"] == "InService" and "deregistration" not in state["Description"]
            if fine and not self.kube.serves(state["InstanceId"]):
                state.update(State="OutOfService", ReasonCode="Instance", Description=UNHEALTHY)
        return answer

    def in_service_now(self, name: str) -> frozenset[str]:
        """What the ELB sends new requests to: registered (not draining), health checks passed, a pod serving."""
        assert self.kube is not None
        (lb,) = self.moto.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
        registered = {i["InstanceId"] for i in lb["Instances"]}
        return frozenset(i for i in registered if i not in self.registering and self.kube.serves(i))


Seen = list[tuple[int, frozenset[str]]]  # (log entries so far, the ELB's InService set), at every change


def local_setup(cloud: Cloud) -> tuple[LocalKube, SwapDeps, list[str], World, Seen]:
    """setup() with the Local fakes; the last item fills with what the ELB sends requests to, at every change."""
    world = WatchedWorld()
    kube, deps, lines, _ = setup(cloud, world, elb_type=LocalElb, kube_type=LocalKube)
    assert isinstance(kube, LocalKube) and isinstance(deps.elb, LocalElb)
    deps.elb.kube = kube
    seen: Seen = []
    elb = deps.elb
    assert isinstance(world.log, WatchedLog)
    world.log.watch = lambda: seen.append((len(world.log), elb.in_service_now(cloud.elb_name)))
    return kube, deps, lines, world, seen


def assert_never_empty(seen: Seen) -> None:
    assert len(seen) > 10
    empty = [entries for entries, serving in seen if not serving]
    assert not empty, f"the ELB had no InService instance after log entry {empty[0]}"


def put_pods(kube: LocalKube, instance: str, apps: int) -> list[Pod]:
    """`apps` ready app pods on the node, with the DaemonSet and DNS pods of test_ops_swap_node.app_pods."""
    name = node_name(instance)
    rc = ("ReplicationController",)
    pods = [Pod(f"{APP}-{letter}", "helloworld", node=name, owner_kinds=rc) for letter in "abc"[:apps]]
    kube.pods_by_node[name] = [
        Pod("coredns-x", "kube-system", node=name, owner_kinds=("ReplicaSet",)),
        Pod("kube-proxy-x", "kube-system", node=name, owner_kinds=("DaemonSet",)),
        *pods,
    ]
    return pods


def test_all_pods_on_the_target_move_one_first_and_the_elb_always_has_an_instance(cloud: Cloud) -> None:
    kube, deps, lines, world, seen = local_setup(cloud)
    old, keep = cloud.instances()
    name = node_name(old)
    put_pods(kube, old, 3)
    kube.pdb_blocks = 1  # the PodDisruptionBudget says 429 once to the first eviction

    swap_node(OUTPUTS, name, timeout=600, deps=deps)

    assert world.log[:3] == [
        f"cordon {name}",  # unschedulable, still InService: its pods serve
        f"evict helloworld/{APP}-a",  # one pod first, recreated on the other node
        f"label {name} {EXCLUDE}=true",  # only once that node is InService
    ]
    assert {f"evict helloworld/{APP}-b", f"evict helloworld/{APP}-c"} < set(world.log[3:])  # then the drain
    assert f"terminate {old} decrement=False pods=kube-proxy-x" in world.log
    assert lines[-1] == f"done: {name} replaced"
    assert (
        f"  no other node of the group serves in ELB {cloud.elb_name} (externalTrafficPolicy Local: only a node with "
        f"a ready pod of rc/{APP} is InService); moving helloworld/{APP}-a first, {name} serving until then"
    ) in lines
    assert any("blocked by a PodDisruptionBudget (429)" in ln for ln in lines)
    label = world.log.index(f"label {name} {EXCLUDE}=true")
    assert any(keep in serving for entries, serving in seen if entries <= label)  # it served before the label
    assert_never_empty(seen)


def test_one_node_group_under_local_grows_moves_one_pod_and_keeps_an_instance(lone_cloud: Cloud) -> None:
    kube, deps, lines, world, seen = local_setup(lone_cloud)
    (old,) = lone_cloud.instances()
    name = node_name(old)
    put_pods(kube, old, 3)

    swap_node(OUTPUTS, name, timeout=600, deps=deps)

    grown = world.log.index("resize min=1 max=2 desired=2")
    assert world.log[grown + 1 : grown + 3] == [f"cordon {name}", f"evict helloworld/{APP}-a"]
    assert lines[-1] == f"done: {name} replaced" and lone_cloud.sizes() == (1, 1, 1)
    assert_never_empty(seen)


def test_pods_already_spread_change_nothing_in_the_order(cloud: Cloud) -> None:
    kube, deps, lines, world, seen = local_setup(cloud)
    old, keep = cloud.instances()
    name = node_name(old)
    put_pods(kube, old, 1)
    put_pods(kube, keep, 2)

    swap_node(OUTPUTS, name, timeout=600, deps=deps)

    # As under Cluster: the other node is InService before anything changes, then cordon and label together.
    waited = lines.index(
        f"  another node of the group InService in ELB {cloud.elb_name}: 1 other node(s) of the group InService: {keep}"
    )
    assert waited < lines.index("1/6 cordon and exclude from external load balancers")
    assert world.log[:3] == [f"cordon {name}", f"label {name} {EXCLUDE}=true", "evict helloworld/helloworld-1.0.0-a"]
    assert not any("moving" in ln for ln in lines)
    assert lines[-1] == f"done: {name} replaced"
    assert_never_empty(seen)


@pytest.mark.parametrize(
    ("quarantined", "undo", "stopped"),
    [
        pytest.param(False, ["uncordon {name}"], "uncordoned it", id="cordoned-by-the-run"),
        pytest.param(True, [], "it was cordoned before this run and stays so", id="cordoned-before"),
    ],
)
def test_moved_pod_never_serving_times_out_and_undoes_only_the_cordon(
    cloud: Cloud, quarantined: bool, undo: list[str], stopped: str
) -> None:
    kube, deps, lines, world, seen = local_setup(cloud)
    old, _ = cloud.instances()
    name = node_name(old)
    put_pods(kube, old, 3)
    kube.never_ready = True  # the recreated pod never gets ready: the other node never serves
    if quarantined:
        kube.cordoned.add(name)

    with pytest.raises(OpsError) as raised:
        swap_node(OUTPUTS, name, timeout=60, deps=deps)

    assert str(raised.value) == (
        f"timed out after 60s waiting for another node of the group InService in ELB {cloud.elb_name}: "
        "0 other node(s) of the group InService:  (--timeout allows a longer wait)"
    )
    changes = [e for e in world.log if e.split()[0] in ("cordon", "label", "uncordon", "unlabel")]
    assert changes == [f"cordon {name}"] * (not quarantined) + [step.format(name=name) for step in undo]
    assert f"evict helloworld/{APP}-a" in world.log  # its replacement is the RC's: nothing to undo there
    assert (name in kube.cordoned, name in kube.labelled) == (quarantined, False)
    assert lines[-1] == f"stopped: {name}: {stopped}"
    assert_never_empty(seen)
    assert kube.leases == {}


def test_the_only_ready_pod_on_the_target_is_refused_before_anything_changes(cloud: Cloud) -> None:
    kube, deps, _, world, _ = local_setup(cloud)
    old, _ = cloud.instances()
    name = node_name(old)
    only, starting = put_pods(kube, old, 2)
    kube.ready_at[starting.ref] = math.inf  # e.g. crash-looping: the node serves through one pod

    with pytest.raises(OpsError) as raised:
        swap_node(OUTPUTS, name, timeout=600, deps=deps)

    assert str(raised.value) == (
        f"{only.ref} on {name} is the only ready pod of rc/{APP}, and under externalTrafficPolicy Local only a node "
        f"holding one is InService in ELB {cloud.elb_name}: moving it would leave the ELB no instance until it is "
        "ready elsewhere; get the other pods ready (kubectl get pods -n helloworld -o wide), then run swap-node again"
    )
    assert world.log == [] and kube.leases == {}


class ServiceApi:
    def __init__(self, policy: str | None) -> None:
        self.policy = policy

    def read_namespaced_service(self, name: str, namespace: str, **options: Any) -> k8s.V1Service:
        return k8s.V1Service(spec=k8s.V1ServiceSpec(external_traffic_policy=self.policy))


@pytest.mark.parametrize(("policy", "read"), [("Local", "Local"), (None, "Cluster")])
def test_traffic_policy_read_from_the_service(policy: str | None, read: str) -> None:
    kube = Kube(ServiceApi(policy), None, None)  # type: ignore[arg-type]
    assert kube.service_traffic_policy("helloworld", "helloworld") == read
