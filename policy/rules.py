"""The infra guardrails: one ResourceValidationPolicy per rule. Importing this module contacts no engine.

Props are the resource inputs as the engine passes them: camelCase, and during `pulumi preview` wrapped in the
SDK's proxy, which raises `UnknownValueError` when a value that depends on another resource's output is read.
Every read goes through `_get`, which turns that into `UNKNOWN`, and a rule that meets `UNKNOWN` stays silent:
the value is only "not known yet", and the engine runs the policies again at `pulumi up` with it known. A value
that is absent is judged by the provider's default: absent `storageEncrypted` means unencrypted, so it fails.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from infra.contract import EPHEMERAL_TAG, PUBLIC_NAME_ANNOTATION

RDS_INSTANCE = "aws:rds/instance:Instance"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
K8S_SERVICE = "kubernetes:core/v1:Service"
# Resources whose `policy` input is an IAM identity policy document (JSON string or object).
IDENTITY_POLICY_TYPES: Final = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
ELB_ANNOTATION: Final = "service.beta.kubernetes.io/aws-load-balancer-"
# Classic ELB predefined policies that allow nothing older than TLS 1.2.
TLS12_POLICIES: Final = ("ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06")

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: Final[dict[str, tuple[str, ...]]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

EKS_LOG_TYPES: Final = ("api", "audit", "authenticator")


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
"""A value the engine does not know yet (preview); rules never report on it."""


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _get(value: Any, *path: str | int) -> Any:
    """value[p0][p1]…: None where a key is absent (or the shape is wrong), UNKNOWN where a value is not known yet."""
    for key in path:
        if value is None or value is UNKNOWN:
            return value
        try:
            if isinstance(key, int):
                value = value[key] if _is_list(value) and 0 <= key < len(value) else None
            else:
                value = value[key] if isinstance(value, Mapping) and key in value else None
        except UnknownValueError:  # the engine's proxy: this value is not known until the update
            return UNKNOWN
    return value


def _elements(value: Any) -> list[Any] | _Unknown:
    """The items of a list input (each possibly UNKNOWN); [] when absent; UNKNOWN when the list itself is."""
    if value is UNKNOWN:
        return UNKNOWN
    if not _is_list(value):
        return []
    return [_get(value, i) for i in range(len(value))]


def _strings(value: Any) -> list[str] | _Unknown:
    """A list of strings; UNKNOWN if the list or any of its items is not known yet."""
    items = _elements(value)
    if isinstance(items, _Unknown) or any(item is UNKNOWN for item in items):
        return UNKNOWN
    return [item for item in items if isinstance(item, str)]


def _is_world(cidr: Any) -> bool:
    """True for 0.0.0.0/0, ::/0 and any other spelling of "every address"."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


Check = Callable[[ResourceValidationArgs], Iterable[str]]


