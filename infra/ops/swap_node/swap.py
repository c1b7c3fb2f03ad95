"""swap-node's run: check everything that could refuse before touching anything, then the steps under the lock,
with the node group grown first when no other node can take the pods."""

from collections.abc import Mapping
from typing import Any

from infra.ops.clients.kube_model import nodegroup_members
from infra.ops.clients.nodegroup import describe_nodegroup
from infra.ops.swap_node import drain
from infra.ops.swap_node.instance import asg_of_instance, instance_id
from infra.ops.swap_node.lock import NODE_NOTE, SIZES_NOTE, HeldLock, SwapLock
from infra.ops.swap_node.resize import Resize
from infra.ops.swap_node.steps import SwapDeps, SwapRun


def swap_node(
    out: Mapping[str, Any],
    node_ref: str,
    *,
    timeout: float,
    deps: SwapDeps,
    force: bool = False,
    break_lock: bool = False,
) -> None:
    run = SwapRun.from_outputs(out, deps, timeout, force)
    lock = SwapLock(deps.kube, run.cluster, run.nodegroup, deps.holder, deps.wall, deps.out)
    with lock.held(break_lock=break_lock) as held:
        _swap(run, node_ref, held)


def _swap(run: SwapRun, node_ref: str, lock: HeldLock) -> None:
    kube, say = run.deps.kube, run.deps.out

    # Check everything that could refuse before touching anything.
    nodes = kube.nodes()
    node = drain.find_node(nodes, node_ref)
    instance = instance_id(node.provider_id)
    group = describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup)
    asg = asg_of_instance(run.deps.autoscaling, instance, group.asg_names)
    drain.checked_plan(kube.pods(node=node.name), force=run.force)
    lb = run.service_elb()
    run.refuse_grown_by_a_broken_run(group.scaling, lock.broken_notes)
    lock.note({NODE_NOTE: node.name})
    say(f"replacing node {node.name} (instance {instance} in ASG {asg}, desired {group.desired})")

    # Only the node group's own nodes count: other groups may be tainted or sized for other work.
    surge = drain.spare_capacity(nodegroup_members(nodes, run.nodegroup), node.name) == 0
    resize = Resize(run, group, lb)
    try:
        if surge:
            lock.note({SIZES_NOTE: group.scaling.cli_args()})
            resize.grow(node.name)
        run.drain_and_terminate(node, instance, lb, group, decrement=surge)
        run.wait_replacement(node, group.desired)
    except BaseException as err:
        resize.restore(after=err)  # the first error is the one to report
        raise
    resize.restore()
    say(f"done: {node.name} replaced")
