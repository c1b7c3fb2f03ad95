"""swap-node through faults in the middle: a quarantined node, pods that arrive late, a second run, lost credentials.

Same fakes as test_ops_swap_node.py (moto's ASG instances are the nodes, a fake clock and wall clock).
"""

from collections.abc import Callable
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
    find_the_launch_by_hand,
    lone_cloud,
    moto_account,
    node_name,
    setup,
)

from infra.ops.clients.kube_model import Lease, Pod
from infra.ops.errors import OpsError
from infra.ops.swap_node.swap import swap_node

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
    undone = world.log.index(f"uncordon {name}")
    assert world.log[undone + 1] == f"unlabel {name} {EXCLUDE}"
    assert world.log[-1] == "resize min=1 max=1 desired=1" and lone_cloud.instances() == [old]
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
    first_node = node_name(first)
    assert refusal == (
        f"another swap-node is running on cluster foo: {HOLDER}, since 2026-11-27 10:01:35 UTC "
        "(1m01s ago) (Lease kube-system/infra-swap-node). If that process is gone (killed, machine lost), undo what "
        f"it may have left on {first_node} (unless you cordoned or labelled it yourself): `kubectl uncordon "
        f"{first_node}`, `kubectl label node {first_node} {EXCLUDE}-`; then run again with --break-lock [True]"
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

    assert lines[0] == (
        "breaking the lock held by dev@ci pid 7, since 2026-11-27 07:55:00 UTC (2h05m ago); "
        "if it stopped without its undo, check that its node is uncordoned and unlabelled"
    )
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


class AnswerLostError(Exception):
    """The connection dropped after AWS received the request (botocore's ConnectionClosedError, retries spent)."""


@pytest.mark.parametrize(
    ("lost", "why"),
    [
        pytest.param(AnswerLostError("Connection was closed"), "AnswerLostError: Connection was closed", id="lost"),
        pytest.param(KeyboardInterrupt(), "KeyboardInterrupt", id="ctrl-c"),
    ],
)
def test_terminate_whose_answer_is_lost_leaves_the_node_cordoned_and_says_how_to_check(
    cloud: Cloud, lost: BaseException, why: str
) -> None:
    kube, deps, lines, world = setup(cloud)
    old, _ = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    terminate = deps.autoscaling.terminate_instance_in_auto_scaling_group

    def done_then_answer_lost(**kwargs: Any) -> Any:
        terminate(**kwargs)  # AWS terminates the instance…
        raise lost  # …but the answer never arrives (or Ctrl-C comes while waiting for it)

    deps.autoscaling.terminate_instance_in_auto_scaling_group = done_then_answer_lost

    with pytest.raises(type(lost)):
        swap_node(OUTPUTS, name, timeout=600, deps=deps)

    assert not any(e.startswith(("uncordon", "unlabel")) for e in world.log)  # a terminated node is not put back
    assert name in kube.cordoned and name in kube.labelled
    assert lines[-1] == (
        f"stopped after sending the terminate of {old} ({why}); the answer was lost, so {name} stays cordoned "
        f"and excluded (it may be terminating); check with: aws autoscaling describe-auto-scaling-instances "
        f"--instance-ids {old}"
    )
    assert kube.leases == {}


def test_terminate_refused_before_it_reached_aws_is_undone(cloud: Cloud) -> None:
    kube, deps, lines, world = setup(cloud)
    old, _ = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)

    def unreachable(**kwargs: Any) -> Any:  # the request never left: the instance is still InService
        raise AnswerLostError("Could not connect to the endpoint URL")

    deps.autoscaling.terminate_instance_in_auto_scaling_group = unreachable

    with pytest.raises(AnswerLostError):
        swap_node(OUTPUTS, name, timeout=600, deps=deps)

    assert world.log[-2:] == [f"uncordon {name}", f"unlabel {name} {EXCLUDE}"]
    assert f"stopped: {name}: uncordoned it and removed its label {EXCLUDE} (it rejoins the ELB)" in lines


def interrupt_at(obj: Any, method: str, *, after: bool, when: Callable[[], bool] = lambda: True) -> None:
    """Ctrl-C in `obj.method`, before or after its real call, the first time `when()` holds."""
    real = getattr(obj, method)
    fired: list[bool] = []

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        hit = not fired and when()
        if hit and not after:
            fired.append(True)
            raise KeyboardInterrupt
        result = real(*args, **kwargs)
        if hit:
            fired.append(True)
            raise KeyboardInterrupt
        return result

    setattr(obj, method, interrupted)


