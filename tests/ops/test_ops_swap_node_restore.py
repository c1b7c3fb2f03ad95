"""swap-node's restore after growing the node group: it removes the instance the resize launched, as the ASG's
scaling activities record it, and nothing else that launched meanwhile; what it cannot identify it does not guess.

Same fakes as test_ops_swap_node.py: the ASG's activities are written in its words (Description "Launching a new
EC2 instance: i-...", a Cause naming the desired-capacity change), paged as DescribeScalingActivities pages them.
"""

from datetime import timedelta
from typing import Any

import pytest
from test_ops_swap_node import (
    OUTPUTS,
    Cloud,
    app_pods,
    cloud,
    find_the_launch_by_hand,
    lone_cloud,
    moto_account,
    node_name,
    setup,
)

from infra.ops.clients.kube_model import Pod
from infra.ops.errors import OpsError
from infra.ops.swap_node.swap import swap_node

__all__ = ["cloud", "lone_cloud", "moto_account"]  # fixtures: pytest finds them here by name

NO_CAPACITY = (
    "We currently do not have sufficient t3.medium capacity in the Availability Zone you requested (us-west-2a). "
    "Launching EC2 instance failed."
)
GROWN = "min 1, max 2, desired 2"
RESTORE = "resize min=1 max=1 desired=1"


def test_a_node_repair_replacement_launched_during_the_run_is_kept(cloud: Cloud) -> None:
    # Two nodes, the other NotReady: the group grows. Mid-drain EKS node repair replaces the NotReady instance
    # (terminated in its ASG, desired kept, so the ASG launches another). Then the swap fails: only the instance the
    # resize launched goes; the repair's replacement, also new since the resize, stays.
    kube, deps, lines, world = setup(cloud)
    old, broken = cloud.instances()
    app_pods(kube, old)
    kube.not_ready.add(broken)
    kube.pdb_blocks = 10**6  # then a PodDisruptionBudget never allows the eviction
    evict = kube.evict
    repaired: list[str] = []

    def node_repair_meanwhile(pod: Pod) -> str:
        if not repaired:
            repaired.append(broken)
            deps.autoscaling.terminate_instance_in_auto_scaling_group(
                InstanceId=broken, ShouldDecrementDesiredCapacity=False
            )
        return evict(pod)

    kube.evict = node_repair_meanwhile  # type: ignore[method-assign]

    with pytest.raises(OpsError, match="PodDisruptionBudget"):
        swap_node(OUTPUTS, node_name(old), timeout=120, deps=deps)

    assert world.log[0] == "resize min=1 max=4 desired=3"
    (surge,) = launched(cloud, "2 to 3")  # the ASG's record of the resize's launch
    (replacement,) = set(cloud.instances()) - {old, surge, broken}
    assert [e for e in world.log if e.startswith("terminate")] == [
        f"terminate {broken} decrement=False pods=nothing",  # node repair's
        f"terminate {surge} decrement=True pods=nothing",  # the restore's: only the surge instance
    ]
    assert sorted(cloud.instances()) == sorted([old, replacement]) and cloud.sizes() == (1, 4, 2)
    assert f"remove {surge}, the instance this run added (a scale-in could pick the old node instead)" in lines


def launched(cloud: Cloud, change: str) -> list[str]:
    """The instances the node group's ASG records as launched for a desired-capacity change ("from 1 to 2")."""
    return [
        a["Description"].removeprefix("Launching a new EC2 instance: ")
        for a in cloud.activities[cloud.asg]
        if a["Description"].startswith("Launching a new EC2 instance: ")
        and f"changing the desired capacity from {change}" in a["Cause"]
    ]


