"""`swap-node`: replace one EC2 instance of the node group without dropping requests.

Like kOps `delete instance`: cordon, take the node out of the Service's ELB, evict pods
(honouring PodDisruptionBudgets), terminate the instance in its ASG, then wait for the
replacement node and the workload. Every step up to the terminate is idempotent, so after a
timeout there the same command can be run again.

With no other Ready node to take the pods (a one-node group, or the others NotReady), the
node group first grows by one through EKS and the old instance is terminated with the desired
capacity decremented, so the new node is the replacement; the original sizes are restored
afterwards, also when a step fails. Before the old node leaves the ELB, another instance of
the group must be InService there (a new node is only after its health checks pass). Under the
Service's externalTrafficPolicy Local only a node holding a ready pod of the workload is; when
the old node holds all of them, one moves off it first (see _Run.isolate). If the swap stops
before the old instance goes, the restore removes the instance the group grew by (drained like
any swapped node), not whichever instance a scale-in would pick.

One run at a time per cluster (swap_lock.py); the lock notes the node and the original sizes.

A failure or interrupt before the terminate (Ctrl-C, and SIGTERM or SIGHUP: see
cli.terminate_as_interrupt) undoes exactly what this run changed on the node, before the sizes
are restored: a cordon or label the node had before the run stays. From the moment the
terminate is sent nothing is undone on the node unless AWS says the instance is still in service.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from infra import contract
from infra.ops import aws, checks, drain, outputs, swap_lock
from infra.ops.errors import OpsError, one_line
from infra.ops.kube_model import (
    EXCLUDE_FROM_LB_LABEL,
    ClusterOps,
    Node,
    Pod,
    WorkloadRef,
    nodegroup_members,
    parse_workload,
)
from infra.ops.waiting import Clock, Probe, wait_for

POLL_SECONDS = 10.0


class SwapCluster(ClusterOps, swap_lock.Leases, Protocol):
    """Also what undoes step 1 after a failure, and the lock."""

    def uncordon(self, node: str) -> None: ...

    def unlabel_node(self, node: str, key: str) -> None: ...

    def service_traffic_policy(self, name: str, namespace: str) -> str: ...


@dataclass(frozen=True)
class ServiceElb:
    """The Service's classic ELB, and whether only nodes holding a ready pod are InService there."""

    name: str
    local: bool  # externalTrafficPolicy Local: kube-proxy's health-check node port fails on a node without one


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
    lock = swap_lock.SwapLock(deps.kube, run.cluster, run.nodegroup, deps.holder, deps.wall, deps.out)
    with lock.held(break_lock=break_lock) as held:
        _swap(run, node_ref, held)


