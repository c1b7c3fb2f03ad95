"""swap-node's pure decisions for replacing a node: what to evict, in which order, retrying, when done."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from infra.ops.clients.kube_model import EXCLUDE_FROM_LB_LABEL, Node, Pod, WorkloadKind, WorkloadRef
from infra.ops.errors import OpsError
from infra.ops.waiting import Backoff, Clock

_FINISHED = ("Succeeded", "Failed")
PDB_BACKOFF = Backoff(initial=1.0, factor=2.0, maximum=16.0)


@dataclass(frozen=True)
class NodeMarks:
    """What step 1 found on the node before changing anything."""

    cordoned: bool
    labelled: bool


@dataclass
class NodeChanges:
    """What a swap changed on the node, so its undo reverses exactly that: a cordon or label the operator put
    there before (a quarantined node) stays. `found` is None until step 1 has read the node."""

    node: str
    found: NodeMarks | None = None
    cordoned: bool = False
    labelled: bool = False
    terminate_sent: bool = False  # from then on the node is going away: nothing is undone

    def undo_commands(self) -> list[str]:
        """What reverses them by hand; until the terminate nothing else needs undoing (evicted pods run elsewhere)."""
        commands = [f"kubectl uncordon {self.node}"] if self.cordoned else []
        return commands + ([f"kubectl label node {self.node} {EXCLUDE_FROM_LB_LABEL}-"] if self.labelled else [])

    def state(self) -> str:
        return _joined([("cordoned", self.cordoned), ("excluded from load balancers", self.labelled)])

    def undone(self) -> str:
        """What the undo did, and what it left as the run found it ("not touched" when the run changed nothing)."""
        label = EXCLUDE_FROM_LB_LABEL
        did = _joined(
            [("uncordoned it", self.cordoned), (f"removed its label {label} (it rejoins the ELB)", self.labelled)]
        )
        found = self.found or NodeMarks(cordoned=False, labelled=False)
        kept = _joined([("cordoned", found.cordoned), (f"labelled {label}", found.labelled)])
        said = ([did] if did else []) + ([f"it was {kept} before this run and stays so"] if kept else [])
        return f"{self.node}: " + ("; ".join(said) or "not touched")


def _joined(words_if: list[tuple[str, bool]]) -> str:
    return " and ".join(words for words, wanted in words_if if wanted)


@dataclass(frozen=True)
class EvictionPlan:
    evict: list[Pod]
    skipped: list[tuple[Pod, str]]
    refused: list[tuple[Pod, str]]  # also in `evict`; evicted only with --force


def refusal_reason(pod: Pod) -> str | None:
    """Why `kubectl drain` would refuse to evict a pod without --force (nothing recreates it, or its data)."""
    if not pod.owner_kinds:
        return "no controller recreates it"
    if pod.local_storage:
        return "its emptyDir data would be lost"
    return None


def refusal_message(refused: Sequence[tuple[Pod, str]]) -> str:
    pods = "; ".join(f"{pod.ref} ({reason})" for pod, reason in refused)
    return f"refusing to evict {pods}; run again with --force to evict them anyway (like kubectl drain --force)"


def checked_plan(pods: Sequence[Pod], *, force: bool) -> EvictionPlan:
    """The plan for these pods; OpsError naming the pods it must not evict unless forced."""
    plan = plan_evictions(pods)
    if plan.refused and not force:
        raise OpsError(refusal_message(plan.refused))
    return plan


def skip_reason(pod: Pod) -> str | None:
    """Why a pod is left alone, like `kubectl drain --ignore-daemonsets`; None to evict it."""
    if pod.mirror:
        return "mirror pod (static, owned by the kubelet)"
    if "DaemonSet" in pod.owner_kinds:
        return "DaemonSet pod (runs on every node)"
    if pod.phase in _FINISHED:
        return f"already {pod.phase}"
    return None


def plan_evictions(pods: Sequence[Pod]) -> EvictionPlan:
    evict: list[Pod] = []
    skipped: list[tuple[Pod, str]] = []
    for pod in pods:
        reason = skip_reason(pod)
        if reason is None:
            evict.append(pod)
        else:
            skipped.append((pod, reason))
    # Apps first, kube-system last: DNS and other add-ons keep serving while apps move.
    evict.sort(key=lambda p: (p.namespace == "kube-system", p.namespace, p.name))
    refused = [(pod, reason) for pod in evict if (reason := refusal_reason(pod)) is not None]
    return EvictionPlan(evict, skipped, refused)


def evict_all(
    pods: Sequence[Pod],
    evict: Callable[[Pod], str],
    *,
    timeout: float,
    clock: Clock,
    out: Callable[[str], None],
    backoff: Backoff = PDB_BACKOFF,
) -> None:
    """Evict every pod; those a PodDisruptionBudget blocks (429) are retried with backoff."""
    deadline = clock.now() + timeout
    delays = backoff.delays()
    pending = list(pods)
    while pending:
        blocked = []
        for pod in pending:
            outcome = evict(pod)
            if outcome == "blocked":
                blocked.append(pod)
            else:
                out(f"  {outcome}: {pod.ref}")
        if not blocked:
            return
        names = ", ".join(p.ref for p in blocked)
        remaining = deadline - clock.now()
        if remaining <= 0:
            raise OpsError(f"timed out after {timeout:g}s: a PodDisruptionBudget still blocks evicting {names}")
        delay = min(next(delays), remaining)
        out(f"  blocked by a PodDisruptionBudget (429), retrying in {delay:g}s: {names}")
        clock.sleep(delay)
        pending = blocked


def drained(pods_on_node: Sequence[Pod], *, node_ready: bool) -> tuple[bool, str]:
    """Done when nothing evictable is left on the node. Terminating pods count while the node is
    Ready; on a NotReady node no kubelet will ever confirm their end, so being deleted is gone
    enough (what `kubectl drain --skip-wait-for-delete-timeout` does)."""
    left = [p for p in plan_evictions(pods_on_node).evict if node_ready or not p.deleting]
    if not left:
        return True, "no evictable pods left"
    return False, f"{len(left)} pod(s) still on the node: " + ", ".join(p.ref for p in left[:3])


# The controller that owns a workload's pods: an RC its own, a Deployment's through its ReplicaSets.
_POD_OWNER: dict[WorkloadKind, str] = {"rc": "ReplicationController", "deployment": "ReplicaSet"}


def serving_pods(pods: Sequence[Pod], namespace: str, workload: WorkloadRef) -> list[Pod]:
    """The workload's ready pods not being deleted, by name: under externalTrafficPolicy Local, what keeps a node
    InService (kube-proxy's health check counts ready local endpoints, not terminating ones). Its pods are named
    after it (`<rc>-xxxxx`, `<deployment>-<hash>-xxxxx`); other pods of the namespace (a Job's) are owned otherwise."""
    return sorted(
        (
            p
            for p in pods
            if p.namespace == namespace
            and _POD_OWNER[workload.kind] in p.owner_kinds
            and p.name.startswith(f"{workload.name}-")
            and p.ready
            and not p.deleting
        ),
        key=lambda p: p.name,
    )


def find_node(nodes: Sequence[Node], ref: str) -> Node:
    """A node by its name or by the EC2 instance id at the end of its providerID."""
    for node in nodes:
        if ref in (node.name, node.provider_id.rsplit("/", 1)[-1]):
            return node
    known = ", ".join(n.name for n in nodes) or "none"
    raise OpsError(f"node {ref!r} not found (nodes: {known})")


def spare_capacity(nodes: Sequence[Node], leaving: str) -> int:
    """Ready, schedulable nodes that will take the evicted pods."""
    return sum(1 for n in nodes if n.name != leaving and n.ready and not n.unschedulable)


def ready_spares(nodes: Sequence[Node], leaving: str) -> tuple[bool, str]:
    """A wait probe: done once another Ready, schedulable node can take the evicted pods."""
    spare = spare_capacity(nodes, leaving)
    return spare > 0, f"{spare} other Ready node(s)"


def replacement_progress(nodes: Sequence[Node], old: str, desired: int) -> tuple[bool, str]:
    """Done when the old node is gone and `desired` other nodes are Ready."""
    ready = sum(1 for n in nodes if n.name != old and n.ready)
    old_present = any(n.name == old for n in nodes)
    detail = f"{ready}/{desired} Ready"
    if old_present:
        detail += f", old node {old} still registered"
    return (not old_present and ready >= desired), detail
