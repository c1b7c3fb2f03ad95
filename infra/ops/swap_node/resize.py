"""swap-node's surge: grow the node group by one through EKS when no other node can take the pods, and put the
original sizes back afterwards, removing the instance it added rather than whichever a scale-in would pick."""

from dataclasses import dataclass
from datetime import datetime

from infra.ops.clients.kube_model import EXCLUDE_FROM_LB_LABEL, Node, nodegroup_members
from infra.ops.clients.nodegroup import NodeGroup, Scaling, describe_nodegroup, resize_nodegroup, update_status
from infra.ops.errors import OpsError, one_line
from infra.ops.swap_node import drain, lock
from infra.ops.swap_node.instance import terminate_in_asg
from infra.ops.swap_node.launches import Launch, activities, resize_cause, resize_launches, retry_cause
from infra.ops.swap_node.steps import ServiceElb, SwapRun

# How long every launch of the resize must stay failed, with no retry, before the restore concludes none will come.
RETRY_QUIET_SECONDS = 60.0


@dataclass
class Resize:
    """Grow the node group by one through EKS, and put the original sizes back.

    When the swap stops before the old instance goes, the group is one instance over. Shrinking it lets the ASG's
    scale-in pick which instance goes, undrained: possibly the old node, or another the run never touched (a NotReady
    one). Protecting the old instance from scale-in would still leave the others to chance, so the restore itself
    removes the instance this run added, drained and out of the ELB first, with the desired capacity decremented.
    Which instance that is comes from the ASG's record of the launch the resize caused (launches.py), never from
    which instances are new: node repair or someone else may have launched one meanwhile.
    """

    run: SwapRun
    group: NodeGroup
    lb: ServiceElb | None
    changed: bool = False
    grown: Scaling | None = None  # the sizes it asked for
    since: datetime | None = None  # our clock just before the resize
    earlier: frozenset[str] = frozenset()  # the ASG's scaling activities already there then
    added: list[tuple[str, Node | None]] | None = None  # the instance (and node) it added, still there; None: unknown

    @property
    def original(self) -> Scaling:
        return self.group.scaling

    def grow(self, leaving: str) -> None:
        o, run = self.original, self.run
        bigger = Scaling(o.min_size, max(o.max_size, o.desired + 1), o.desired + 1)
        run.step(f"0/6 no other Ready node in the group can take the pods: grow node group {run.nodegroup} to {bigger}")
        self.since = run.deps.wall()
        self.earlier = frozenset(a["ActivityId"] for a in activities(run.deps.autoscaling, self._asgs, self.since))
        self.grown, self.changed = bigger, True  # from here on, restore() puts the sizes back
        self._apply(bigger)
        kube, nodegroup = run.deps.kube, run.nodegroup
        run.wait("another Ready node", lambda: drain.ready_spares(nodegroup_members(kube.nodes(), nodegroup), leaving))

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
            now = describe_nodegroup(run.deps.eks, run.cluster, run.nodegroup)
            if now.scaling != self.original:
                if now.desired > self.original.desired:  # nothing was removed: the ASG may have retried since
                    self._check_nothing_over()
                run.step(f"restore node group {run.nodegroup} to {self.original}", restoring=True)
                self._apply(self.original, wait=not isinstance(after, KeyboardInterrupt))
        except BaseException as err:
            run.say(f"could not restore node group {run.nodegroup} to {self.original} ({one_line(err)}); run:")
            for command in self._commands():
                run.say(f"  {command}")
            if after is None or not isinstance(err, Exception):
                raise

    def _remove_added(self) -> None:
        """Drain and terminate (decrementing) the instance the resize launched; a node not joined yet runs nothing.
        Unidentified, nothing is terminated: the sizes go back only if no instance is over (no scale-in to pick)."""
        run = self.run
        launch, why = self._surge_launch()
        instances = self._instances()
        if launch is None or launch.instance not in instances:
            if len(instances) != self.original.desired:
                raise OpsError(
                    f"cannot tell which instance the resize to {self.grown} launched ({why}) and the group has "
                    f"{len(instances)} instances, not {self.original.desired}: terminating none, since a guess or a "
                    "scale-in could take the old node or one launched by node repair"
                )
            run.say(f"  nothing to remove: the group is back to {len(instances)} instance(s) ({why})")
            self.added = []
            return
        nodes = {n.provider_id.rsplit("/", 1)[-1]: n for n in run.deps.kube.nodes()}
        self.added = [(launch.instance, nodes.get(launch.instance))]
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

    def _surge_launch(self) -> tuple[Launch | None, str]:
        """The launch the resize caused, waited for until the ASG has recorded it and every launch found is over; None
        and why when there is not exactly one that left an instance (all failed, several, or the timeout)."""
        run, grown = self.run, self.grown
        if grown is None or self.since is None:  # grow() sets both before the resize
            return None, "the resize was not sent"
        found: list[Launch] = []
        quiet: list[tuple[int, float]] = []  # (launches seen, since when) while every launch has failed

        def recorded() -> tuple[bool, str]:
            found[:] = self._launches()
            seen = "; ".join(map(str, found)) or "none recorded yet"
            if not found or not all(launch.finished for launch in found):
                return False, seen  # not recorded yet, or an instance may still come (WaitingForInstanceId, ...)
            if any(launch.live for launch in found):
                return True, seen
            if len(self._instances()) != self.original.desired:
                return False, seen  # every launch failed, yet one is over: the ASG is retrying
            # Every launch failed and nothing is over, but the ASG retries a failed launch: only a quiet spell with
            # no new launch says it has given up (else a retry would start while the sizes go back).
            now = run.deps.clock.now()
            if not quiet or quiet[0][0] != len(found):
                quiet[:] = [(len(found), now)]
            waited = now - quiet[0][1]
            return waited >= RETRY_QUIET_SECONDS, f"{seen}; no retry for {waited:.0f} s"

        try:
            seen = run.wait(f"the ASG's record of the launch the resize to {grown} caused", recorded)
        except OpsError as err:  # timed out: no launch to name
            return None, one_line(err)
        live = [launch for launch in found if launch.live]
        return (live[0], seen) if len(live) == 1 else (None, f"launches: {seen}")

    def _launches(self) -> list[Launch]:
        assert self.since is not None  # set by grow() before the resize
        return resize_launches(self.run.deps.autoscaling, self._asgs, self.since, self.original.desired, self.earlier)

    def _check_nothing_over(self) -> None:
        """Right before the sizes go back with nothing removed: a retry started since would leave a scale-in to pick
        among one instance too many."""
        under_way = [launch for launch in self._launches() if not launch.finished] if self.since else []
        instances = self._instances()
        if under_way or len(instances) != self.original.desired:
            self.added = None  # the printed commands say how to find it
            launches = "; ".join(map(str, under_way))
            why = f"a launch under way ({launches})" if under_way else f"{len(instances)} instances"
            raise OpsError(
                f"the group has {why} since the resize's launch looked failed: keeping its sizes, since a scale-in "
                "could take the old node"
            )

    def _commands(self) -> list[str]:
        run = self.run
        remove: list[str] = []
        if self.added is None and self.grown is not None:  # stopped before the instance was known: say how to find it
            d = self.original.desired
            query = (
                f"Activities[?contains(Cause, '{resize_cause(d)}') || contains(Cause, 'increasing the capacity from "
                f"{d} to {d + 1}')].[ActivityId,StartTime,StatusCode,Description,Cause]"
            )
            remove += [
                'first find the instance the resize launched: Description "Launching a new EC2 instance: i-...", '
                f'StatusCode Successful, Cause with "{resize_cause(d)}" or, after that one Failed, the next whose '
                f'Cause is only "At ... {retry_cause(d)}" (not a replacement); wait while one is in progress:',
                *(
                    f"aws autoscaling describe-scaling-activities --auto-scaling-group-name {asg} --no-cli-pager "
                    f'--query "{query}"'
                    for asg in self._asgs
                ),
                "its node is the one whose providerID ends with that instance id; drain it and terminate it with "
                "--should-decrement-desired-capacity:",
                "kubectl get nodes -o custom-columns=NODE:.metadata.name,PROVIDER_ID:.spec.providerID",
            ]
        for instance, node in self.added or []:  # out of the ELB and drained before it goes
            state = self._lifecycle(instance)  # the terminate may have gone through before an interrupt
            if state is not None and ("Terminat" in state or state == "gone"):
                remove.append(f"{instance} is {state}: nothing to do for it")
                continue
            if state is None:
                remove.append(
                    f"only if `aws autoscaling describe-auto-scaling-instances --instance-ids {instance} "
                    f"--no-cli-pager` still lists {instance} InService (AWS could not say now):"
                )
            if node is not None:
                remove += [
                    f"kubectl label node {node.name} {EXCLUDE_FROM_LB_LABEL}=true",
                    f"kubectl drain {node.name} --ignore-daemonsets --delete-emptydir-data",
                ]
            remove.append(
                f"aws autoscaling terminate-instance-in-auto-scaling-group --instance-id {instance} "
                "--should-decrement-desired-capacity --no-cli-pager"
            )
        return [*remove, lock.nodegroup_sizes_command(run.cluster, run.nodegroup, self.original.cli_args())]

    @property
    def _asgs(self) -> tuple[str, ...]:
        return self.group.asg_names

    def _lifecycle(self, instance: str) -> str | None:
        """The instance's LifecycleState in its ASG, "gone" when it has none; None when AWS cannot say."""
        try:
            found = self.run.deps.autoscaling.describe_auto_scaling_instances(InstanceIds=[instance])
        except BaseException:  # a second Ctrl-C too: the commands still get printed
            return None
        states = [str(i["LifecycleState"]) for i in found["AutoScalingInstances"]]
        return states[0] if states else "gone"

    def _instances(self) -> set[str]:
        """The node group's instances that are not going away."""
        found = self.run.deps.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(self._asgs))
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
