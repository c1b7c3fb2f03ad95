"""The CrossGuard pack in policy/: the foo stack passes every rule, and each rule catches what it is about.

Policies get props the way the engine hands them over: wrapped in the SDK's unknown-checking proxy (a Mapping,
not a dict). One test runs policy/__main__.py as `pulumi preview --policy-pack policy` would and calls the
analyzer's gRPC methods in-process.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from harness import ROOT, Registration, Run, shared_run, unsecret, with_changes
from policy_harness import run_policy_pack
from pulumi.runtime import proto
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import (
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

from policy.rules import POD_SPEC_PATHS, POLICIES

DELETE = object()  # a change that removes the key
OPTS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
    additional_secret_outputs=[],
)
CHECKED_TYPES = {
    "aws:rds/instance:Instance",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:eks/cluster:Cluster",
    "aws:ecr/repository:Repository",
}
POLICY_NAMES = [
    "rds-encrypted-private-protected",
    "no-ingress-from-anywhere",
    "launch-template-imdsv2",
    "eks-secrets-encryption-and-audit-logs",
    "ecr-scan-on-push",
    "k8s-nonroot-with-limits",
    "public-name-serves-tls",
    "iam-no-wildcard-resources",
    "idle-cost-increase",
]
CONTAINER = ("spec", "template", "spec", "containers", 0)


def violations(typ: str, props: Mapping[str, Any], name: str = "res") -> list[tuple[str, str]]:
    """(policy name, message) for every violation any policy reports on one resource."""
    args = ResourceValidationArgs(
        resource_type=typ,
        props=unknown_checking_proxy(copy.deepcopy(dict(props))),
        urn=f"urn:pulumi:foo::infra::{typ}::{name}",
        name=name,
        opts=OPTS,
        provider=None,
    )
    found: list[tuple[str, str]] = []
    for policy in POLICIES:

        def report(message: str, urn: str | None = None, policy: ResourceValidationPolicy = policy) -> None:
            found.append((policy.name, message))

        assert policy.validate(args, report) is None, "rules are synchronous"
    return found


def changed(props: Mapping[str, Any], *changes: tuple[tuple[str | int, ...], Any]) -> dict[str, Any]:
    """A deep copy of props with each (path, value) applied; value DELETE removes the key."""
    result = copy.deepcopy(dict(props))
    for path, value in changes:
        node: Any = result
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
        if value is DELETE:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return result


def plain(reg: Registration) -> dict[str, Any]:
    return unsecret(reg.inputs)


def assert_clean(run: Run) -> None:
    found = {r.urn: violations(r.type, plain(r), r.name) for r in run.resources}
    assert {urn: v for urn, v in found.items() if v} == {}


# ---------------------------------------------------------------- the stack passes


@pytest.fixture(scope="module")
def protected() -> Run:
    """foo, but with the database's data mattering: deletion protection on, Ephemeral tag false."""
    return shared_run(with_changes({"infra:database.ephemeral": False}))


@pytest.fixture(scope="module")
def deployment() -> Run:
    return shared_run(with_changes({"infra:helloworld.workload": "Deployment"}))


def test_foo_passes_every_policy(foo: Run) -> None:
    assert CHECKED_TYPES | {"kubernetes:core/v1:ReplicationController"} <= {r.type for r in foo.resources}
    assert_clean(foo)


def test_non_ephemeral_foo_passes_every_policy(protected: Run) -> None:
    rds = protected.one("aws:rds/instance:Instance")
    assert (rds.plain("deletionProtection"), rds.plain("tags")["Ephemeral"]) == (True, "false")
    assert_clean(protected)


def test_deployment_workload_passes_every_policy(deployment: Run) -> None:
    assert deployment.of_type("kubernetes:apps/v1:Deployment")
    assert_clean(deployment)


# ---------------------------------------------------------------- each rule catches its resource, broken

