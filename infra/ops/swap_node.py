"""`swap-node`: replace one EC2 instance of the node group without dropping requests.

Like kOps `delete instance`: cordon, take the node out of the Service's ELB, evict pods
(honouring PodDisruptionBudgets), terminate the instance in its ASG, then wait for the
replacement node and the workload. Every step up to the terminate is idempotent, so after a
timeout there the same command can be run again.

With no other Ready node to take the pods (a one-node group, or the others NotReady), the
node group first grows by one through EKS and the old instance is terminated with the desired
capacity decremented, so the new node is the replacement; the original sizes are restored
afterwards, also when a step fails. Before the old node leaves the ELB, another instance of
the group must be InService there (a new node is only after its health checks pass).

One run at a time per cluster (swap_lock.py).

A failure or interrupt before the terminate (Ctrl-C, and SIGTERM or SIGHUP: see
cli.terminate_as_interrupt) undoes exactly what this run changed on the node, before the sizes
are restored: a cordon or label the node had before the run stays.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from infra.ops import aws, checks, drain, outputs, swap_lock
from infra.ops.errors import OpsError, one_line
from infra.ops.kube_model import (
    EXCLUDE_FROM_LB_LABEL,
    ClusterOps,
    Node,
    WorkloadRef,
    nodegroup_members,
    parse_workload,
)
from infra.ops.waiting import Clock, Probe, wait_for

POLL_SECONDS = 10.0
SERVICE = "helloworld"


class SwapCluster(ClusterOps, swap_lock.Leases, Protocol):
    """Also what undoes step 1 after a failure, and the lock."""

    def uncordon(self, node: str) -> None: ...

    def unlabel_node(self, node: str, key: str) -> None: ...


@dataclass(frozen=True)
class SwapDeps:
    kube: SwapCluster
    eks: Any
    autoscaling: Any
    elb: Any
    clock: Clock
    out: Callable[[str], None]
    wall: Callable[[], datetime] = swap_lock.utc_now  # the lock's start time
    holder: str = field(default_factory=swap_lock.this_process)


def swap_node(
    out: Mapping[str, Any],
    node_ref: str,
    *,
    timeout: float,
    deps: SwapDeps,
    force: bool = False,
    break_lock: bool = False,
) -> None:
    run = _Run.from_outputs(out, deps, timeout, force)
    lock = swap_lock.SwapLock(deps.kube, run.cluster, deps.holder, deps.wall, deps.out)
    with lock.held(break_lock=break_lock):
        _swap(run, node_ref)


def _swap(run: "_Run", node_ref: str) -> None:
    kube, say = run.deps.kube, run.deps.out

    # Check everything that could refuse before touching anything.
    nodes = kube.nodes()
    node = drain.find_node(nodes, node_ref)
    instance = aws.instance_id(node.provider_id)
    group = aws.describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup)
    asg = aws.asg_of_instance(run.deps.autoscaling, instance, group.asg_names)
    drain.checked_plan(kube.pods(node=node.name), force=run.force)
    lb = run.service_elb()
    say(f"replacing node {node.name} (instance {instance} in ASG {asg}, desired {group.desired})")

    # Only the node group's own nodes count: other groups may be tainted or sized for other work.
    surge = drain.spare_capacity(nodegroup_members(nodes, run.nodegroup), node.name) == 0
    resize = _Resize(run, group.scaling)
    try:
        if surge:
            resize.grow(node.name)
        run.wait_elb_serving_others(lb, node)
        run.drain_and_terminate(node, instance, lb, group, decrement=surge)
        run.wait_replacement(node, group.desired)
    except BaseException:
        resize.restore(quiet=True)  # the first error is the one to report
        raise
    resize.restore()
    say(f"done: {node.name} replaced")


@dataclass(frozen=True)
class _Run:
    """One swap: the stack outputs it needs (all read up front, so a bad one refuses early) and its waits."""

    deps: SwapDeps
    timeout: float
    cluster: str
    nodegroup: str
    namespace: str
    workload: WorkloadRef
    replicas: int
    endpoint: str
    force: bool  # evict pods drain.refusal_reason names

    @classmethod
    def from_outputs(cls, out: Mapping[str, Any], deps: SwapDeps, timeout: float, force: bool) -> "_Run":
        return cls(
            deps,
            timeout,
            cluster=outputs.text(out, "clusterName"),
            nodegroup=outputs.text(out, "nodeGroupName"),
            namespace=outputs.text(out, "helloworldNamespace"),
            workload=parse_workload(outputs.text(out, "helloworldWorkload")),
            replicas=outputs.integer(out, "helloworldReplicas"),
            endpoint=str(out.get("helloworldEndpoint") or ""),
            force=force,
        )

    def wait(self, what: str, probe: Probe) -> str:
        return wait_for(what, probe, timeout=self.timeout, interval=POLL_SECONDS, clock=self.deps.clock, out=self.say)

    def say(self, line: str) -> None:
        self.deps.out(line)

    def service_elb(self) -> str | None:
        """The Service's classic ELB; None when it has no hostname yet or is another kind of load balancer."""
        hostname = self.deps.kube.service_hostname(SERVICE, self.namespace) or self.endpoint
        return aws.classic_elb_named_by_host(self.deps.elb, hostname) if hostname else None

    def wait_elb_serving_others(self, lb: str | None, leaving: Node) -> None:
        """Taking the node out of the ELB while no other node is InService there would answer 503."""
        if lb is None:
            self.say("  skipped ELB check: the Service's load balancer is not a classic ELB")
            return
        name, kube = lb, self.deps.kube

        def others_in_service() -> tuple[bool, str]:
            others = {
                aws.instance_id(n.provider_id)
                for n in nodegroup_members(kube.nodes(), self.nodegroup)
                if n.name != leaving.name
            }
            serving = sorted(others & aws.elb_in_service(self.deps.elb, name))
            return bool(serving), f"{len(serving)} other node(s) of the group InService: {', '.join(serving)}"

        self.wait(f"another node of the group InService in ELB {name}", others_in_service)

    def drain_and_terminate(
        self, node: Node, instance: str, lb: str | None, group: aws.NodeGroup, *, decrement: bool
    ) -> None:
        kube, say = self.deps.kube, self.say
        changes = drain.NodeChanges(node.name)
        try:
            self.isolate(node.name, changes)

            say("2/6 evict pods through the Eviction API")
            # Listed again after the cordon: pods scheduled since the check (minutes, when the group grew) go too.
            plan = drain.checked_plan(kube.pods(node=node.name), force=self.force)
            for pod, reason in plan.skipped:
                say(f"  skip {pod.ref}: {reason}")
            for pod, reason in plan.refused:
                say(f"  --force: evicting {pod.ref} although {reason}")
            drain.evict_all(plan.evict, kube.evict, timeout=self.timeout, clock=self.deps.clock, out=say)

            say("3/6 wait for evicted pods to leave the node")
            self.wait("pods to leave", lambda: drain.drained(kube.pods(node=node.name), node_ready=node.ready))

            say("4/6 wait for the Service's ELB to stop sending requests to the instance")
            self.wait_elb_release(lb, instance)

            kept = "decremented: the new node replaces it" if decrement else "kept"
            say(f"5/6 terminate {instance} (desired capacity {kept})")
            aws.terminate_in_asg(self.deps.autoscaling, instance, group.asg_names, decrement=decrement)
        except BaseException:  # Ctrl-C, SIGTERM and SIGHUP too: the node is still running, so it can serve again
            self.undo(changes)
            raise

    def isolate(self, name: str, changes: drain.NodeChanges) -> None:
        """Step 1, recording what it changes; a cordon or label already there (read now, not at the check) stays."""
        kube, say = self.deps.kube, self.say
        say("1/6 cordon and exclude from external load balancers")
        before = drain.find_node(kube.nodes(), name)
        if before.unschedulable:
            say(f"  {name} was already cordoned: it stays so afterwards")
        else:
            changes.cordoned = True  # before the call: a cordon whose answer is lost is undone too
            kube.cordon(name)
        if EXCLUDE_FROM_LB_LABEL in before.labels:
            say(f"  {name} already had the label {EXCLUDE_FROM_LB_LABEL}: it stays afterwards")
        else:
            changes.labelled = True
            kube.label_node(name, EXCLUDE_FROM_LB_LABEL, "true")

    def undo(self, changes: drain.NodeChanges) -> None:
        """Reverse what step 1 changed, before any resize lets the ASG pick an instance."""
        kube, say = self.deps.kube, self.say
        try:
            if changes.cordoned:
                kube.uncordon(changes.node)
            if changes.labelled:
                kube.unlabel_node(changes.node, EXCLUDE_FROM_LB_LABEL)
        except BaseException as err:  # a second Ctrl-C too: the operator still needs the commands
            say(f"stopped with {changes.node} {changes.state()} ({one_line(err)}); to undo:")
            for command in changes.undo_commands():
                say(f"  {command}")
            return
        say(f"stopped: {changes.undone()}")

    def wait_elb_release(self, elb_name: str | None, instance: str) -> None:
        """Terminating a node the ELB still sends traffic to (draining included) would fail requests."""
        elb = self.deps.elb
        if elb_name is None:
            self.say("  skipped: the Service's load balancer is not a classic ELB")
            return
        lb: str = elb_name

        def released() -> tuple[bool, str]:
            routes, state = aws.elb_routes_to(elb, lb, instance)
            return not routes, state

        self.wait(f"ELB {lb} to take {instance} out of service", released)

    def wait_replacement(self, old: Node, desired: int) -> None:
        kube, workload = self.deps.kube, self.workload
        self.say("6/6 wait for the replacement node and the workload")
        self.wait(
            "replacement node",
            lambda: drain.replacement_progress(nodegroup_members(kube.nodes(), self.nodegroup), old.name, desired),
        )

        def workload_ready() -> tuple[bool, str]:
            result = checks.workload_ready(workload, kube.workload(workload, self.namespace), self.replicas)
            return result.ok, result.detail

        self.wait(f"workload {workload}", workload_ready)


