"""swap-node's surge: grow the node group by one through EKS when no other node can take the pods, and put the
original sizes back afterwards, removing the instance it added rather than whichever a scale-in would pick."""

from dataclasses import dataclass

from infra.ops.clients.kube_model import EXCLUDE_FROM_LB_LABEL, Node, nodegroup_members
from infra.ops.clients.nodegroup import NodeGroup, Scaling, describe_nodegroup, resize_nodegroup, update_status
from infra.ops.errors import OpsError, one_line
from infra.ops.swap_node import drain, lock
from infra.ops.swap_node.instance import terminate_in_asg
from infra.ops.swap_node.steps import ServiceElb, SwapRun


@dataclass
class Resize:
    """Grow the node group by one through EKS, and put the original sizes back.

    When the swap stops before the old instance goes, the group is one instance over. Shrinking it lets the ASG's
    scale-in pick which instance goes, undrained: possibly the old node, or another the run never touched (a NotReady
    one). Protecting the old instance from scale-in would still leave the others to chance, so the restore itself
    removes the instance this run added, drained and out of the ELB first, with the desired capacity decremented.
    """

    run: SwapRun
    group: NodeGroup
    lb: ServiceElb | None
    changed: bool = False
    existing: frozenset[str] = frozenset()  # the group's instances before it grew
    added: list[tuple[str, Node | None]] | None = None  # instances (and nodes) it added, still there; None: unread

    @property
    def original(self) -> Scaling:
        return self.group.scaling

    def grow(self, leaving: str) -> None:
        o = self.original
        bigger = Scaling(o.min_size, max(o.max_size, o.desired + 1), o.desired + 1)
        self.run.step(
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
            if describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup).desired > self.original.desired:
                self._remove_added()
            else:
                self.added = []  # the old instance went with the desired capacity decremented: nothing extra
            if describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup).scaling != self.original:
                run.step(f"restore node group {run.nodegroup} to {self.original}", restoring=True)
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
            run.step(
                f"remove {instance}, the instance this run added (a scale-in could pick the old node instead)",
                restoring=True,
            )
            if node is None:
                terminate_in_asg(run.deps.autoscaling, instance, self.group.asg_names, decrement=True)
            else:  # out of the ELB only once another node serves there, as for the old node
                run.drain_and_terminate(node, instance, self.lb, self.group, decrement=True, restoring=True)
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
        return [*remove, lock.nodegroup_sizes_command(run.cluster, run.nodegroup, self.original.cli_args())]

    def _instances(self) -> set[str]:
        """The node group's instances that are not going away."""
        found = self.run.deps.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(self.group.asg_names))
        return {
            i["InstanceId"]
            for g in found["AutoScalingGroups"]
            for i in g["Instances"]
            if "Terminat" not in i["LifecycleState"]
        }

    def _apply(self, sizes: Scaling, *, wait: bool = True) -> None:
        run, eks = self.run, self.run.deps.eks
        update = resize_nodegroup(eks, run.cluster, run.nodegroup, sizes)
        if not wait:
            run.say(
                f"  EKS update {update} started, not waited for (interrupted); check with: aws eks describe-update "
                f"--name {run.cluster} --nodegroup-name {run.nodegroup} --update-id {update}"
            )
            return

        def finished() -> tuple[bool, str]:
            status, errors = update_status(eks, run.cluster, run.nodegroup, update)
            return status != "InProgress", f"{status} {errors}".strip()

        result = run.wait(f"EKS update {update}", finished)
        if not result.startswith("Successful"):
            raise OpsError(f"EKS update {update} of node group {run.nodegroup} to {sizes}: {result}")
