"""swap-node's steps on one node, in order (1/6 … 6/6), each recording what it changed so a failure or an
interrupt before the terminate undoes exactly that."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from infra import contract
from infra.ops.clients import outputs
from infra.ops.clients.kube_model import (
    EXCLUDE_FROM_LB_LABEL,
    ClusterOps,
    Node,
    Pod,
    WorkloadRef,
    nodegroup_members,
    parse_workload,
)
from infra.ops.clients.nodegroup import NodeGroup, Scaling
from infra.ops.errors import OpsError, one_line
from infra.ops.probe import Watched
from infra.ops.swap_node import drain, lock
from infra.ops.swap_node.instance import (
    classic_elb_named_by_host,
    elb_in_service,
    elb_routes_to,
    instance_id,
    terminate_in_asg,
)
from infra.ops.verify.checks import workload_ready
from infra.ops.waiting import Clock, Probe, wait_for

POLL_SECONDS = 10.0


class SwapCluster(ClusterOps, lock.Leases, Protocol):
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
    wall: Callable[[], datetime] = lock.utc_now  # the lock's start time
    holder: str = field(default_factory=lock.this_process)
    watched: Watched | None = None  # --watch: the probe that may stop the run before a destructive step


@dataclass(frozen=True)
class SwapRun:
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
    def from_outputs(cls, out: Mapping[str, Any], deps: SwapDeps, timeout: float, force: bool) -> "SwapRun":
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
        return wait_for(
            what,
            probe,
            timeout=self.timeout,
            interval=POLL_SECONDS,
            clock=self.deps.clock,
            out=self.say,
            longer="--timeout",
        )

    def say(self, line: str) -> None:
        self.deps.out(line)

    def step(self, label: str, *, destructive: bool = False, restoring: bool = False) -> None:
        """Say the step. Under --watch note it as what runs now, and before a destructive step stop (OpsError: the
        caller's undo runs) once the error budget is spent; never while restoring, which is the undo itself."""
        if self.deps.watched is not None:
            if restoring:
                self.deps.watched.activity.set(f"restore: {label}")
            else:
                self.deps.watched.step(label, destructive=destructive)
        self.say(label)

    def refuse_grown_by_a_broken_run(self, now: Scaling, broken_notes: Mapping[str, str]) -> None:
        """A run that died after growing the group left it grown: its sizes are not the ones to restore."""
        grown_from = broken_notes.get(lock.SIZES_NOTE)
        if grown_from and grown_from != now.cli_args():
            undo = lock.undo_commands(self.cluster, self.nodegroup, broken_notes)
            raise OpsError(
                f"node group {self.nodegroup} is at {now}, not at the sizes the broken run grew it from "
                f"({grown_from}); {undo}; then run swap-node again"
            )

    def service_elb(self) -> ServiceElb | None:
        """The Service's classic ELB; None when it has no hostname yet or is another kind of load balancer."""
        kube = self.deps.kube
        hostname = kube.service_hostname(contract.APP_SERVICE, self.namespace) or self.endpoint
        name = classic_elb_named_by_host(self.deps.elb, hostname) if hostname else None
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
                instance_id(n.provider_id)
                for n in nodegroup_members(kube.nodes(), self.nodegroup)
                if n.name != leaving.name
            }
            serving = sorted(others & elb_in_service(self.deps.elb, name))
            return bool(serving), f"{len(serving)} other node(s) of the group InService: {', '.join(serving)}"

        self.wait(f"another node of the group InService in ELB {name}", others_in_service)

    def drain_and_terminate(
        self,
        node: Node,
        instance: str,
        lb: ServiceElb | None,
        group: NodeGroup,
        *,
        decrement: bool,
        restoring: bool = False,  # the restore removing the instance this run added
    ) -> None:
        kube, say = self.deps.kube, self.say
        move_first = self.serving_elsewhere(lb, node)
        changes = drain.NodeChanges(node.name)

        def step(label: str, *, destructive: bool = False) -> None:
            self.step(label, destructive=destructive, restoring=restoring)

        try:
            step("1/6 cordon and exclude from external load balancers", destructive=True)
            self.isolate(node, changes, lb, move_first)

            step("2/6 evict pods through the Eviction API", destructive=True)
            # Listed again after the cordon: pods scheduled since the check (minutes, when the group grew) go too.
            plan = drain.checked_plan(kube.pods(node=node.name), force=self.force)
            for pod, reason in plan.skipped:
                say(f"  skip {pod.ref}: {reason}")
            for pod, reason in plan.refused:
                say(f"  --force: evicting {pod.ref} although {reason}")
            drain.evict_all(plan.evict, kube.evict, timeout=self.timeout, clock=self.deps.clock, out=say)

            step("3/6 wait for evicted pods to leave the node")
            self.wait("pods to leave", lambda: drain.drained(kube.pods(node=node.name), node_ready=node.ready))

            step("4/6 wait for the Service's ELB to stop sending requests to the instance")
            self.wait_elb_release(lb, instance)

            step(
                f"5/6 terminate {instance} (desired capacity {'decremented' if decrement else 'kept'})",
                destructive=True,
            )
            changes.terminate_sent = True  # before the call: AWS may act on a request whose answer is lost
            terminate_in_asg(self.deps.autoscaling, instance, group.asg_names, decrement=decrement)
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
            routes, state = elb_routes_to(elb, lb, instance)
            return not routes, state

        self.wait(f"ELB {lb} to take {instance} out of service", released)

    def wait_replacement(self, old: Node, desired: int) -> None:
        kube, workload = self.deps.kube, self.workload
        self.step("6/6 wait for the replacement node and the workload")
        self.wait(
            "replacement node",
            lambda: drain.replacement_progress(nodegroup_members(kube.nodes(), self.nodegroup), old.name, desired),
        )

        def workload_serves() -> tuple[bool, str]:  # as verify judges it
            result = workload_ready(workload, kube.workload(workload, self.namespace), self.replicas)
            return result.ok, result.detail

        self.wait(f"workload {workload}", workload_serves)
