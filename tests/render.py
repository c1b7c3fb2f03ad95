"""What the program hands to Kubernetes and IAM, as the files an external validator reads.

`kubernetes_manifests(run)` turns every `kubernetes:*` resource the program registered into the manifest the
provider would apply (apiVersion, kind, metadata, spec...); `iam_documents(run)` collects every IAM policy and trust
document. Both come from a mocked run (`harness.run_program`), so no cloud or cluster is needed.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from harness import Registration, Run, shared_run, stack_config, unsecret

HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"  # a chart, not an object: its objects come from the chart
# Objects of CRDs the built-in schemas cannot know: checked against their project's documented schema instead.
CUSTOM_KINDS = ("secrets-store.csi.x-k8s.io/v1:SecretProviderClass",)
WORKLOADS = ("ReplicationController", "Deployment")


@functools.cache
def foo_run(workload: str = "ReplicationController") -> Run:
    """foo's config with `infra:helloworld.workload` set, run once per test session (treat it as read-only)."""
    config = stack_config("foo")
    config["infra:helloworld"] = {**(config.get("infra:helloworld") or {}), "workload": workload}
    return shared_run(config)


def kubernetes_version(stack: str = "foo") -> str:
    """The cluster's Kubernetes version as kubernetes-validate wants it: `infra:cluster.version` + ".0"."""
    version = (stack_config(stack).get("infra:cluster") or {}).get("version", "1.33")
    return f"{version}.0"


def kubernetes_resources(run: Run, *, custom: bool = False) -> list[Registration]:
    """The built-in kinds' objects, or (custom=True) the objects of CUSTOM_KINDS."""
    objects = [r for r in run.resources if r.type.startswith("kubernetes:") and r.type != HELM_RELEASE_TYPE]
    return [r for r in objects if r.type.removeprefix("kubernetes:").endswith(CUSTOM_KINDS) == custom]


def manifest(reg: Registration) -> dict[str, Any]:
    """One registration's inputs as a Kubernetes object, apiVersion and kind first (as kubectl would print it)."""
    inputs = unsecret(reg.inputs)
    head = {k: inputs.pop(k) for k in ("apiVersion", "kind") if k in inputs}
    return {**head, **inputs}


def kubernetes_manifests(run: Run, *, custom: bool = False) -> list[dict[str, Any]]:
    return [manifest(r) for r in kubernetes_resources(run, custom=custom)]


def to_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def manifest_filename(obj: dict[str, Any]) -> str:
    """`<kind>-<name>.yaml`, lowercase: unique within one run (one object per kind and name)."""
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def write_manifests(run: Run, directory: Path) -> list[Path]:
    """One YAML file per object (checkov reports per file, so a finding names its object)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for obj in kubernetes_manifests(run):
        path = directory / manifest_filename(obj)
        assert not path.exists(), f"two objects render to {path.name}"
        path.write_text(to_yaml(obj))
        paths.append(path)
    return paths


# ---------------------------------------------------------------- IAM


@dataclass(frozen=True)
class IamDocument:
    """A policy document the program hands IAM: `kind` is "trust" (a role's assumeRolePolicy) or "identity"."""

    kind: str
    resource: str  # "<type> <name>", for messages
    text: str

    @property
    def parsed(self) -> dict[str, Any]:
        return json.loads(self.text)


# type -> (input holding a policy document, what kind of document it is)
IAM_DOCUMENT_INPUTS: dict[str, tuple[str, str]] = {
    "aws:iam/role:Role": ("assumeRolePolicy", "trust"),
    "aws:iam/policy:Policy": ("policy", "identity"),
    "aws:iam/rolePolicy:RolePolicy": ("policy", "identity"),
    "aws:iam/userPolicy:UserPolicy": ("policy", "identity"),
    "aws:iam/groupPolicy:GroupPolicy": ("policy", "identity"),
}
MANAGED_POLICY_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
)


def _document_text(value: Any) -> str:
    """Pulumi accepts a policy as a JSON string or as an object; IAM always gets the JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def iam_documents(run: Run) -> list[IamDocument]:
    docs = []
    for reg in run.resources:
        if reg.type in IAM_DOCUMENT_INPUTS:
            key, kind = IAM_DOCUMENT_INPUTS[reg.type]
            value = reg.plain(key)
            assert value is not None, f"{reg.type} {reg.name} has no {key}"
            docs.append(IamDocument(kind, f"{reg.type} {reg.name}", _document_text(value)))
        if reg.type == "aws:iam/role:Role":
            # Inline policies on a Role (`inlinePolicies[].policy`) are identity policies too.
            for inline in reg.plain("inlinePolicies") or []:
                if inline.get("policy"):
                    docs.append(IamDocument("identity", f"{reg.type} {reg.name}", _document_text(inline["policy"])))
    return docs


def managed_policy_arns(run: Run) -> list[tuple[Registration, str]]:
    """(attachment or role, policyArn) for every managed policy the program attaches, Role.managedPolicyArns too."""
    found = []
    for reg in run.resources:
        if reg.type in MANAGED_POLICY_ATTACHMENTS:
            found.append((reg, reg.plain("policyArn")))
        elif reg.type == "aws:iam/role:Role":
            found.extend((reg, arn) for arn in reg.plain("managedPolicyArns") or [])
    return found