def _policy(name: str, description: str, types: Iterable[str], check: Check) -> ResourceValidationPolicy:
    """A policy that runs `check` on resources of `types` and reports each message it yields."""
    wanted = frozenset(types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type in wanted:
            for message in check(args):
                report_violation(message, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


# ---------------------------------------------------------------- 1. RDS


def _rds(args: ResourceValidationArgs) -> Iterable[str]:
    props, what = args.props, f"RDS instance '{args.name}'"
    encrypted = _get(props, "storageEncrypted")
    if encrypted is not UNKNOWN and encrypted is not True:
        yield (
            f"{what} stores its data unencrypted (storageEncrypted is {encrypted!r}): set storage_encrypted=True "
            "(on an existing instance this replaces it: restore an encrypted snapshot copy)."
        )
    if _get(props, "publiclyAccessible") is True:
        yield f"{what} is publicly accessible: set publicly_accessible=False and reach it from inside the VPC."
    protected = _get(props, "deletionProtection")
    if protected is UNKNOWN or protected is True:
        return
    ephemeral = _get(props, "tags", EPHEMERAL_TAG)
    if ephemeral is UNKNOWN or ephemeral == "true":
        return
    yield (
        f"{what} has deletion protection off (deletionProtection is {protected!r}) and is not tagged "
        f"{EPHEMERAL_TAG}='true': set deletion_protection=True, or for a throwaway stack set "
        "`database.ephemeral: true` (which tags it so)."
    )


# ---------------------------------------------------------------- 2. security-group ingress


def _world_cidrs(*lists: Any) -> list[str]:
    found = []
    for value in lists:
        items = _elements(value)
        if not isinstance(items, _Unknown):
            found += [cidr for cidr in items if _is_world(cidr)]
    return found


def _ports(rule: Any) -> str:
    """What a rule admits, for the message: "tcp port 22", "tcp ports 0-65535", "all traffic"."""
    protocol = _get(rule, "protocol")
    if protocol is None:
        protocol = _get(rule, "ipProtocol")
    if protocol in ("-1", -1, "all"):
        return "all traffic"
    low, high = _get(rule, "fromPort"), _get(rule, "toPort")
    if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in (low, high)):
        return f"protocol {protocol}"
    return f"{protocol} port {int(low)}" if low == high else f"{protocol} ports {int(low)}-{int(high)}"


_INGRESS_FIX = (
    "narrow the source to the CIDRs that need it, or admit a security group instead "
    "(referenced_security_group_id / source_security_group_id / security_groups)."
)


def _no_world_ingress(args: ResourceValidationArgs) -> Iterable[str]:
    props, what = args.props, f"security group '{args.name}'"
    if args.resource_type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        rules = _elements(_get(props, "ingress"))
        for i, rule in enumerate([] if isinstance(rules, _Unknown) else rules):
            for cidr in _world_cidrs(_get(rule, "cidrBlocks"), _get(rule, "ipv6CidrBlocks")):
                yield f"{what} ingress[{i}] admits {_ports(rule)} from {cidr}: {_INGRESS_FIX}"
    elif args.resource_type == SECURITY_GROUP_RULE:
        if _get(props, "type") != "ingress":
            return
        for cidr in _world_cidrs(_get(props, "cidrBlocks"), _get(props, "ipv6CidrBlocks")):
            yield f"security group rule '{args.name}' admits {_ports(props)} from {cidr}: {_INGRESS_FIX}"
    elif args.resource_type == SECURITY_GROUP_INGRESS_RULE:
        for key in ("cidrIpv4", "cidrIpv6"):
            cidr = _get(props, key)
            if _is_world(cidr):
                yield f"security group ingress rule '{args.name}' admits {_ports(props)} from {cidr}: {_INGRESS_FIX}"


# ---------------------------------------------------------------- 3. launch templates


def _imdsv2(args: ResourceValidationArgs) -> Iterable[str]:
    options = _get(args.props, "metadataOptions")
    if _get(options, "httpEndpoint") == "disabled":
        return  # no instance metadata at all: nothing to steal credentials from
    tokens = _get(options, "httpTokens")
    if tokens is UNKNOWN or tokens == "required":
        return
    shown = "unset, so IMDSv1 stays on" if tokens is None else repr(tokens)
    yield (
        f"launch template '{args.name}' allows IMDSv1 (metadataOptions.httpTokens is {shown}): set "
        "metadata_options={'http_tokens': 'required', 'http_endpoint': 'enabled', 'http_put_response_hop_limit': 2}."
    )


# ---------------------------------------------------------------- 4. EKS


def _encrypts_secrets(config: Any) -> bool | _Unknown:
    resources = _strings(_get(config, "resources"))
    key = _get(config, "provider", "keyArn")
    if isinstance(resources, _Unknown) or ("secrets" in resources and key is UNKNOWN):
        return UNKNOWN
    return "secrets" in resources and isinstance(key, str) and key != ""


def _eks(args: ResourceValidationArgs) -> Iterable[str]:
    props, what = args.props, f"EKS cluster '{args.name}'"
    config = _get(props, "encryptionConfig")
    # One object in pulumi-aws >= 6; a list of them before.
    configs = _elements(config) if _is_list(config) else ([] if config is None else [config])
    if not isinstance(configs, _Unknown) and not any(c is UNKNOWN for c in configs):
        verdicts = [_encrypts_secrets(c) for c in configs]
        if not any(v is True or v is UNKNOWN for v in verdicts):
            yield (
                f"{what} does not envelope-encrypt Kubernetes secrets with a KMS key: set "
                "encryption_config={'resources': ['secrets'], 'provider': {'key_arn': key.arn}}."
            )
    enabled = _strings(_get(props, "enabledClusterLogTypes"))
    if isinstance(enabled, _Unknown):
        return
    missing = [t for t in EKS_LOG_TYPES if t not in enabled]
    if missing:
        yield (
            f"{what} does not send control-plane logs {', '.join(missing)} to CloudWatch: set "
            f"enabled_cluster_log_types to include {', '.join(EKS_LOG_TYPES)}."
        )


# ---------------------------------------------------------------- 5. ECR


def _ecr(args: ResourceValidationArgs) -> Iterable[str]:
    scan = _get(args.props, "imageScanningConfiguration", "scanOnPush")
    if scan is not UNKNOWN and scan is not True:
        yield (
            f"ECR repository '{args.name}' does not scan images on push (scanOnPush is {scan!r}): set "
            "image_scanning_configuration={'scan_on_push': True}."
        )


# ---------------------------------------------------------------- 6. Kubernetes workloads


def _is_root_uid(uid: Any) -> bool:
    return isinstance(uid, int | float) and not isinstance(uid, bool) and uid == 0


def _k8s(args: ResourceValidationArgs) -> Iterable[str]:
    kind = args.resource_type.rsplit(":", 1)[-1]
    spec = _get(args.props, *POD_SPEC_PATHS[args.resource_type])
    if spec is None or spec is UNKNOWN:
        return
    pod_non_root = _get(spec, "securityContext", "runAsNonRoot")
    pod_user = _get(spec, "securityContext", "runAsUser")
    for field in ("initContainers", "containers"):
        containers = _elements(_get(spec, field))
        if isinstance(containers, _Unknown):
            continue
        for i, container in enumerate(containers):
            if container is UNKNOWN:
                continue
            name = _get(container, "name")
            what = f"{kind} '{args.name}' container '{name if isinstance(name, str) else f'{field}[{i}]'}'"
            # A container's own securityContext overrides the pod's.
            non_root = _get(container, "securityContext", "runAsNonRoot")
            if non_root is None:
                non_root = pod_non_root
            user = _get(container, "securityContext", "runAsUser")
            if user is None:
                user = pod_user
            if _is_root_uid(user):
                yield f"{what} runs as UID 0: set securityContext.runAsUser to a non-zero UID, and runAsNonRoot: true."
            elif non_root is not UNKNOWN and non_root is not True:
                yield (
                    f"{what} may run as root (runAsNonRoot is {non_root!r}): set securityContext.runAsNonRoot: true "
                    "on the pod or the container, with a numeric non-root runAsUser or image USER."
                )
            limits = _get(container, "resources", "limits")
            if limits is UNKNOWN:
                continue
            missing = [r for r in ("cpu", "memory") if _get(limits, r) in (None, "")]
            if missing:
                yield (
                    f"{what} has no {' or '.join(missing)} limit: set resources.limits.cpu and "
                    "resources.limits.memory (and requests) so one pod cannot starve its node."
                )


# ---------------------------------------------------------------- 7. public names serve TLS


def _public_tls(args: ResourceValidationArgs) -> Iterable[str]:
    """A LoadBalancer Service that answers a public DNS name terminates TLS 1.2+ on 443 with a certificate."""
    if _get(args.props, "spec", "type") != "LoadBalancer":
        return
    annotations = _get(args.props, "metadata", "annotations")
    if annotations is UNKNOWN or not isinstance(annotations, Mapping):
        return
    name = annotations.get(PUBLIC_NAME_ANNOTATION)
    if not name:
        return
    what = f"Service '{args.name}' answers {name}"
    if not annotations.get(f"{ELB_ANNOTATION}ssl-cert"):
        yield f"{what} without TLS: set the {ELB_ANNOTATION}ssl-cert annotation to an ACM certificate for the name."
    if annotations.get(f"{ELB_ANNOTATION}ssl-ports") not in ("443", "https"):
        yield f"{what}: its 443 port must terminate TLS ({ELB_ANNOTATION}ssl-ports: https)."
    policy = annotations.get(f"{ELB_ANNOTATION}ssl-negotiation-policy")
    if policy is not UNKNOWN and policy not in TLS12_POLICIES:
        yield (
            f"{what} with TLS negotiation policy {policy!r}: use one that refuses TLS < 1.2, e.g. {TLS12_POLICIES[0]}."
        )
    ports = _elements(_get(args.props, "spec", "ports"))
    if not isinstance(ports, _Unknown) and 443 not in [_get(p, "port") for p in ports]:
        yield f"{what} but has no port 443."


# ---------------------------------------------------------------- 8. identity policies name their resources


def _statements(document: Any) -> list[Any] | _Unknown:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    statements = _get(document, "Statement")
    if statements is UNKNOWN:
        return UNKNOWN
    return list(statements) if _is_list(statements) else [statements] if statements else []


def _no_wildcard_resources(args: ResourceValidationArgs) -> Iterable[str]:
    """Allow statements name their resources: no `*` anywhere in Resource, and no NotResource."""
    statements = _statements(_get(args.props, "policy"))
    if isinstance(statements, _Unknown):
        return
    for i, statement in enumerate(statements):
        if _get(statement, "Effect") != "Allow":
            continue
        if _get(statement, "NotResource") is not None:
            yield f"IAM policy '{args.name}' statement {i} uses NotResource: name the resources it allows instead."
            continue
        resources = _get(statement, "Resource")
        if resources is UNKNOWN:
            continue
        listed = resources if _is_list(resources) else [resources]
        wild = [r for r in listed if isinstance(r, str) and "*" in r]
        if wild:
            yield (f"IAM policy '{args.name}' statement {i} allows resources {wild}: name the exact ARNs.")


# ---------------------------------------------------------------- the pack's policies

RDS_POLICY = _policy(
    "rds-encrypted-private-protected",
    "RDS instances are encrypted at rest, not publicly accessible, and deletion-protected unless tagged "
    "Ephemeral='true'.",
    [RDS_INSTANCE],
    _rds,
)
INGRESS_POLICY = _policy(
    "no-ingress-from-anywhere",
    "Security groups admit no ingress from 0.0.0.0/0 or ::/0 (inline rules, SecurityGroupRule, "
    "SecurityGroupIngressRule).",
    [SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, SECURITY_GROUP_INGRESS_RULE],
    _no_world_ingress,
)
IMDSV2_POLICY = _policy(
    "launch-template-imdsv2",
    "EC2 launch templates require IMDSv2 session tokens (metadataOptions.httpTokens = required).",
    [LAUNCH_TEMPLATE],
    _imdsv2,
)
EKS_POLICY = _policy(
    "eks-secrets-encryption-and-audit-logs",
    "EKS clusters envelope-encrypt secrets with a KMS key and log api, audit and authenticator to CloudWatch.",
    [EKS_CLUSTER],
    _eks,
)
ECR_POLICY = _policy(
    "ecr-scan-on-push",
    "ECR repositories scan every pushed image for vulnerabilities.",
    [ECR_REPOSITORY],
    _ecr,
)
K8S_WORKLOAD_POLICY = _policy(
    "k8s-nonroot-with-limits",
    "Kubernetes workloads run every container as non-root with cpu and memory limits.",
    POD_SPEC_PATHS,
    _k8s,
)

PUBLIC_TLS_POLICY = _policy(
    "public-name-serves-tls",
    "A LoadBalancer Service that answers a public DNS name terminates TLS 1.2+ on port 443 with a certificate.",
    [K8S_SERVICE],
    _public_tls,
)

IDENTITY_POLICY_POLICY = _policy(
    "iam-no-wildcard-resources",
    "IAM identity policies allow actions only on named resources: no '*' in Resource, no NotResource.",
    IDENTITY_POLICY_TYPES,
    _no_wildcard_resources,
)

POLICIES: Final[list[ResourceValidationPolicy]] = [
    RDS_POLICY,
    INGRESS_POLICY,
    IMDSV2_POLICY,
    EKS_POLICY,
    ECR_POLICY,
    K8S_WORKLOAD_POLICY,
    PUBLIC_TLS_POLICY,
    IDENTITY_POLICY_POLICY,
]