@pytest.mark.parametrize(
    ("method", "stopped"),
    [
        pytest.param("nodes", "not touched", id="reading-the-node"),  # step 1's read returned; nothing changed yet
        pytest.param("cordon", "uncordoned it", id="after-the-cordon"),  # cordoned; the label never sent
    ],
)
def test_interrupt_in_step_1_reports_only_what_the_run_did(cloud: Cloud, method: str, stopped: str) -> None:
    kube, deps, lines, _ = setup(cloud)
    old, _ = cloud.instances()
    name = node_name(old)
    app_pods(kube, old)
    interrupt_at(kube, method, after=True, when=lambda: bool(lines) and lines[-1].startswith("1/6"))

    with pytest.raises(KeyboardInterrupt):
        swap_node(OUTPUTS, name, timeout=600, deps=deps)

    assert lines[-1] == f"stopped: {name}: {stopped}"
    assert name not in kube.cordoned and name not in kube.labelled


def test_second_interrupt_during_the_size_restore_prints_the_command(lone_cloud: Cloud) -> None:
    kube, deps, lines, _ = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    interrupt_at(kube, "evict", after=False)  # the first Ctrl-C, mid-drain
    describes = deps.eks.describe_nodegroup
    calls: list[str] = []

    def second_ctrl_c_in_the_restore(**kwargs: Any) -> Any:
        calls.append("describe")
        if len(calls) == 2:  # the first is the check before anything changes; the second, the restore's
            raise KeyboardInterrupt
        return describes(**kwargs)

    deps.eks.describe_nodegroup = second_ctrl_c_in_the_restore

    with pytest.raises(KeyboardInterrupt):
        swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps)

    # Stopped before it read which instance the resize launched: it says where the ASG records that.
    assert lines[-6:] == [
        "could not restore node group ng to min 1, max 1, desired 1 (KeyboardInterrupt); run:",
        *find_the_launch_by_hand(lone_cloud.asg),
    ]
    assert lone_cloud.sizes() == (1, 2, 2) and kube.leases == {}


def test_the_lock_notes_the_node_and_the_sizes_it_grew_from(lone_cloud: Cloud) -> None:
    kube, deps, _, _ = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    seen: list[dict[str, str]] = []
    evict = kube.evict

    def note_while_evicting(pod: Pod) -> str:
        seen.append(dict(kube.lease_notes["infra-swap-node"]))
        return evict(pod)

    kube.evict = note_while_evicting  # type: ignore[method-assign]

    swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps)

    assert seen[0] == {
        "infra.ops/node": node_name(old),
        "infra.ops/original-sizes": "--scaling-config minSize=1,maxSize=1,desiredSize=1",
    }


GROWN_BY_A_DEAD_RUN = {
    "infra.ops/node": "ip-i-0dead.us-west-2.compute.internal",
    "infra.ops/original-sizes": "--scaling-config minSize=1,maxSize=1,desiredSize=1",
}
DEAD_RUN_UNDO = (
    "undo what it may have left on ip-i-0dead.us-west-2.compute.internal (unless you cordoned or labelled it "
    "yourself): `kubectl uncordon ip-i-0dead.us-west-2.compute.internal`, `kubectl label node "
    f"ip-i-0dead.us-west-2.compute.internal {EXCLUDE}-`; it grew the node group: `aws eks update-nodegroup-config "
    "--cluster-name foo --nodegroup-name ng --scaling-config minSize=1,maxSize=1,desiredSize=1`"
)


def test_a_stale_lock_names_its_node_and_sizes_and_a_grown_group_is_not_taken_as_original(cloud: Cloud) -> None:
    kube, deps, _, world = setup(cloud)  # the group is at min 1, max 4, desired 2: grown by the dead run
    old, _ = cloud.instances()
    kube.leases["infra-swap-node"] = Lease("uid-stale", "dev@ci pid 7", START - timedelta(minutes=5))
    kube.lease_notes["infra-swap-node"] = dict(GROWN_BY_A_DEAD_RUN)

    with pytest.raises(OpsError) as refused:
        swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps)
    assert str(refused.value) == (
        "another swap-node is running on cluster foo: dev@ci pid 7, since 2026-11-27 09:55:00 UTC (5m00s ago) "
        f"(Lease kube-system/infra-swap-node). If that process is gone (killed, machine lost), {DEAD_RUN_UNDO}; "
        "then run again with --break-lock"
    )

    with pytest.raises(OpsError) as refused:
        swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps, break_lock=True)
    assert str(refused.value) == (
        "node group ng is at min 1, max 4, desired 2, not at the sizes the broken run grew it from "
        f"(--scaling-config minSize=1,maxSize=1,desiredSize=1); {DEAD_RUN_UNDO}; then run swap-node again"
    )
    assert world.log == [] and kube.leases == {}  # nothing changed; the stale lock is gone, ours released
