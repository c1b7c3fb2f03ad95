"""Thin layer over the official kubernetes client: fetch snapshots, make single calls.

No decisions here (those live with the verbs: verify's checks, swap-node's drain), so tests can swap in a fake
with the same few CoreV1Api/AppsV1Api methods.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from infra.ops.clients.exec_plugin import exec_command, exec_plugin_failures, guard_token_refresh
from infra.ops.clients.kube_model import (
    MIRROR_ANNOTATION,
    Lease,
    Node,
    Pod,
    WorkloadRef,
    WorkloadStatus,
)
from infra.ops.errors import OpsError
from infra.ops.limits import KUBE_TIMEOUT as TIMEOUT  # every call's (connect, read) seconds: see limits.py
from infra.ops.limits import Timeout

EvictOutcome = Literal["evicted", "blocked", "gone"]
T = TypeVar("T")

NO_RETRIES = urllib3.Retry(0)

# HTTP answers the lease calls expect: creating a Lease that exists, deleting one that is gone or not ours.
_CONFLICT, _NOT_FOUND = 409, 404

# The generated client picks JSON Patch for a dict body; a merge patch is what we mean.
_MERGE_PATCH = "application/merge-patch+json"


def node_from_api(obj: client.V1Node) -> Node:
    meta, spec, status = obj.metadata, obj.spec, obj.status
    conditions = (status.conditions if status else None) or []
    return Node(
        name=(meta.name if meta else None) or "",
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        unschedulable=bool(spec and spec.unschedulable),
        provider_id=(spec.provider_id if spec else None) or "",
        labels=dict((meta.labels if meta else None) or {}),
    )


def pod_from_api(obj: client.V1Pod) -> Pod:
    meta, spec, status = obj.metadata, obj.spec, obj.status
    conditions = (status.conditions if status else None) or []
    owners = (meta.owner_references if meta else None) or []
    annotations = (meta.annotations if meta else None) or {}
    return Pod(
        name=(meta.name if meta else None) or "",
        namespace=(meta.namespace if meta else None) or "",
        node=(spec.node_name if spec else None) or "",
        phase=(status.phase if status else None) or "",
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        owner_kinds=tuple(o.kind for o in owners),
        mirror=MIRROR_ANNOTATION in annotations,
        deleting=bool(meta and meta.deletion_timestamp),
        local_storage=any(v.empty_dir is not None for v in (spec.volumes if spec else None) or []),
    )


def api_client(kubeconfig: dict[str, Any]) -> client.ApiClient:
    """A client for the stack's cluster, in memory (the kubeconfig never touches disk; its user runs `aws eks
    get-token`), without transport retries: callers set timeouts and do their own retrying. A failed exec plugin,
    now or at a token refresh, is an ExecPluginError saying why (the client itself would only log it)."""
    settings = client.Configuration()
    settings.retries = NO_RETRIES
    command = exec_command(kubeconfig)
    with exec_plugin_failures(command):
        api = config.new_client_from_config_dict(
            config_dict=kubeconfig, persist_config=False, client_configuration=settings
        )
    guard_token_refresh(settings, command)
    return api


class Kube:
    def __init__(
        self,
        core: client.CoreV1Api,
        apps: client.AppsV1Api,
        coordination: client.CoordinationV1Api,
        *,
        timeout: Timeout = TIMEOUT,
    ) -> None:
        self.core = core
        self.apps = apps
        self.coordination = coordination
        self.timeout = timeout

    @classmethod
    def from_kubeconfig(cls, kubeconfig: dict[str, Any], *, timeout: Timeout = TIMEOUT) -> "Kube":
        api = api_client(kubeconfig)
        return cls(client.CoreV1Api(api), client.AppsV1Api(api), client.CoordinationV1Api(api), timeout=timeout)

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One API call with the timeout; transport failures become one readable line."""
        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except urllib3.exceptions.HTTPError as err:
            raise OpsError(f"Kubernetes API: {transport_problem(err, self.timeout)}") from err

    def nodes(self) -> list[Node]:
        return [node_from_api(n) for n in self._call(self.core.list_node).items]

    def pods(self, *, namespace: str | None = None, node: str | None = None) -> list[Pod]:
        selector = f"spec.nodeName={node}" if node else None
        if namespace:
            found = self._call(self.core.list_namespaced_pod, namespace, field_selector=selector)
        else:
            found = self._call(self.core.list_pod_for_all_namespaces, field_selector=selector)
        return [pod_from_api(p) for p in found.items]

    def workload(self, ref: WorkloadRef, namespace: str) -> WorkloadStatus:
        obj: Any
        if ref.kind == "rc":
            obj = self._call(self.core.read_namespaced_replication_controller, ref.name, namespace)
        else:
            obj = self._call(self.apps.read_namespaced_deployment, ref.name, namespace)
        desired = obj.spec.replicas if obj.spec and obj.spec.replicas is not None else 1
        ready = (obj.status.ready_replicas if obj.status else None) or 0
        return WorkloadStatus(desired=desired, ready=ready)

    def service_hostname(self, name: str, namespace: str) -> str | None:
        svc = self._call(self.core.read_namespaced_service, name, namespace)
        lb = svc.status.load_balancer if svc.status else None
        for ingress in (lb.ingress if lb else None) or []:
            if ingress.hostname:
                return str(ingress.hostname)
        return None

    def service_traffic_policy(self, name: str, namespace: str) -> str:
        """The Service's externalTrafficPolicy; "Cluster" (the API's default) when unset."""
        svc = self._call(self.core.read_namespaced_service, name, namespace)
        return str((svc.spec.external_traffic_policy if svc.spec else None) or "Cluster")

    def cordon(self, node: str) -> None:
        self._call(self.core.patch_node, node, {"spec": {"unschedulable": True}}, _content_type=_MERGE_PATCH)

    def label_node(self, node: str, key: str, value: str) -> None:
        body = {"metadata": {"labels": {key: value}}}
        self._call(self.core.patch_node, node, body, _content_type=_MERGE_PATCH)

    def uncordon(self, node: str) -> None:
        self._call(self.core.patch_node, node, {"spec": {"unschedulable": False}}, _content_type=_MERGE_PATCH)

    def unlabel_node(self, node: str, key: str) -> None:
        body = {"metadata": {"labels": {key: None}}}  # null removes the key in a JSON merge patch (RFC 7386)
        self._call(self.core.patch_node, node, body, _content_type=_MERGE_PATCH)

    def create_lease(self, namespace: str, name: str, holder: str, acquired: datetime) -> str | None:
        """Create a Lease held by `holder`: its uid, or None when one of that name exists (creation is atomic, so
        of two runs only one gets it)."""
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace),
            spec=client.V1LeaseSpec(holder_identity=holder, acquire_time=MicroTime.of(acquired)),
        )
        try:
            created = self._call(self.coordination.create_namespaced_lease, namespace, body)
        except ApiException as err:
            if err.status == _CONFLICT:
                return None
            raise OpsError(f"creating Lease {namespace}/{name} failed: HTTP {err.status} {err.reason}") from err
        return _uid(created)

    def read_lease(self, namespace: str, name: str) -> tuple[Lease, dict[str, str]] | None:
        """The Lease and its annotations; None when there is none."""
        try:
            found = self._call(self.coordination.read_namespaced_lease, name, namespace)
        except ApiException as err:
            if err.status == _NOT_FOUND:
                return None
            raise OpsError(f"reading Lease {namespace}/{name} failed: HTTP {err.status} {err.reason}") from err
        spec = found.spec
        lease = Lease(
            uid=_uid(found),
            holder=(spec.holder_identity if spec else None) or "unknown",
            acquired=spec.acquire_time if spec else None,
        )
        return lease, dict((found.metadata.annotations if found.metadata else None) or {})

    def annotate_lease(self, namespace: str, name: str, uid: str, annotations: Mapping[str, str]) -> None:
        """Add annotations to the Lease, only while it is still the one with `uid` (the API server answers 409
        to a patch whose metadata.uid names another object)."""
        body = {"metadata": {"uid": uid, "annotations": dict(annotations)}}
        try:
            self._call(self.coordination.patch_namespaced_lease, name, namespace, body, _content_type=_MERGE_PATCH)
        except ApiException as err:
            raise OpsError(f"annotating Lease {namespace}/{name} failed: HTTP {err.status} {err.reason}") from err

    def delete_lease(self, namespace: str, name: str, uid: str) -> bool:
        """Delete the Lease only if it is still the one with `uid`; False when it is gone or another's now."""
        options = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid))
        try:
            self._call(self.coordination.delete_namespaced_lease, name, namespace, body=options)
        except ApiException as err:
            if err.status in (_CONFLICT, _NOT_FOUND):
                return False
            raise OpsError(f"deleting Lease {namespace}/{name} failed: HTTP {err.status} {err.reason}") from err
        return True

    def evict(self, pod: Pod) -> EvictOutcome:
        """Ask the Eviction API (which honours PodDisruptionBudgets) to remove one pod."""
        body = client.V1Eviction(
            api_version="policy/v1",
            kind="Eviction",
            metadata=client.V1ObjectMeta(name=pod.name, namespace=pod.namespace),
        )
        try:
            self._call(self.core.create_namespaced_pod_eviction, pod.name, pod.namespace, body)
        except ApiException as err:
            if err.status == 429:  # a PodDisruptionBudget says "not now"
                return "blocked"
            if err.status == 404:  # already gone: that is what we wanted
                return "gone"
            raise OpsError(f"evicting {pod.ref} failed: HTTP {err.status} {err.reason}") from err
        return "evicted"


def _uid(obj: client.V1Lease) -> str:
    return str((obj.metadata.uid if obj.metadata else None) or "")  # the API server always sets it


class MicroTime(datetime):
    """Kubernetes' MicroTime needs exactly six fraction digits (RFC 3339 with `.000000`). The client sends
    `isoformat()`, which drops them when they are zero, and the API server then answers 400."""

    @classmethod
    def of(cls, moment: datetime) -> "MicroTime":
        utc = moment.astimezone(UTC)
        return cls(*utc.timetuple()[:6], utc.microsecond, tzinfo=UTC)

    def isoformat(self, sep: str = "T", timespec: str = "microseconds") -> str:
        return super().isoformat(sep, timespec)


def transport_problem(err: urllib3.exceptions.HTTPError, timeout: Timeout) -> str:
    """What went wrong below HTTP, in a few words (urllib3's own text runs to hundreds of characters)."""
    reason = err.reason if isinstance(err, urllib3.exceptions.MaxRetryError) else err
    connect, read = timeout
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "DNS lookup failed"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):  # a subclass of ConnectTimeoutError
        return "connection refused" if "refused" in str(reason).lower() else "cannot connect"
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return f"no connection within {connect:g}s"
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        return f"no answer within {read:g}s"
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        return "connection dropped"
    return type(reason).__name__