WORLD_SSH = {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.0.0.0/16", "0.0.0.0/0"]}
WORLD_V6 = {"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}
WORLD_ALL_TCP = {"protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["0.0.0.0/0"]}

BROKEN: list[tuple[str, list[tuple[tuple[str | int, ...], Any]], str, str]] = [
    (
        "aws:rds/instance:Instance",
        [(("storageEncrypted",), False)],
        "rds-encrypted-private-protected",
        "RDS instance 'database-postgres' stores its data unencrypted (storageEncrypted is False): "
        "set storage_encrypted=True",
    ),
    (
        "aws:rds/instance:Instance",
        [(("storageEncrypted",), DELETE)],
        "rds-encrypted-private-protected",
        "unencrypted (storageEncrypted is None)",
    ),
    (
        "aws:rds/instance:Instance",
        [(("publiclyAccessible",), True)],
        "rds-encrypted-private-protected",
        "RDS instance 'database-postgres' is publicly accessible: set publicly_accessible=False",
    ),
    (
        "aws:ec2/securityGroup:SecurityGroup",
        [(("ingress",), [WORLD_SSH])],
        "no-ingress-from-anywhere",
        "security group 'database-sg' ingress[0] admits tcp port 22 from 0.0.0.0/0: narrow the source",
    ),
    (
        "aws:ec2/securityGroup:SecurityGroup",
        [(("ingress",), [WORLD_V6])],
        "no-ingress-from-anywhere",
        "security group 'database-sg' ingress[0] admits all traffic from ::/0",
    ),
    (
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        [(("ingress",), [WORLD_ALL_TCP])],
        "no-ingress-from-anywhere",
        "security group 'network-default-sg' ingress[0] admits tcp ports 0-65535 from 0.0.0.0/0",
    ),
    (
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        [(("referencedSecurityGroupId",), DELETE), (("cidrIpv4",), "0.0.0.0/0")],
        "no-ingress-from-anywhere",
        "security group ingress rule 'database-from-cluster' admits tcp port 5432 from 0.0.0.0/0",
    ),
    (
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        [(("referencedSecurityGroupId",), DELETE), (("cidrIpv6",), "::/0")],
        "no-ingress-from-anywhere",
        "admits tcp port 5432 from ::/0",
    ),
    (
        "aws:ec2/launchTemplate:LaunchTemplate",
        [(("metadataOptions", "httpTokens"), "optional")],
        "launch-template-imdsv2",
        "launch template 'cluster-nodes' allows IMDSv1 (metadataOptions.httpTokens is 'optional'): "
        "set metadata_options={'http_tokens': 'required'",
    ),
    (
        "aws:ec2/launchTemplate:LaunchTemplate",
        [(("metadataOptions",), DELETE)],
        "launch-template-imdsv2",
        "httpTokens is unset, so IMDSv1 stays on",
    ),
    (
        "aws:eks/cluster:Cluster",
        [(("encryptionConfig",), DELETE)],
        "eks-secrets-encryption-and-audit-logs",
        "EKS cluster 'cluster-eks' does not envelope-encrypt Kubernetes secrets with a KMS key: set encryption_config=",
    ),
    (
        "aws:eks/cluster:Cluster",
        [(("encryptionConfig", "resources"), [])],
        "eks-secrets-encryption-and-audit-logs",
        "does not envelope-encrypt Kubernetes secrets",
    ),
    (
        "aws:eks/cluster:Cluster",
        [(("encryptionConfig", "provider"), DELETE)],
        "eks-secrets-encryption-and-audit-logs",
        "does not envelope-encrypt Kubernetes secrets",
    ),
    (
        "aws:eks/cluster:Cluster",
        [(("enabledClusterLogTypes",), ["api", "scheduler"])],
        "eks-secrets-encryption-and-audit-logs",
        "EKS cluster 'cluster-eks' does not send control-plane logs audit, authenticator to CloudWatch",
    ),
    (
        "aws:eks/cluster:Cluster",
        [(("enabledClusterLogTypes",), DELETE)],
        "eks-secrets-encryption-and-audit-logs",
        "logs api, audit, authenticator to CloudWatch: set enabled_cluster_log_types",
    ),
    (
        "aws:ecr/repository:Repository",
        [(("imageScanningConfiguration", "scanOnPush"), False)],
        "ecr-scan-on-push",
        "ECR repository 'helloworld-repo' does not scan images on push (scanOnPush is False): "
        "set image_scanning_configuration={'scan_on_push': True}",
    ),
    (
        "aws:ecr/repository:Repository",
        [(("imageScanningConfiguration",), DELETE)],
        "ecr-scan-on-push",
        "(scanOnPush is None)",
    ),
    (
        "kubernetes:core/v1:ReplicationController",
        [((*CONTAINER, "securityContext", "runAsNonRoot"), False)],  # the container overrides the pod's True
        "k8s-nonroot-with-limits",
        "ReplicationController 'helloworld-rc' container 'helloworld' may run as root (runAsNonRoot is False): "
        "set securityContext.runAsNonRoot: true",
    ),
    (
        "kubernetes:core/v1:ReplicationController",
        [
            ((*CONTAINER, "securityContext", "runAsNonRoot"), DELETE),
            (("spec", "template", "spec", "securityContext", "runAsNonRoot"), DELETE),
        ],
        "k8s-nonroot-with-limits",
        "container 'helloworld' may run as root (runAsNonRoot is None)",
    ),
    (
        "kubernetes:core/v1:ReplicationController",
        [((*CONTAINER, "securityContext", "runAsUser"), 0)],
        "k8s-nonroot-with-limits",
        "container 'helloworld' runs as UID 0",
    ),
    (
        "kubernetes:core/v1:ReplicationController",
        [((*CONTAINER, "resources", "limits", "memory"), DELETE)],
        "k8s-nonroot-with-limits",
        "ReplicationController 'helloworld-rc' container 'helloworld' has no memory limit: "
        "set resources.limits.cpu and resources.limits.memory",
    ),
    (
        "kubernetes:core/v1:ReplicationController",
        [((*CONTAINER, "resources"), DELETE)],
        "k8s-nonroot-with-limits",
        "container 'helloworld' has no cpu or memory limit",
    ),
    (
        "kubernetes:core/v1:ReplicationController",
        [(("spec", "template", "spec", "initContainers"), [{"name": "migrate", "image": "migrate:1"}])],
        "k8s-nonroot-with-limits",
        "container 'migrate' has no cpu or memory limit",
    ),
]


@pytest.mark.parametrize(("typ", "changes", "policy", "expected"), BROKEN)
def test_broken_resource_is_reported(
    foo: Run, typ: str, changes: list[tuple[tuple[str | int, ...], Any]], policy: str, expected: str
) -> None:
    reg = foo.one(typ)
    assert violations(typ, plain(reg), reg.name) == [], "the unbroken resource passes"
    found = violations(typ, changed(plain(reg), *changes), reg.name)
    assert [name for name, _ in found] == [policy], found
    assert expected in found[0][1]


def test_deployment_without_cpu_limit_is_reported(deployment: Run) -> None:
    reg = deployment.one("kubernetes:apps/v1:Deployment")
    props = changed(plain(reg), ((*CONTAINER, "resources", "limits", "cpu"), DELETE))
    assert violations(reg.type, props, reg.name) == [
        (
            "k8s-nonroot-with-limits",
            "Deployment 'helloworld-deployment' container 'helloworld' has no cpu limit: set resources.limits.cpu "
            "and resources.limits.memory (and requests) so one pod cannot starve its node.",
        )
    ]


def web_pod_spec(non_root: bool | None) -> dict[str, Any]:
    """A pod spec with limits, running as UID 10001, with runAsNonRoot as given (None: not set anywhere)."""
    security = {} if non_root is None else {"runAsNonRoot": non_root}
    return {
        "securityContext": {**security, "runAsUser": 10001},
        "containers": [
            {
                "name": "web",
                "image": "example.com/web:1.0.0",
                "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}},
            }
        ],
    }


def web_template(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}


# Each workload kind as its manifest is written (kubectl explain <kind>.spec): where its pod spec sits is the point.
WORKLOADS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "kubernetes:core/v1:Pod": lambda pod: {"metadata": {"name": "web"}, "spec": pod},
    "kubernetes:core/v1:ReplicationController": lambda pod: {
        "spec": {"replicas": 2, "selector": {"app": "web"}, "template": web_template(pod)}
    },
    "kubernetes:apps/v1:Deployment": lambda pod: {
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": web_template(pod)}
    },
    "kubernetes:apps/v1:ReplicaSet": lambda pod: {
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": web_template(pod)}
    },
    "kubernetes:apps/v1:StatefulSet": lambda pod: {
        "spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}}, "template": web_template(pod)}
    },
    "kubernetes:apps/v1:DaemonSet": lambda pod: {
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": web_template(pod)}
    },
    "kubernetes:batch/v1:Job": lambda pod: {"spec": {"backoffLimit": 1, "template": web_template(pod)}},
    "kubernetes:batch/v1:CronJob": lambda pod: {
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": web_template(pod)}}}
    },
}


def test_every_workload_kind_the_pack_knows_has_a_manifest_here() -> None:
    assert set(WORKLOADS) == set(POD_SPEC_PATHS)


@pytest.mark.parametrize("typ", sorted(WORKLOADS))
def test_every_workload_kind_is_checked(typ: str) -> None:
    """Pod, RC, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob: a root pod is found wherever it sits."""
    assert violations(typ, WORKLOADS[typ](web_pod_spec(non_root=True)), "web") == []
    kind = typ.rsplit(":", 1)[-1]
    for non_root in (None, False):
        assert violations(typ, WORKLOADS[typ](web_pod_spec(non_root)), "web") == [
            (
                "k8s-nonroot-with-limits",
                f"{kind} 'web' container 'web' may run as root (runAsNonRoot is {non_root}): set "
                "securityContext.runAsNonRoot: true on the pod or the container, with a numeric non-root runAsUser or "
                "image USER.",
            )
        ]


@pytest.mark.parametrize(
    ("rule", "reported"),
    [
        ({"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}, True),
        ({"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443, "ipv6CidrBlocks": ["::/0"]}, True),
        ({"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/8"]}, False),
        (
            {"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443, "sourceSecurityGroupId": "sg-1"},
            False,
        ),
        ({"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}, False),
    ],
)
def test_security_group_rule(rule: dict[str, Any], reported: bool) -> None:
    found = violations("aws:ec2/securityGroupRule:SecurityGroupRule", {"securityGroupId": "sg-db", **rule}, "https")
    if not reported:
        assert found == []
        return
    [(policy, message)] = found
    assert policy == "no-ingress-from-anywhere"
    assert re.match(r"security group rule 'https' admits tcp port 443 from (0\.0\.0\.0/0|::/0): narrow", message)


# ---------------------------------------------------------------- the RDS ephemeral exemption


def test_ephemeral_tag_exempts_deletion_protection(foo: Run) -> None:
    rds = plain(foo.one("aws:rds/instance:Instance"))
    assert (rds["deletionProtection"], rds["tags"]["Ephemeral"]) == (False, "true")
    assert violations("aws:rds/instance:Instance", rds, "db") == []


@pytest.mark.parametrize("tag", [DELETE, "false", "yes", "TRUE"])
def test_deletion_protection_off_without_ephemeral_tag_is_reported(foo: Run, tag: Any) -> None:
    rds = changed(plain(foo.one("aws:rds/instance:Instance")), (("tags", "Ephemeral"), tag))
    for props in (rds, changed(rds, (("deletionProtection",), DELETE))):  # absent: the provider default is off
        assert violations("aws:rds/instance:Instance", props, "db") == [
            (
                "rds-encrypted-private-protected",
                "RDS instance 'db' has deletion protection off (deletionProtection is "
                f"{props.get('deletionProtection')!r}) and is not tagged Ephemeral='true': set "
                "deletion_protection=True, or for a throwaway stack set `database.ephemeral: true` (which tags it so).",
            )
        ]


def test_deletion_protection_on_needs_no_tag(protected: Run) -> None:
    rds = changed(plain(protected.one("aws:rds/instance:Instance")), (("tags",), DELETE))
    assert violations("aws:rds/instance:Instance", rds, "db") == []


# ---------------------------------------------------------------- values unknown during preview


def test_unknown_values_are_not_violations(foo: Run) -> None:
    """What a first `pulumi preview` sees: ARNs and other outputs of resources not created yet."""
    eks = changed(
        plain(foo.one("aws:eks/cluster:Cluster")), (("encryptionConfig", "provider", "keyArn"), UNKNOWN_STRING_VALUE)
    )
    assert violations("aws:eks/cluster:Cluster", eks) == []
    rds = changed(
        plain(foo.one("aws:rds/instance:Instance")),
        (("storageEncrypted",), UNKNOWN_BOOLEAN_VALUE),
        (("tags", "Ephemeral"), UNKNOWN_STRING_VALUE),
    )
    assert violations("aws:rds/instance:Instance", rds) == []
    rc = changed(
        plain(foo.one("kubernetes:core/v1:ReplicationController")),
        ((*CONTAINER, "image"), UNKNOWN_STRING_VALUE),
        ((*CONTAINER, "resources", "limits"), UNKNOWN_OBJECT_VALUE),
    )
    assert violations("kubernetes:core/v1:ReplicationController", rc) == []


def test_unknown_value_does_not_hide_a_known_violation(foo: Run) -> None:
    rds = changed(
        plain(foo.one("aws:rds/instance:Instance")),
        (("storageEncrypted",), UNKNOWN_BOOLEAN_VALUE),
        (("publiclyAccessible",), True),
    )
    assert [m for _, m in violations("aws:rds/instance:Instance", rds, "db")] == [
        "RDS instance 'db' is publicly accessible: set publicly_accessible=False and reach it from inside the VPC."
    ]


# ---------------------------------------------------------------- the pack as the engine loads it


@pytest.fixture(scope="module")
def analyzer() -> Any:
    """The analyzer servicer policy/__main__.py builds, run the way the engine runs a pack (runpy on the directory)."""
    return run_policy_pack()


def analyze(analyzer: Any, typ: str, name: str, props: Mapping[str, Any]) -> list[Any]:
    request = proto.AnalyzeRequest(
        type=typ,
        urn=f"urn:pulumi:foo::infra::{typ}::{name}",
        name=name,
        properties=json_format.ParseDict(props, struct_pb2.Struct()),
    )
    return list(analyzer.Analyze(request, None).diagnostics)


def test_pack_loads_as_infra_guardrails_all_mandatory_but_the_cost_warning(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(None, None)
    assert info.name == "infra-guardrails"
    assert [p.name for p in info.policies] == POLICY_NAMES
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert levels == {**dict.fromkeys(POLICY_NAMES, proto.MANDATORY), "idle-cost-increase": proto.ADVISORY}
    assert all(p.description for p in info.policies)


def test_engine_path_foo_clean_and_broken_rds_blocked(analyzer: Any, foo: Run) -> None:
    for reg in foo.resources:
        assert analyze(analyzer, reg.type, reg.name, plain(reg)) == [], reg.urn
    eks = changed(
        plain(foo.one("aws:eks/cluster:Cluster")), (("encryptionConfig", "provider", "keyArn"), UNKNOWN_STRING_VALUE)
    )
    assert analyze(analyzer, "aws:eks/cluster:Cluster", "eks", eks) == [], "no 'can't run policy during preview' either"
    rds = changed(plain(foo.one("aws:rds/instance:Instance")), (("storageEncrypted",), False))
    [diagnostic] = analyze(analyzer, "aws:rds/instance:Instance", "db", rds)
    assert (diagnostic.policyName, diagnostic.policyPackName, diagnostic.enforcementLevel) == (
        "rds-encrypted-private-protected",
        "infra-guardrails",
        proto.MANDATORY,
    )
    assert "RDS instance 'db' stores its data unencrypted" in diagnostic.message


def test_pack_project_reuses_the_project_venv_and_pins() -> None:
    project = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    venv = ROOT / "policy" / project["runtime"]["options"]["virtualenv"]
    assert venv.resolve() == (ROOT / "venv").resolve()
    pins = dict(
        line.split("==")
        for line in (ROOT / "policy" / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert pins == {"pulumi": version("pulumi"), "pulumi-policy": version("pulumi-policy")}
