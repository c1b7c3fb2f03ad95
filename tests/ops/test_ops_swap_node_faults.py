"""swap-node through faults in the middle: a quarantined node, pods that arrive late, a second run, lost credentials.

Same fakes as test_ops_swap_node.py (moto's ASG instances are the nodes, a fake clock and wall clock).
"""

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from test_ops_swap_node import (
    EXCLUDE,
    HOLDER,
    OUTPUTS,
    START,
    Cloud,
    FakeKube,
    SwapDeps,
    app_pods,
    cloud,
    lone_cloud,
    moto_account,
    node_name,
    setup,
)

from infra.ops.errors import OpsError
from infra.ops.kube_model import Lease, Pod
from infra.ops.swap_node import swap_node

__all__ = ["cloud", "lone_cloud", "moto_account"]  # fixtures: pytest finds them here by name

LOGIN_HINT = "run `aws sso login` (SSO profiles, with AWS_PROFILE set) or `aws configure` (access keys), then retry"


@pytest.mark.parametrize(
    ("cordoned", "labelled", "undo", "stopped"),
    [
        pytest.param(True, True, [], "it was cordoned and labelled {label} before this run and stays so", id="both"),
        pytest.param(
            True,
            False,
            ["unlabel {name} {label}"],
            "removed its label {label} (it rejoins the ELB); it was cordoned before this run and stays so",
            id="cordoned",
        ),
        pytest.param(
            False,
            True,
            ["uncordon {name}"],
            "uncordoned it; it was labelled {label} before this run and stays so",
            id="labelled",
        ),
    ],
)
def test_undo_leaves_a_quarantined_node_as_the_operator_left_it(
    cloud: Cloud, cordoned: bool, labelled: bool, undo: list[str], stopped: str
) -> None:
    kube, deps, lines, world = setup(cloud)
    bad, _ = cloud.instances()
    name = node_name(bad)
    app_pods(kube, bad)
    if cordoned:  # the operator's own `kubectl cordon` and `kubectl label ...=true`, before the swap
        kube.cordoned.add(name)
    if labelled:
        kube.labelled.add(name)
    kube.pdb_blocks = 10**6  # then the swap fails: a PodDisruptionBudget never allows the eviction

    with pytest.raises(OpsError, match="PodDisruptionBudget"):
        swap_node(OUTPUTS, name, timeout=60, deps=deps)

    assert (name in kube.cordoned, name in kube.labelled) == (cordoned, labelled)  # as the operator left it
    changes = [e for e in world.log if e.split()[0] in ("cordon", "label", "uncordon", "unlabel")]
    done = [f"cordon {name}"] * (not cordoned) + [f"label {name} {EXCLUDE}=true"] * (not labelled)
    assert changes == done + [step.format(name=name, label=EXCLUDE) for step in undo]
    assert f"stopped: {name}: {stopped.format(label=EXCLUDE)}" in lines


def test_failed_undo_names_only_what_this_run_changed(cloud: Cloud) -> None:
    kube, deps, lines, _ = setup(cloud)
    bad, _ = cloud.instances()
    name = node_name(bad)
    app_pods(kube, bad)
    kube.cordoned.add(name)  # quarantined before the run: only the label is this run's
    kube.pdb_blocks = 10**6
    kube.undo_fails = True

    def unlabel_fails(node: str, key: str) -> None:
        raise OpsError("HTTP 403 Forbidden")

    kube.unlabel_node = unlabel_fails  # type: ignore[method-assign]

    with pytest.raises(OpsError, match="PodDisruptionBudget"):
        swap_node(OUTPUTS, name, timeout=60, deps=deps)

    undo = lines.index(f"stopped with {name} excluded from load balancers (HTTP 403 Forbidden); to undo:")
    assert lines[undo + 1 :] == [f"  kubectl label node {name} {EXCLUDE}-"]


def late_pod_on(kube: FakeKube, deps: SwapDeps, node: str, pod: Pod) -> None:
    """The scheduler puts `pod` on the node while the node group grows (after the check, before the cordon)."""
    resize = deps.eks.update_nodegroup_config

    def resize_then_schedule(**kwargs: Any) -> Any:
        kube.pods_by_node[node].append(pod)
        deps.eks.update_nodegroup_config = resize  # only the first resize
        return resize(**kwargs)

    deps.eks.update_nodegroup_config = resize_then_schedule


def test_pod_scheduled_after_the_check_is_evicted_too(lone_cloud: Cloud) -> None:
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    late_pod_on(kube, deps, name, Pod("helloworld-1.0.0-late", "helloworld", node=name, owner_kinds=("RC",)))

    swap_node(OUTPUTS, name, timeout=600, deps=deps)

    assert "evict helloworld/helloworld-1.0.0-late" in world.log
    assert f"terminate {old} decrement=True pods=kube-proxy-x" in world.log  # nothing but the DaemonSet pod left
    assert lines[-1] == f"done: {name} replaced"


