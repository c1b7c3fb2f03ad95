"""Every Kubernetes object the program applies passes kubernetes-validate's strict schemas at the cluster's version.

Strict means unknown fields are errors, as `kubectl apply --validate=strict` (the server's default field validation
warns only) would make them: a typo such as `readinesProbe` would otherwise be silently dropped by the API server.
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml
from render import WORKLOADS, foo_run, kubernetes_manifests, kubernetes_version, to_yaml

VERSION = kubernetes_version("foo")  # e.g. "1.33.0"
MAJOR_MINOR = VERSION.rsplit(".", 1)[0]
EXPECTED_KINDS = {"Namespace", "Secret", "PodDisruptionBudget", "NetworkPolicy", "Service"}  # and the workload


@pytest.fixture(scope="module", params=WORKLOADS)
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """The objects as YAML documents (what `kubectl apply -f` would read), parsed back."""
    documents = "---\n".join(to_yaml(m) for m in kubernetes_manifests(foo_run(request.param)))
    return [d for d in yaml.safe_load_all(documents) if d]


def validate(obj: dict[str, Any]) -> str:
    """kubernetes-validate at exactly the cluster's minor; returns the schema version it used."""
    return kubernetes_validate.validate(obj, VERSION, strict=True)


def test_schemas_for_the_cluster_version_are_bundled() -> None:
    # validate() silently falls back to the newest older schema set; insist on the exact one.
    assert VERSION in kubernetes_validate.utils.all_versions(), (
        f"kubernetes-validate has no schemas for {VERSION}; bump kubernetes-validate in requirements-dev.txt"
    )


def test_every_object_is_rendered(manifests: list[dict[str, Any]]) -> None:
    kinds = {m["kind"] for m in manifests}
    assert kinds >= EXPECTED_KINDS, f"not rendered: {EXPECTED_KINDS - kinds}"
    assert len(kinds & {"Deployment", "ReplicationController"}) == 1


def test_manifests_pass_strict_schema(manifests: list[dict[str, Any]]) -> None:
    errors = []
    for obj in manifests:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            used = validate(obj)
        except kubernetes_validate.ValidationError as e:
            where = ".".join(str(p) for p in e.path)
            errors.append(f"{name}: {where}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(f"{name}: {e.message}")
        else:
            assert used == MAJOR_MINOR, f"{name} was validated against {used}, not {MAJOR_MINOR}"
    assert not errors, "kubernetes-validate --strict -k {}:\n{}".format(VERSION, "\n".join(errors))


def _workload(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [m for m in manifests if m["kind"] in ("Deployment", "ReplicationController")]
    return copy.deepcopy(found)


def test_check_rejects_an_unknown_container_field(manifests: list[dict[str, Any]]) -> None:
    broken = _workload(manifests)
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        validate(broken)


def test_check_rejects_a_wrong_type(manifests: list[dict[str, Any]]) -> None:
    broken = _workload(manifests)
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError, match="three"):
        validate(broken)


def test_check_rejects_a_field_from_a_newer_kubernetes() -> None:
    """The version matters: a field the cluster's release does not know yet is an error at that version."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "x", "image": "x", "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}}]},
    }
    validate(pod)  # preStop.sleep exists since 1.29, so 1.33 accepts it...
    with pytest.raises(kubernetes_validate.ValidationError, match="sleep"):
        kubernetes_validate.validate(pod, "1.28.0", strict=True)  # ...and 1.28 does not
