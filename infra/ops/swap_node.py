"""`swap-node`: replace one EC2 instance of the node group without dropping requests.

Like kOps `delete instance`: cordon, take the node out of the Service's ELB, evict pods
(honouring PodDisruptionBudgets), terminate the instance in its ASG keeping the desired
capacity, then wait for the replacement node and the workload. Every step up to the
terminate is idempotent, so after a timeout there the same command can be run again.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.ops import aws, checks, drain, outputs
from infra.ops.kube_model import EXCLUDE_FROM_LB_LABEL, ClusterOps, nodegroup_members, parse_workload
from infra.ops.waiting import Clock, Probe, wait_for

POLL_SECONDS = 10.0
SERVICE = "helloworld"


@dataclass(frozen=True)
class SwapDeps:
    kube: ClusterOps
    eks: Any
    autoscaling: Any
    elb: Any
    clock: Clock
    out: Callable[[str], None]


def swap_node(out: Mapping[str, Any], node_ref: str, *, timeout: float, deps: SwapDeps) -> None:
    cluster = outputs.text(out, "clusterName")
    nodegroup = outputs.text(out, "nodeGroupName")
    namespace = outputs.text(out, "helloworldNamespace")
    workload = parse_workload(outputs.text(out, "helloworldWorkload"))
    replicas = outputs.integer(out, "helloworldReplicas")
    kube, say = deps.kube, deps.out

    def wait(what: str, probe: Probe) -> None:
        wait_for(what, probe, timeout=timeout, interval=POLL_SECONDS, clock=deps.clock, out=say)

    # Check everything that could refuse before touching the node.
    nodes = kube.nodes()
    node = drain.find_node(nodes, node_ref)
    instance = aws.instance_id(node.provider_id)
    group = aws.describe_nodegroup(deps.eks, cluster, nodegroup)
    asg = aws.asg_of_instance(deps.autoscaling, instance, group.asg_names)
    say(f"replacing node {node.name} (instance {instance} in ASG {asg}, desired {group.desired})")
    if drain.spare_capacity(nodes, node.name) == 0:
        say("  warning: no other Ready node; evicted pods stay Pending until the replacement joins")

    say("1/6 cordon and exclude from external load balancers")
    kube.cordon(node.name)
    kube.label_node(node.name, EXCLUDE_FROM_LB_LABEL, "true")

    say("2/6 evict pods through the Eviction API")
    plan = drain.plan_evictions(kube.pods(node=node.name))
    for pod, reason in plan.skipped:
        say(f"  skip {pod.ref}: {reason}")
    drain.evict_all(plan.evict, kube.evict, timeout=timeout, clock=deps.clock, out=say)

    say("3/6 wait for evicted pods to leave the node")
    wait("pods to leave", lambda: drain.drained(kube.pods(node=node.name)))

    say("4/6 wait for the Service's ELB to deregister the instance")
    hostname = kube.service_hostname(SERVICE, namespace) or out.get("helloworldEndpoint")
    _wait_elb_drop(deps, str(hostname or ""), instance, wait)

    say(f"5/6 terminate {instance} in ASG {asg} (desired capacity kept)")
    aws.terminate_in_asg(deps.autoscaling, instance, group.asg_names)

    say("6/6 wait for the replacement node and the workload")
    wait(
        "replacement node",
        lambda: drain.replacement_progress(nodegroup_members(kube.nodes(), nodegroup), node.name, group.desired),
    )

    def workload_ready() -> tuple[bool, str]:
        result = checks.workload_ready(workload, kube.workload(workload, namespace), replicas)
        return result.ok, result.detail

    wait(f"workload {workload}", workload_ready)
    say(f"done: {node.name} replaced")


def _wait_elb_drop(deps: SwapDeps, hostname: str, instance: str, wait: Callable[[str, Probe], None]) -> None:
    """Terminating a node the ELB still sends traffic to would fail requests until health checks notice."""
    elb_name = aws.classic_elb_named_by_host(deps.elb, hostname) if hostname else None
    if elb_name is None:
        deps.out("  skipped: the Service's load balancer is not a classic ELB")
        return
    lb: str = elb_name

    def deregistered() -> tuple[bool, str]:
        still = aws.registered_with_elb(deps.elb, lb, instance)
        return not still, "still registered" if still else "deregistered"

    wait(f"ELB {lb} to drop {instance}", deregistered)
