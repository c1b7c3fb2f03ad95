"""The thin kubernetes layer, with a minimal fake of the few CoreV1Api/AppsV1Api methods used."""

import json
import sys
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from infra.ops.clients.kube import Kube, node_from_api, pod_from_api
from infra.ops.clients.kube_model import Pod, WorkloadRef, WorkloadStatus, parse_workload
from infra.ops.errors import OpsError


def meta(name: str, **kwargs: Any) -> k8s.V1ObjectMeta:
    return k8s.V1ObjectMeta(name=name, **kwargs)


def ready(value: str) -> list[k8s.V1PodCondition]:
    return [k8s.V1PodCondition(type="Ready", status=value)]


class Items:
    def __init__(self, items: list[Any]) -> None:
        self.items = items


class FakeCore:
    """Only what Kube calls; records patches and evictions."""

    def __init__(self, eviction_error: int | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.eviction_error = eviction_error
        self.timeouts: list[Any] = []  # the _request_timeout of every call

    def timed(self, options: dict[str, Any]) -> None:
        self.timeouts.append(options.get("_request_timeout"))

    def list_node(self, **options: Any) -> Items:
        self.timed(options)
        node = k8s.V1Node(
            metadata=meta("n1", labels={"eks.amazonaws.com/nodegroup": "ng"}),
            spec=k8s.V1NodeSpec(provider_id="aws:///us-west-2a/i-0abc", unschedulable=True),
            status=k8s.V1NodeStatus(conditions=[k8s.V1NodeCondition(type="Ready", status="True")]),
        )
        return Items([node, k8s.V1Node(metadata=meta("n2"))])

    def list_namespaced_pod(self, namespace: str, field_selector: str | None = None, **options: Any) -> Items:
        self.timed(options)
        self.calls.append(("list_namespaced_pod", (namespace, field_selector)))
        return Items(
            [k8s.V1Pod(metadata=meta("p", namespace=namespace), status=k8s.V1PodStatus(conditions=ready("True")))]
        )

    def list_pod_for_all_namespaces(self, field_selector: str | None = None, **options: Any) -> Items:
        self.timed(options)
        self.calls.append(("list_pod_for_all_namespaces", field_selector))
        return Items([])

    def read_namespaced_replication_controller(
        self, name: str, namespace: str, **options: Any
    ) -> k8s.V1ReplicationController:
        self.timed(options)
        return k8s.V1ReplicationController(
            spec=k8s.V1ReplicationControllerSpec(replicas=3),
            status=k8s.V1ReplicationControllerStatus(replicas=3, ready_replicas=2),
        )

    def read_namespaced_service(self, name: str, namespace: str, **options: Any) -> k8s.V1Service:
        self.timed(options)
        ingress = [k8s.V1LoadBalancerIngress(hostname="abc-123.us-west-2.elb.amazonaws.com")]
        status = k8s.V1ServiceStatus(load_balancer=k8s.V1LoadBalancerStatus(ingress=ingress))
        return k8s.V1Service(metadata=meta(name), status=status)

    def patch_node(self, name: str, body: Any, _content_type: str | None = None, **options: Any) -> None:
        self.timed(options)
        self.calls.append(("patch_node", (name, body, _content_type)))

    def create_namespaced_pod_eviction(self, name: str, namespace: str, body: k8s.V1Eviction, **options: Any) -> None:
        self.timed(options)
        self.calls.append(("evict", body))
        if self.eviction_error:
            raise ApiException(status=self.eviction_error, reason="Too Many Requests")


class FakeApps:
    def read_namespaced_deployment(self, name: str, namespace: str, **options: Any) -> k8s.V1Deployment:
        assert options == {"_request_timeout": (5.0, 20.0)}
        # replicas unset means 1; model_construct skips the selector/template a real object needs
        spec = k8s.V1DeploymentSpec.model_construct(replicas=None)
        return k8s.V1Deployment.model_construct(spec=spec, status=k8s.V1DeploymentStatus(ready_replicas=None))


def kube(core: FakeCore) -> Kube:
    return Kube(cast(Any, core), cast(Any, FakeApps()), cast(Any, None))  # the lease calls: test_ops_kube_lease.py


def test_nodes_and_pods_become_plain_snapshots() -> None:
    core = FakeCore()
    n1, n2 = kube(core).nodes()
    assert (n1.name, n1.ready, n1.unschedulable, n1.provider_id) == ("n1", True, True, "aws:///us-west-2a/i-0abc")
    assert (n2.name, n2.ready, n2.provider_id) == ("n2", False, "")
    assert kube(core).pods(namespace="kube-system") == [Pod("p", "kube-system", phase="", ready=True)]
    kube(core).pods(node="n1")
    assert core.calls == [
        ("list_namespaced_pod", ("kube-system", None)),
        ("list_pod_for_all_namespaces", "spec.nodeName=n1"),
    ]


def test_pod_owner_and_mirror_detection() -> None:
    pod = k8s.V1Pod(
        metadata=meta(
            "kube-proxy-x",
            namespace="kube-system",
            annotations={"kubernetes.io/config.mirror": "abc"},
            owner_references=[k8s.V1OwnerReference(api_version="apps/v1", kind="DaemonSet", name="kp", uid="u")],
        ),
        spec=k8s.V1PodSpec(node_name="n1", containers=[k8s.V1Container(name="c")]),
        status=k8s.V1PodStatus(phase="Running", conditions=ready("False")),
    )
    assert pod_from_api(pod) == Pod("kube-proxy-x", "kube-system", "n1", "Running", False, ("DaemonSet",), True)
    assert node_from_api(k8s.V1Node()).name == ""


def test_pod_being_deleted_and_pod_with_emptydir() -> None:
    pod = k8s.V1Pod(
        metadata=meta("cache-0", namespace="helloworld", deletion_timestamp=datetime(2030, 1, 1, tzinfo=UTC)),
        spec=k8s.V1PodSpec(
            containers=[k8s.V1Container(name="c")],
            volumes=[
                k8s.V1Volume(name="config", config_map=k8s.V1ConfigMapVolumeSource(name="cm")),
                k8s.V1Volume(name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource()),
            ],
        ),
    )
    found = pod_from_api(pod)
    assert found.deleting and found.local_storage
    plain = pod_from_api(k8s.V1Pod(metadata=meta("p"), spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c")])))
    assert not plain.deleting and not plain.local_storage


def test_workloads_service_and_node_patches() -> None:
    core = FakeCore()
    k = kube(core)
    assert k.workload(parse_workload("rc/helloworld-1.0.0"), "helloworld") == WorkloadStatus(3, 2)
    assert k.workload(WorkloadRef("deployment", "helloworld"), "helloworld") == WorkloadStatus(1, 0)
    assert k.service_hostname("helloworld", "helloworld") == "abc-123.us-west-2.elb.amazonaws.com"
    k.cordon("n1")
    k.label_node("n1", "node.kubernetes.io/exclude-from-external-load-balancers", "true")
    k.uncordon("n1")
    k.unlabel_node("n1", "node.kubernetes.io/exclude-from-external-load-balancers")
    assert core.timeouts == [(5.0, 20.0)] * 6  # connect and read seconds, on every call
    merge = "application/merge-patch+json"  # not the generated client's default JSON Patch
    assert core.calls == [
        ("patch_node", ("n1", {"spec": {"unschedulable": True}}, merge)),
        (
            "patch_node",
            (
                "n1",
                {"metadata": {"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": "true"}}},
                merge,
            ),
        ),
        ("patch_node", ("n1", {"spec": {"unschedulable": False}}, merge)),
        (
            "patch_node",
            ("n1", {"metadata": {"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": None}}}, merge),
        ),
    ]


@pytest.mark.parametrize(("status", "outcome"), [(None, "evicted"), (429, "blocked"), (404, "gone")])
def test_eviction_outcomes(status: int | None, outcome: str) -> None:
    core = FakeCore(eviction_error=status)
    assert kube(core).evict(Pod("p", "ns")) == outcome
    body = core.calls[0][1]
    assert (body.api_version, body.kind, body.metadata.name, body.metadata.namespace) == (
        "policy/v1",
        "Eviction",
        "p",
        "ns",
    )


def test_other_eviction_errors_are_one_line() -> None:
    with pytest.raises(OpsError, match=r"^evicting ns/p failed: HTTP 500 Too Many Requests$"):
        kube(FakeCore(eviction_error=500)).evict(Pod("p", "ns"))


def test_parse_workload() -> None:
    assert parse_workload("rc/helloworld-1.0.0") == WorkloadRef("rc", "helloworld-1.0.0")
    assert str(parse_workload("Deployment/helloworld")) == "deployment/helloworld"
    with pytest.raises(OpsError, match="rc/NAME or deployment/NAME"):
        parse_workload("statefulset/x")


def test_client_from_in_memory_kubeconfig_runs_the_exec_plugin() -> None:
    # The exec user prints a token like `aws eks get-token` would; nothing is contacted.
    token = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {"token": "t0k"}}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [
            {
                "name": "u",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": sys.executable,
                        "args": ["-c", f"print({json.dumps(json.dumps(token))})"],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    k = Kube.from_kubeconfig(config)
    configuration = k.core.api_client.configuration
    assert configuration.host == "https://127.0.0.1:6443"
    assert configuration.api_key == {"BearerToken": "Bearer t0k"} or "t0k" in str(configuration.api_key)
