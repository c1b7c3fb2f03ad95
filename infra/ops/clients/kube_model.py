"""Plain snapshots of the Kubernetes objects the decisions look at (no client needed)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from infra.ops.errors import OpsError

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
EXCLUDE_FROM_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"  # set by EKS on every managed node group node

WorkloadKind = Literal["rc", "deployment"]
_KIND_ALIASES: dict[str, WorkloadKind] = {
    "rc": "rc",
    "replicationcontroller": "rc",
    "deployment": "deployment",
    "deploy": "deployment",
}


@dataclass(frozen=True)
class Node:
    name: str
    ready: bool
    unschedulable: bool = False
    provider_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    node: str = ""
    phase: str = "Running"
    ready: bool = True
    owner_kinds: tuple[str, ...] = ()
    mirror: bool = False
    deleting: bool = False  # metadata.deletionTimestamp is set: the kubelet is stopping it
    local_storage: bool = False  # has an emptyDir volume: its data goes with the pod

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class WorkloadRef:
    kind: WorkloadKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class WorkloadStatus:
    desired: int
    ready: int


@dataclass(frozen=True)
class Lease:
    """A coordination.k8s.io/v1 Lease used as a lock: who holds it, since when (uid: to release only our own)."""

    uid: str
    holder: str
    acquired: datetime | None


def nodegroup_members(nodes: Sequence[Node], nodegroup: str) -> list[Node]:
    """Only this node group's nodes count against its desired size (other groups may exist)."""
    return [n for n in nodes if n.labels.get(NODEGROUP_LABEL) == nodegroup]


def parse_workload(text: str) -> WorkloadRef:
    """`rc/helloworld-1.0.0` or `deployment/helloworld` (the helloworldWorkload output)."""
    kind, _, name = text.partition("/")
    resolved = _KIND_ALIASES.get(kind.strip().lower())
    if resolved is None or not name.strip():
        raise OpsError(f"workload {text!r} should look like rc/NAME or deployment/NAME")
    return WorkloadRef(resolved, name.strip())


class ClusterReader(Protocol):
    """What verify reads from a cluster (kube.Kube, or a fake in tests)."""

    def nodes(self) -> list[Node]: ...

    def pods(self, *, namespace: str | None = None, node: str | None = None) -> list[Pod]: ...

    def workload(self, ref: WorkloadRef, namespace: str) -> WorkloadStatus: ...

    def service_hostname(self, name: str, namespace: str) -> str | None: ...


class ClusterOps(ClusterReader, Protocol):
    """What swap-node also changes: single calls, no decisions."""

    def cordon(self, node: str) -> None: ...

    def label_node(self, node: str, key: str, value: str) -> None: ...

    def evict(self, pod: Pod) -> str: ...  # "evicted" | "blocked" (429) | "gone"