def _swap(run: "_Run", node_ref: str, lock: swap_lock.HeldLock) -> None:
    kube, say = run.deps.kube, run.deps.out

    # Check everything that could refuse before touching anything.
    nodes = kube.nodes()
    node = drain.find_node(nodes, node_ref)
    instance = aws.instance_id(node.provider_id)
    group = aws.describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup)
    asg = aws.asg_of_instance(run.deps.autoscaling, instance, group.asg_names)
    drain.checked_plan(kube.pods(node=node.name), force=run.force)
    lb = run.service_elb()
    run.refuse_grown_by_a_broken_run(group.scaling, lock.broken_notes)
    lock.note({swap_lock.NODE_NOTE: node.name})
    say(f"replacing node {node.name} (instance {instance} in ASG {asg}, desired {group.desired})")

    # Only the node group's own nodes count: other groups may be tainted or sized for other work.
    surge = drain.spare_capacity(nodegroup_members(nodes, run.nodegroup), node.name) == 0
    resize = _Resize(run, group, lb)
    try:
        if surge:
            lock.note({swap_lock.SIZES_NOTE: group.scaling.cli_args()})
            resize.grow(node.name)
        run.drain_and_terminate(node, instance, lb, group, decrement=surge)
        run.wait_replacement(node, group.desired)
    except BaseException as err:
        resize.restore(after=err)  # the first error is the one to report
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

    def refuse_grown_by_a_broken_run(self, now: aws.Scaling, broken_notes: Mapping[str, str]) -> None:
        """A run that died after growing the group left it grown: its sizes are not the ones to restore."""
        grown_from = broken_notes.get(swap_lock.SIZES_NOTE)
        if grown_from and grown_from != now.cli_args():
            undo = swap_lock.undo_commands(self.cluster, self.nodegroup, broken_notes)
            raise OpsError(
                f"node group {self.nodegroup} is at {now}, not at the sizes the broken run grew it from "
                f"({grown_from}); {undo}; then run swap-node again"
            )

    def service_elb(self) -> ServiceElb | None:
        """The Service's classic ELB; None when it has no hostname yet or is another kind of load balancer."""
        kube = self.deps.kube
        hostname = kube.service_hostname(contract.APP_SERVICE, self.namespace) or self.endpoint
        name = aws.classic_elb_named_by_host(self.deps.elb, hostname) if hostname else None
        if name is None:
            return None
        return ServiceElb(name, local=kube.service_traffic_policy(contract.APP_SERVICE, self.namespace) == "Local")

    def serving_elsewhere(self, lb: ServiceElb | None, leaving: Node) -> Pod | None:
        """Before anything changes: the pod to move off the node first, or None once another node of the group is
        InService in the ELB (waited for here, so a timeout changes nothing)."""
        if lb is None:
            self.say("  skipped ELB check: the Service's load balancer is not a classic ELB")
            return None
        if lb.local and (pod := self.pod_to_move_first(lb, leaving)) is not None:
            return pod
        self.wait_elb_serving_others(lb, leaving)
        return None

    def pod_to_move_first(self, lb: ServiceElb, leaving: Node) -> Pod | None:
        """Under Local no other node can become InService while the leaving one holds every ready pod of the
        workload: waiting would time out, and excluding it anyway would empty the ELB. None when a pod runs on
        another serving node of the group (InService once its health checks pass) or on none (the node serves
        nothing, so excluding it takes nothing from the ELB): then the wait decides, as under Cluster."""
        kube = self.deps.kube
        members = nodegroup_members(kube.nodes(), self.nodegroup)
        serving_nodes = {n.name for n in members if n.name != leaving.name and EXCLUDE_FROM_LB_LABEL not in n.labels}
        ready = drain.serving_pods(kube.pods(namespace=self.namespace), self.namespace, self.workload)
        here = [p for p in ready if p.node == leaving.name]
        if not here or any(p.node in serving_nodes for p in ready):
            return None
        if len(here) == 1:  # with replicas >= 2 the others are not ready: the node must keep this one
            raise OpsError(
                f"{here[0].ref} on {leaving.name} is the only ready pod of {self.workload}, and under "
                f"externalTrafficPolicy Local only a node holding one is InService in ELB {lb.name}: moving it "
                f"would leave the ELB no instance until it is ready elsewhere; get the other pods ready "
                f"(kubectl get pods -n {self.namespace} -o wide), then run swap-node again"
            )
        return here[0]

    def move_one_pod(self, pod: Pod, lb: ServiceElb, leaving: Node) -> None:
        """Evict one pod from the cordoned node (the PDB decides when) and wait until its node serves."""
        self.say(
            f"  no other node of the group serves in ELB {lb.name} (externalTrafficPolicy Local: only a node with "
            f"a ready pod of {self.workload} is InService); moving {pod.ref} first, {leaving.name} serving until then"
        )
        drain.evict_all([pod], self.deps.kube.evict, timeout=self.timeout, clock=self.deps.clock, out=self.say)
        self.wait_elb_serving_others(lb, leaving)

    def wait_elb_serving_others(self, lb: ServiceElb, leaving: Node) -> None:
        """Taking the node out of the ELB while no other node is InService there would answer 503."""
        name, kube = lb.name, self.deps.kube

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
        self, node: Node, instance: str, lb: ServiceElb | None, group: aws.NodeGroup, *, decrement: bool
    ) -> None:
        kube, say = self.deps.kube, self.say
        move_first = self.serving_elsewhere(lb, node)
        changes = drain.NodeChanges(node.name)
        try:
            self.isolate(node, changes, lb, move_first)

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

            say(f"5/6 terminate {instance} (desired capacity {'decremented' if decrement else 'kept'})")
            changes.terminate_sent = True  # before the call: AWS may act on a request whose answer is lost
            aws.terminate_in_asg(self.deps.autoscaling, instance, group.asg_names, decrement=decrement)
        except BaseException as err:  # Ctrl-C, SIGTERM and SIGHUP too: the node is still running, so it can serve again
            if changes.terminate_sent and not self.still_in_service(instance):
                self.say(
                    f"stopped after sending the terminate of {instance} ({one_line(err)}); the answer was lost, so "
                    f"{node.name} stays cordoned and excluded (it may be terminating); check with: "
                    f"aws autoscaling describe-auto-scaling-instances --instance-ids {instance}"
                )
            else:
                self.undo(changes)
            raise

    def still_in_service(self, instance: str) -> bool:
        """Whether AWS says the instance was not terminated; False when it is going, gone, or AWS cannot say."""
        try:
            found = self.deps.autoscaling.describe_auto_scaling_instances(InstanceIds=[instance])
        except BaseException:  # a second Ctrl-C too: unknown, so the node is left as it is
            return False
        states = [i["LifecycleState"] for i in found["AutoScalingInstances"]]
        return bool(states) and "Terminat" not in states[0]  # Terminating, Terminating:Wait, …, Terminated

    def isolate(self, node: Node, changes: drain.NodeChanges, lb: ServiceElb | None, move_first: Pod | None) -> None:
        """Step 1, recording what it changes; a cordon or label already there (read now, not at the check) stays.

        The cordon comes first and the label only once another node serves: a cordoned node stays in the ELB (since
        Kubernetes 1.27), so its pods keep serving while the one moved first, which the cordon keeps from coming
        back, becomes ready elsewhere; the label deregisters the node at once."""
        kube, say, name = self.deps.kube, self.say, node.name
        say("1/6 cordon and exclude from external load balancers")
        before = drain.find_node(kube.nodes(), name)
        changes.found = drain.NodeMarks(before.unschedulable, EXCLUDE_FROM_LB_LABEL in before.labels)
        if changes.found.cordoned:
            say(f"  {name} was already cordoned: it stays so afterwards")
        else:
            changes.cordoned = True  # before the call: a cordon whose answer is lost is undone too
            kube.cordon(name)
        if move_first is not None and lb is not None:
            self.move_one_pod(move_first, lb, node)
        if changes.found.labelled:
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

    def wait_elb_release(self, service_elb: ServiceElb | None, instance: str) -> None:
        """Terminating a node the ELB still sends traffic to (draining included) would fail requests."""
        elb = self.deps.elb
        if service_elb is None:
            self.say("  skipped: the Service's load balancer is not a classic ELB")
            return
        lb = service_elb.name

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
    """Grow the node group by one through EKS, and put the original sizes back.

    When the swap stops before the old instance goes, the group is one instance over. Shrinking it lets the ASG's
    scale-in pick which instance goes, undrained: possibly the old node, or another the run never touched (a NotReady
    one). Protecting the old instance from scale-in would still leave the others to chance, so the restore itself
    removes the instance this run added, drained and out of the ELB first, with the desired capacity decremented.
    """

    run: _Run
    group: aws.NodeGroup
    lb: ServiceElb | None
    changed: bool = False
    existing: frozenset[str] = frozenset()  # the group's instances before it grew
    added: list[tuple[str, Node | None]] | None = None  # instances (and nodes) it added, still there; None: unread

    @property
    def original(self) -> aws.Scaling:
        return self.group.scaling

    def grow(self, leaving: str) -> None:
        o = self.original
        bigger = aws.Scaling(o.min_size, max(o.max_size, o.desired + 1), o.desired + 1)
        self.run.say(
            f"0/6 no other Ready node in the group can take the pods: grow node group {self.run.nodegroup} to {bigger}"
        )
        self.existing = frozenset(self._instances())
        self.changed = True  # from here on, restore() puts the sizes back
        self._apply(bigger)
        kube, nodegroup = self.run.deps.kube, self.run.nodegroup
        self.run.wait(
            "another Ready node", lambda: drain.ready_spares(nodegroup_members(kube.nodes(), nodegroup), leaving)
        )

    def restore(self, *, after: BaseException | None = None) -> None:
        """Back to the original sizes. On failure print the commands that do it; raise unless this restore follows
        an earlier error, which is the one to report (a second Ctrl-C is raised too). After an interrupt the EKS
        update is started, not waited for."""
        if not self.changed:
            return
        run = self.run
        try:
            if aws.describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup).desired > self.original.desired:
                self._remove_added()
            else:
                self.added = []  # the old instance went with the desired capacity decremented: nothing extra
            if aws.describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup).scaling != self.original:
                run.say(f"restore node group {run.nodegroup} to {self.original}")
                self._apply(self.original, wait=not isinstance(after, KeyboardInterrupt))
        except BaseException as err:
            run.say(f"could not restore node group {run.nodegroup} to {self.original} ({one_line(err)}); run:")
            for command in self._commands():
                run.say(f"  {command}")
            if after is None or not isinstance(err, Exception):
                raise

    def _remove_added(self) -> None:
        """Drain and terminate (decrementing) what the group grew by; a node not joined yet runs nothing."""
        run = self.run
        nodes = {n.provider_id.rsplit("/", 1)[-1]: n for n in run.deps.kube.nodes()}
        self.added = [(instance, nodes.get(instance)) for instance in sorted(self._instances() - self.existing)]
        while self.added:
            instance, node = self.added[0]
            run.say(f"remove {instance}, the instance this run added (a scale-in could pick the old node instead)")
            if node is None:
                aws.terminate_in_asg(run.deps.autoscaling, instance, self.group.asg_names, decrement=True)
            else:  # out of the ELB only once another node serves there, as for the old node
                run.drain_and_terminate(node, instance, self.lb, self.group, decrement=True)
            self.added.pop(0)

    def _commands(self) -> list[str]:
        run = self.run
        if self.added is None:  # stopped before the restore could look: name what to look for
            remove = [
                f"first drain and terminate (--should-decrement-desired-capacity) the instance the group grew by, "
                f"the one not among {', '.join(sorted(self.existing))}:"
            ]
        else:
            remove = []
        for instance, node in self.added or []:  # out of the ELB and drained before it goes
            if node is not None:
                remove += [
                    f"kubectl label node {node.name} {EXCLUDE_FROM_LB_LABEL}=true",
                    f"kubectl drain {node.name} --ignore-daemonsets --delete-emptydir-data",
                ]
            remove.append(
                f"aws autoscaling terminate-instance-in-auto-scaling-group --instance-id {instance} "
                "--should-decrement-desired-capacity"
            )
        return [*remove, swap_lock.nodegroup_sizes_command(run.cluster, run.nodegroup, self.original.cli_args())]

    def _instances(self) -> set[str]:
        """The node group's instances that are not going away."""
        found = self.run.deps.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(self.group.asg_names))
        return {
            i["InstanceId"]
            for g in found["AutoScalingGroups"]
            for i in g["Instances"]
            if "Terminat" not in i["LifecycleState"]
        }

    def _apply(self, sizes: aws.Scaling, *, wait: bool = True) -> None:
        run, eks = self.run, self.run.deps.eks
        update = aws.resize_nodegroup(eks, run.cluster, run.nodegroup, sizes)
        if not wait:
            run.say(
                f"  EKS update {update} started, not waited for (interrupted); check with: aws eks describe-update "
                f"--name {run.cluster} --nodegroup-name {run.nodegroup} --update-id {update}"
            )
            return

        def finished() -> tuple[bool, str]:
            status, errors = aws.update_status(eks, run.cluster, run.nodegroup, update)
            return status != "InProgress", f"{status} {errors}".strip()

        result = run.wait(f"EKS update {update}", finished)
        if not result.startswith("Successful"):
            raise OpsError(f"EKS update {update} of node group {run.nodegroup} to {sizes}: {result}")