def test_unmanaged_pod_scheduled_after_the_check_is_refused_and_the_cordon_undone(lone_cloud: Cloud) -> None:
    kube, deps, _, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    late_pod_on(kube, deps, name, Pod("debug", "default", node=name))

    with pytest.raises(OpsError, match=r"^refusing to evict default/debug \(no controller recreates it\);.*--force"):
        swap_node(OUTPUTS, name, timeout=600, deps=deps)

    assert not any(e.startswith("evict") for e in world.log)
    assert world.log[-3:] == [f"uncordon {name}", f"unlabel {name} {EXCLUDE}", "resize min=1 max=1 desired=1"]
    assert kube.leases == {}


def test_a_second_run_is_refused_naming_the_holder_and_changes_nothing(cloud: Cloud) -> None:
    kube, deps, lines, world = setup(cloud)
    first, second = cloud.instances()
    app_pods(kube, first)
    refusals: list[str] = []
    evict = kube.evict

    def second_run_meanwhile(pod: Pod) -> str:  # started on the other node while the first evicts
        if not refusals:
            world.now += 61  # the second run starts a minute into the first one's evictions
            before = list(world.log)
            other = SwapDeps(kube, deps.eks, deps.autoscaling, deps.elb, deps.clock, print, deps.wall, "dev@ci pid 7")
            with pytest.raises(OpsError) as refused:
                swap_node(OUTPUTS, node_name(second), timeout=600, deps=other)
            refusals.append(f"{refused.value} [{world.log == before}]")
        return evict(pod)

    kube.evict = second_run_meanwhile  # type: ignore[method-assign]
    world.now = 95.0  # the first run starts 95 s after START

    swap_node(OUTPUTS, node_name(first), timeout=600, deps=deps)

    (refusal,) = refusals
    assert refusal == (
        f"another swap-node is running on cluster foo: {HOLDER}, since 2026-11-27 10:01:35 UTC "
        "(1m01s ago) (Lease kube-system/infra-swap-node). If that process is gone (killed, "
        "machine lost), check that its node is uncordoned and unlabelled, then run again with --break-lock [True]"
    )
    assert lines[-1] == f"done: {node_name(first)} replaced"
    assert kube.leases == {}  # released at the end


def test_a_stale_lock_refuses_until_broken(cloud: Cloud) -> None:
    kube, deps, lines, world = setup(cloud)
    old, _ = cloud.instances()
    kube.leases["infra-swap-node"] = Lease("uid-stale", "dev@ci pid 7", START - timedelta(hours=2, minutes=5))

    with pytest.raises(OpsError, match=r"dev@ci pid 7, since 2026-11-27 07:55:00 UTC \(2h05m ago\).*--break-lock$"):
        swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps)
    assert world.log == [] and kube.leases["infra-swap-node"].uid == "uid-stale"

    swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps, break_lock=True)

    assert lines[0] == "breaking the lock held by dev@ci pid 7, since 2026-11-27 07:55:00 UTC (2h05m ago)"
    assert lines[-1] == f"done: {node_name(old)} replaced"
    assert kube.leases == {}


def test_lock_that_cannot_be_released_says_so_and_keeps_the_first_error(cloud: Cloud) -> None:
    kube, deps, lines, _ = setup(cloud)
    old, _ = cloud.instances()
    kube.pods_by_node[node_name(old)] = [Pod("debug", "default", node=node_name(old))]

    def unreachable(namespace: str, name: str, uid: str) -> bool:
        raise OpsError("Kubernetes API: connection refused")

    kube.delete_lease = unreachable  # type: ignore[method-assign]

    with pytest.raises(OpsError, match=r"^refusing to evict default/debug"):
        swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps)
    assert lines == [
        "could not release the lock Lease kube-system/infra-swap-node (Kubernetes API: connection refused); "
        "the next swap-node needs --break-lock"
    ]


def test_expired_credentials_in_a_wait_stop_it_at_once_and_undo(cloud: Cloud) -> None:
    kube, deps, lines, world = setup(cloud)
    old, _ = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    release_polls: list[float] = []
    healthy = deps.elb.describe_instance_health

    def token_expires_at_step_4(LoadBalancerName: str, Instances: list[dict[str, str]] = []) -> Any:  # noqa: B006, N803
        if not Instances:  # the check before the cordon
            return healthy(LoadBalancerName=LoadBalancerName)
        release_polls.append(world.now)
        error = {"Code": "ExpiredToken", "Message": "The security token included in the request is expired"}
        raise ClientError({"Error": error}, "DescribeInstanceHealth")

    deps.elb.describe_instance_health = token_expires_at_step_4

    with pytest.raises(OpsError) as raised:
        swap_node(OUTPUTS, name, timeout=900, deps=deps)

    assert str(raised.value) == (
        "AWS rejected the credentials (ExpiredToken) while waiting for ELB "
        f"{cloud.elb_name} to take {old} out of service: {LOGIN_HINT}"
    )
    assert len(release_polls) == 1  # one call, not 900 s of polling
    assert world.log[-2:] == [f"uncordon {name}", f"unlabel {name} {EXCLUDE}"]
    assert f"stopped: {name}: uncordoned it and removed its label {EXCLUDE} (it rejoins the ELB)" in lines
    assert kube.leases == {}