@dataclass
class _Resize:
    """Grow the node group by one through EKS, and put the original sizes back."""

    run: _Run
    original: aws.Scaling
    changed: bool = False

    def grow(self, leaving: str) -> None:
        o = self.original
        bigger = aws.Scaling(o.min_size, max(o.max_size, o.desired + 1), o.desired + 1)
        self.run.say(
            f"0/6 no other Ready node in the group can take the pods: grow node group {self.run.nodegroup} to {bigger}"
        )
        self.changed = True  # from here on, restore() puts the sizes back
        self._apply(bigger)
        kube, nodegroup = self.run.deps.kube, self.run.nodegroup
        self.run.wait(
            "another Ready node", lambda: drain.ready_spares(nodegroup_members(kube.nodes(), nodegroup), leaving)
        )

    def restore(self, *, quiet: bool = False) -> None:
        """Back to the original sizes; on failure print the command that does it (and raise unless quiet)."""
        if not self.changed:
            return
        run = self.run
        try:
            now = aws.describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup).scaling
            if now != self.original:
                # Both the old and the new node may still run: AWS, not swap-node, picks the one to go.
                picks = "; the ASG picks which instance to remove" if now.desired > self.original.desired else ""
                run.say(f"restore node group {run.nodegroup} to {self.original}{picks}")
                self._apply(self.original)
        except Exception:
            run.say(f"could not restore node group {run.nodegroup} to {self.original}; run:")
            run.say(
                f"  aws eks update-nodegroup-config --cluster-name {run.cluster} "
                f"--nodegroup-name {run.nodegroup} {self.original.cli_args()}"
            )
            if not quiet:
                raise

    def _apply(self, sizes: aws.Scaling) -> None:
        run, eks = self.run, self.run.deps.eks
        update = aws.resize_nodegroup(eks, run.cluster, run.nodegroup, sizes)

        def finished() -> tuple[bool, str]:
            status, errors = aws.update_status(eks, run.cluster, run.nodegroup, update)
            return status != "InProgress", f"{status} {errors}".strip()

        result = run.wait(f"EKS update {update}", finished)
        if not result.startswith("Successful"):
            raise OpsError(f"EKS update {update} of node group {run.nodegroup} to {sizes}: {result}")