def test_a_launch_that_failed_is_not_guessed_and_the_sizes_go_back_once_no_retry_comes(lone_cloud: Cloud) -> None:
    # EC2 has no capacity: the resize's launch fails (StatusCode Failed), no new node comes. The ASG retries a failed
    # launch, so the restore waits for a minute with no new launch before it concludes none will come; the group is
    # at its original count, so the sizes go back with nothing terminated: no scale-in has an instance to pick.
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    lone_cloud.launch_fails = [NO_CAPACITY]
    lone_cloud.retry_after = timedelta(days=1)  # the ASG gave up for now

    with pytest.raises(OpsError, match="timed out after 120s waiting for another Ready node"):
        swap_node(OUTPUTS, node_name(old), timeout=120, deps=deps)

    assert world.log == ["resize min=1 max=2 desired=2", RESTORE]  # no terminate, no cordon
    assert lone_cloud.instances() == [old] and lone_cloud.sizes() == (1, 1, 1)
    (nothing,) = [ln for ln in lines if ln.startswith("  nothing to remove")]
    assert nothing.startswith("  nothing to remove: the group is back to 1 instance(s) (launches: no instance (Failed")
    assert nothing.endswith("; no retry for 60 s)")


def test_launches_that_keep_failing_are_waited_out_then_nothing_is_guessed(lone_cloud: Cloud) -> None:
    # Every retry fails too: a new launch keeps coming, so no quiet minute; at the timeout the group is still at its
    # original count with nothing under way, and the sizes go back with nothing terminated.
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    lone_cloud.launch_fails = [NO_CAPACITY] * 100

    with pytest.raises(OpsError, match="timed out after 120s waiting for another Ready node"):
        swap_node(OUTPUTS, node_name(old), timeout=120, deps=deps)

    assert "terminate" not in " ".join(world.log) and lone_cloud.instances() == [old]
    (nothing,) = [ln for ln in lines if ln.startswith("  nothing to remove")]
    assert nothing.startswith(
        "  nothing to remove: the group is back to 1 instance(s) (timed out after 120s waiting for the ASG's record"
    )


def hide_launches_for(deps: Any, polls: int) -> list[int]:
    """The ASG records the resize's launch only after `polls` more DescribeScalingActivities calls once grown."""
    describe = deps.autoscaling.describe_scaling_activities
    calls: list[int] = []

    def late(**kwargs: Any) -> Any:
        found = describe(**kwargs)
        grown = [a for a in found["Activities"] if "desired capacity from 1 to 2" in a["Cause"]]
        if grown and len(calls) < polls:
            calls.append(1)
            return {**found, "Activities": [a for a in found["Activities"] if a not in grown]}
        return found

    deps.autoscaling.describe_scaling_activities = late
    return calls


def test_the_restore_waits_for_the_record_of_the_launch_then_removes_that_instance(lone_cloud: Cloud) -> None:
    # Ctrl-C right after the resize was sent: the ASG has not recorded its launch yet when the restore looks.
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    hidden = hide_launches_for(deps, polls=2)
    resize = deps.eks.update_nodegroup_config

    def resize_then_ctrl_c(**kwargs: Any) -> Any:
        deps.eks.update_nodegroup_config = resize  # only the first one
        resize(**kwargs)
        raise KeyboardInterrupt

    deps.eks.update_nodegroup_config = resize_then_ctrl_c

    with pytest.raises(KeyboardInterrupt):
        swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps)

    (surge,) = launched(lone_cloud, "1 to 2")
    assert hidden == [1, 1] and world.now >= 2 * 10  # two polls, 10 s apart, before it was recorded
    waiting = f"  waiting for the ASG's record of the launch the resize to {GROWN} caused: none recorded yet"
    assert f"{waiting} (600s left)" in lines
    assert world.log == ["resize min=1 max=2 desired=2", f"terminate {surge} decrement=True pods=nothing", RESTORE]
    assert lone_cloud.instances() == [old] and lone_cloud.sizes() == (1, 1, 1)


def test_two_launches_for_the_resize_are_not_guessed_between(lone_cloud: Cloud) -> None:
    # The ASG records a second launch with the resize's Cause (say an instance replaced before it was InService):
    # which one is the surge is not the ASG's word any more, so nothing is terminated and the commands are printed.
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    kube.pdb_blocks = 10**6
    resize = deps.eks.update_nodegroup_config

    def resize_and_relaunch(**kwargs: Any) -> Any:
        deps.eks.update_nodegroup_config = resize
        answer = resize(**kwargs)
        (launch,) = [a for a in lone_cloud.activities[lone_cloud.asg] if "from 1 to 2" in a["Cause"]]
        twin = {**launch, "ActivityId": "twin", "Description": "Launching a new EC2 instance: i-0feedfacecafe0001"}
        lone_cloud.activities[lone_cloud.asg].append(twin)
        return answer

    deps.eks.update_nodegroup_config = resize_and_relaunch

    with pytest.raises(OpsError, match="PodDisruptionBudget"):
        swap_node(OUTPUTS, node_name(old), timeout=120, deps=deps)

    assert not any(e.startswith("terminate") for e in world.log)
    assert lone_cloud.sizes() == (1, 2, 2) and len(lone_cloud.instances()) == 2
    failed = next(i for i, ln in enumerate(lines) if ln.startswith("could not restore node group ng"))
    assert "and the group has 2 instances, not 1: terminating none" in lines[failed]
    assert lines[failed + 1 :] == find_the_launch_by_hand(lone_cloud.asg)


def test_a_launch_still_waiting_for_its_instance_is_waited_for_then_removed(lone_cloud: Cloud) -> None:
    # Ctrl-C right after the resize: the ASG's launch is recorded, but waits for EC2 ("WaitingForInstanceId", no
    # instance named, none in the group yet) for 40 s. The group looks like its original count meanwhile; the
    # restore waits for the launch to finish and removes its instance instead of shrinking one over.
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    lone_cloud.launch_takes = timedelta(seconds=40)
    resize = deps.eks.update_nodegroup_config
    under_way: list[str] = []

    def resize_then_ctrl_c(**kwargs: Any) -> Any:
        deps.eks.update_nodegroup_config = resize  # only the first one
        resize(**kwargs)
        under_way.extend(a["StatusCode"] for a in lone_cloud.activities[lone_cloud.asg] if "EndTime" not in a)
        raise KeyboardInterrupt

    deps.eks.update_nodegroup_config = resize_then_ctrl_c

    with pytest.raises(KeyboardInterrupt):
        swap_node(OUTPUTS, node_name(old), timeout=600, deps=deps)

    assert under_way == ["WaitingForInstanceId"]
    (surge,) = launched(lone_cloud, "1 to 2")
    assert world.log == ["resize min=1 max=2 desired=2", f"terminate {surge} decrement=True pods=nothing", RESTORE]
    assert lone_cloud.instances() == [old] and lone_cloud.sizes() == (1, 1, 1) and world.now >= 40
    assert not any(ln.startswith("  nothing to remove") for ln in lines)


def retried(cloud: Cloud) -> list[str]:
    """The instances the ASG launched on its own to close the gap after a failed launch: a Cause with no request."""
    plain = "an instance was started in response to a difference between desired and actual capacity"
    return [
        a["Description"].removeprefix("Launching a new EC2 instance: ")
        for a in cloud.activities[cloud.asg]
        if a["Description"].startswith("Launching a new EC2 instance: ")
        and a["Cause"].startswith("At ")
        and a["Cause"].split(" ", 2)[2].startswith(plain)
    ]


def test_the_asgs_retry_of_a_failed_resize_launch_is_the_instance_removed(lone_cloud: Cloud) -> None:
    # EC2 has no capacity at first: the resize's launch fails; the ASG retries 30 s later with a Cause naming no
    # request, and that instance joins. Then a PodDisruptionBudget stops the swap: the retry's instance is removed.
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    lone_cloud.launch_fails = [NO_CAPACITY]
    kube.pdb_blocks = 10**6

    with pytest.raises(OpsError, match="PodDisruptionBudget"):
        swap_node(OUTPUTS, node_name(old), timeout=120, deps=deps)

    assert launched(lone_cloud, "1 to 2") == []  # the resize's own launch named no instance
    (retry,) = retried(lone_cloud)
    assert [e for e in world.log if e.startswith(("terminate", "resize"))] == [
        "resize min=1 max=2 desired=2",
        f"terminate {retry} decrement=True pods=nothing",
        RESTORE,
    ]
    assert lone_cloud.instances() == [old] and lone_cloud.sizes() == (1, 1, 1)
    assert f"remove {retry}, the instance this run added (a scale-in could pick the old node instead)" in lines


def test_a_retry_started_after_the_launch_looked_failed_keeps_the_sizes(lone_cloud: Cloud) -> None:
    # The resize's launch failed and the group is at its original count: nothing to remove. Right then the ASG
    # retries (WaitingForInstanceId, no instance yet): shrinking now would leave a scale-in to pick, so it does not.
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    lone_cloud.launch_fails = [NO_CAPACITY]
    lone_cloud.retry_after = timedelta(days=1)  # not during the run ...
    lone_cloud.launch_takes = timedelta(minutes=5)
    describe = deps.eks.describe_nodegroup

    def retry_once_nothing_is_over(**kwargs: Any) -> Any:
        if any(ln.startswith("  nothing to remove") for ln in lines):  # ... but right after the restore's check
            lone_cloud.retries[:] = [(lone_cloud.asg, world.wall())]
        return describe(**kwargs)

    deps.eks.describe_nodegroup = retry_once_nothing_is_over

    with pytest.raises(OpsError, match="timed out after 120s waiting for another Ready node"):
        swap_node(OUTPUTS, node_name(old), timeout=120, deps=deps)

    assert world.log == ["resize min=1 max=2 desired=2"]  # no terminate, no resize back
    assert lone_cloud.sizes() == (1, 2, 2)
    failed = next(i for i, ln in enumerate(lines) if ln.startswith("could not restore node group ng"))
    assert "(the group has a launch under way (no instance (WaitingForInstanceId, activity" in lines[failed]
    assert lines[failed + 1 :] == find_the_launch_by_hand(lone_cloud.asg)


def test_an_interrupt_once_the_surge_instance_is_terminated_prints_no_terminate_for_it(lone_cloud: Cloud) -> None:
    # The restore's terminate of the instance it added goes through, then Ctrl-C before it notes that: the printed
    # commands do not terminate it again (with the desired capacity decremented once more), only set the sizes.
    kube, deps, lines, world = setup(lone_cloud)
    (old,) = lone_cloud.instances()
    app_pods(kube, old)
    kube.pdb_blocks = 10**6
    terminate = deps.autoscaling.terminate_instance_in_auto_scaling_group

    def terminate_then_ctrl_c(**kwargs: Any) -> Any:
        terminate(**kwargs)
        raise KeyboardInterrupt

    deps.autoscaling.terminate_instance_in_auto_scaling_group = terminate_then_ctrl_c

    with pytest.raises(KeyboardInterrupt):
        swap_node(OUTPUTS, node_name(old), timeout=120, deps=deps)

    (surge,) = launched(lone_cloud, "1 to 2")
    failed = lines.index("could not restore node group ng to min 1, max 1, desired 1 (KeyboardInterrupt); run:")
    assert lines[failed + 1 :] == [
        f"  {surge} is gone: nothing to do for it",  # out of its ASG: DescribeAutoScalingInstances lists it no more
        "  aws eks update-nodegroup-config --cluster-name foo --nodegroup-name ng "
        "--scaling-config minSize=1,maxSize=1,desiredSize=1",
    ]
    assert [e for e in world.log if e.startswith("terminate")] == [f"terminate {surge} decrement=True pods=nothing"]
    assert lone_cloud.instances() == [old]
