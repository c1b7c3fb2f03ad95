"""The stack config's value rules: each appends `infra:<key>: <value> — allowed: ...` to `problems`.

A key whose schema states a Range or OneOf is checked from that data (`_check_declared`), so the generated
reference and the message cannot disagree; the rules below are the rest: forms (patterns, CIDRs, ARNs) and rules
that relate keys to each other.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from typing import Any

from infra.config.schema import (
    ADDON_NAMES,
    AZ_COUNT,
    MIN_K8S_MINOR,
    RDS_MAX_GB,
    ClusterConfig,
    DatabaseConfig,
    DnsConfig,
    HelloWorldConfig,
    NetworkConfig,
    NodesConfig,
    OneOf,
    Range,
    RestoreFromConfig,
    camel,
    key_doc,
)
from infra.contract import APP_DB_USER, admin_namespace
from infra.network_plan import MAX_VPC_PREFIX, MIN_PRIVATE_PREFIX, PUBLIC_PREFIX_DIFF, equal_split_bits

K8S_VERSION_PATTERN = re.compile(r"^1\.(\d{2})$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")
PG_VERSION = re.compile(r"^(\d{2})(\.\d{1,2})?$")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DNS_NAME = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
# What `aws sts get-caller-identity` prints for a role session (SSO included); EKS refuses it as a principal.
ASSUMED_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+$")
# A Kubernetes object name (DNS-1123 subdomain) and label value: the version is in both (`helloworld-<version>`).
K8S_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
K8S_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$")
# The stack names the EKS cluster, the RDS instance and the ECR repository (`infra-<stack>`): what all three allow.
STACK_NAME = re.compile(r"^[a-z]([a-z0-9]|-(?=[a-z0-9])){0,39}$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
GREETING = re.compile(r"^[^'\"\\\x00-\x1f]{1,200}$")
DOCKERHUB_USER = re.compile(r"^[a-z0-9]{4,30}$")
ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
RDS_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
RDS_RESERVED_NAMES = ("postgres", "rdsadmin", "admin", "user")
RDS_SNAPSHOT_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
RDS_SNAPSHOT_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:snapshot:[a-zA-Z][a-zA-Z0-9-:]*$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _check_declared(section: Any, path: str, problems: list[str]) -> None:
    """Every key of `section` whose schema states a Range or OneOf, in field order."""
    for f in dataclasses.fields(section):
        doc = key_doc(f)
        value = getattr(section, f.name)
        if doc and isinstance(doc.allowed, Range | OneOf) and value is not None and not doc.allowed.allows(value):
            problems.append(f"{path}.{camel(f.name)}: {value!r} — allowed: {doc.allowed}")


def check_stack(stack: str, region: str | None, problems: list[str]) -> None:
    if not STACK_NAME.match(stack):
        problems.append(
            f"stack name: {stack!r} — allowed: lowercase letters, digits and single '-', starting with a"
            " letter, at most 40 characters (it names the EKS cluster, RDS instance and ECR repository)"
        )
    if not region or not REGION.match(region):
        problems.append(f"aws:region: {region!r} — required: an AWS region such as 'us-west-2'")


# The private ranges of RFC 1918, the ones AWS recommends for a VPC.
RFC1918 = tuple(ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def check_network(n: NetworkConfig, problems: list[str]) -> None:
    p = "infra:network"
    _check_declared(n, p, problems)
    try:
        vpc = ipaddress.IPv4Network(n.cidr)
    except ValueError as e:
        problems.append(f"{p}.cidr: {n.cidr!r} is not an IPv4 network ({e}) — allowed: e.g. '10.0.0.0/16'")
        return
    if not any(vpc.subnet_of(r) for r in RFC1918):  # is_private also takes loopback, link-local, 198.18/15, ...
        problems.append(f"{p}.cidr: {n.cidr!r} is not a private range — allowed: inside 10/8, 172.16/12, 192.168/16")
    if not 16 <= vpc.prefixlen <= MAX_VPC_PREFIX:
        problems.append(
            f"{p}.cidr: {n.cidr!r} — allowed: /16 to /{MAX_VPC_PREFIX} (AWS allows /16 at most; a /{MAX_VPC_PREFIX}"
            f" gives each AZ a /{MIN_PRIVATE_PREFIX} private and a /{MAX_VPC_PREFIX + PUBLIC_PREFIX_DIFF} public"
            " subnet)"
        )
    elif n.subnet_layout == "equal-split" and AZ_COUNT.allows(n.az_count):
        prefix = vpc.prefixlen + equal_split_bits(n.az_count)
        if prefix > MIN_PRIVATE_PREFIX:
            problems.append(
                f"{p}.cidr: {n.cidr!r} is too small for {n.az_count} AZs with subnetLayout equal-split (subnets"
                f" would be /{prefix}) — allowed: subnets of /{MIN_PRIVATE_PREFIX} or larger"
            )


def check_cluster(c: ClusterConfig, problems: list[str]) -> None:
    p = "infra:cluster"
    _check_declared(c, p, problems)
    m = K8S_VERSION_PATTERN.match(c.version)
    if not m or int(m.group(1)) < MIN_K8S_MINOR:
        problems.append(f"{p}.version: {c.version!r} — allowed: '1.NN' with NN >= {MIN_K8S_MINOR}, e.g. '1.35'")
    if not c.public_access_cidrs:
        problems.append(f"{p}.publicAccessCidrs: [] — allowed: at least one CIDR, e.g. ['0.0.0.0/0']")
    for i, cidr in enumerate(c.public_access_cidrs):
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError:
            problems.append(f"{p}.publicAccessCidrs[{i}]: {cidr!r} — allowed: an IPv4 CIDR such as '203.0.113.0/24'")
    for i, arn in enumerate(c.admin_arns):
        if not IAM_PRINCIPAL_ARN.match(arn):
            problems.append(f"{p}.adminArns[{i}]: {arn!r} — allowed: an IAM role or user ARN{_role_hint(arn)}")
    if len(set(c.admin_arns)) != len(c.admin_arns):
        problems.append(f"{p}.adminArns: {c.admin_arns!r} — allowed: each ARN once (EKS keeps one entry per ARN)")
    for i, arn in enumerate(c.view_arns):
        if not IAM_PRINCIPAL_ARN.match(arn):
            problems.append(f"{p}.viewArns[{i}]: {arn!r} — allowed: an IAM role or user ARN{_role_hint(arn)}")
        elif arn in c.admin_arns:
            problems.append(
                f"{p}.viewArns[{i}]: {arn!r} — allowed: an ARN not in adminArns (EKS keeps one entry per ARN, and an"
                " admin can already read)"
            )
    if len(set(c.view_arns)) != len(c.view_arns):
        problems.append(f"{p}.viewArns: {c.view_arns!r} — allowed: each ARN once (EKS keeps one entry per ARN)")
    role = c.kubeconfig_role_arn
    if role is not None and not (IAM_PRINCIPAL_ARN.match(role) and ":role/" in role):
        problems.append(f"{p}.kubeconfigRoleArn: {role!r} — allowed: an IAM role ARN{_role_hint(role)}")
    if c.kubeconfig_profile is not None and not c.kubeconfig_profile.strip():
        problems.append(f"{p}.kubeconfigProfile: '' — allowed: an AWS CLI profile name")
    _check_nodes(c.nodes, problems)
    for key, version in dataclasses.asdict(c.addons).items():
        if version is not None and not ADDON_VERSION.match(version):
            problems.append(
                f"{p}.addons.{camel(key)}: {version!r} — allowed: an EKS add-on version such as"
                " 'v1.19.2-eksbuild.1' (`aws eks describe-addon-versions --addon-name"
                f" {ADDON_NAMES[key]} --kubernetes-version {c.version}` lists them), or unset to follow the cluster"
            )


def _role_hint(arn: str) -> str:
    """For an STS session ARN, the role ARN to use instead (CreateAccessEntry refuses session principals)."""
    m = ASSUMED_ROLE_ARN.match(arn)
    if not m:
        return ""
    partition, account, role = m.groups()
    return (
        f", not an STS session (EKS refuses those) — use the role: arn:{partition}:iam::{account}:role/{role}"
        f" (SSO roles have a path, e.g. arn:{partition}:iam::{account}:role/aws-reserved/sso.amazonaws.com/{role};"
        f" `aws iam get-role --role-name {role} --query Role.Arn` prints the exact ARN)"
    )


def _check_nodes(n: NodesConfig, problems: list[str]) -> None:
    p = "infra:cluster.nodes"
    _check_declared(n, p, problems)
    if not n.instance_types or any(not t.strip() for t in n.instance_types):
        problems.append(f"{p}.instanceTypes: {n.instance_types!r} — allowed: a non-empty list such as ['t3.medium']")
    if not n.min <= n.desired <= n.max:
        problems.append(f"{p}.desired: {n.desired} (min {n.min}, max {n.max}) — allowed: min <= desired <= max")
    if not 1 <= n.max_unavailable <= max(n.max, 1):
        problems.append(f"{p}.maxUnavailable: {n.max_unavailable} — allowed: 1..max ({n.max})")


def check_helloworld(h: HelloWorldConfig, dockerhub_token_set: bool, problems: list[str]) -> None:
    p = "infra:helloworld"
    _check_declared(h, p, problems)
    # The version names the RC (`helloworld-<version>`) and labels its pods, so it must be valid in both.
    if not (SEMVER.match(h.version) and K8S_NAME.match(f"helloworld-{h.version}") and K8S_LABEL_VALUE.match(h.version)):
        problems.append(
            f"{p}.version: {h.version!r} — allowed: semantic version MAJOR.MINOR.PATCH with an optional lowercase"
            " pre-release (e.g. '2.0.0' or '2.0.0-rc.1'), at most 63 characters: it names Kubernetes objects"
        )
    if not GREETING.match(h.greeting):
        problems.append(
            f"{p}.greeting: {h.greeting!r} — allowed: 1-200 printable characters without quotes or backslashes"
            " (it is baked in with -ldflags)"
        )
    if h.registry == "dockerhub":
        if not (h.dockerhub_username and DOCKERHUB_USER.match(h.dockerhub_username)):
            problems.append(
                f"{p}.dockerhubUsername: {h.dockerhub_username!r} — required with registry 'dockerhub':"
                " 4-30 lowercase letters or digits"
            )
        if not dockerhub_token_set:
            problems.append(
                "infra:dockerhubToken: not set — required with registry 'dockerhub':"
                " `pulumi config set --secret dockerhubToken <token>`"
            )
    admin = admin_namespace(h.namespace)  # the stack creates this one too: it must be a DNS label as well
    if (
        not (DNS_LABEL.match(h.namespace) and DNS_LABEL.match(admin))
        or h.namespace in ("default",)
        or (h.namespace.startswith("kube-"))
    ):
        problems.append(
            f"{p}.namespace: {h.namespace!r} — allowed: a new namespace the stack owns: a DNS label (lowercase"
            f" letters, digits, '-', at most {63 - len(admin) + len(h.namespace)} characters, since the stack also"
            f" creates {admin!r}), not 'default' nor 'kube-*' (they exist already)"
        )


def check_database(d: DatabaseConfig, problems: list[str]) -> None:
    p = "infra:database"
    _check_declared(d, p, problems)
    # Which majors RDS offers, and whether they are in standard support, is RDS's answer at deploy time.
    if not PG_VERSION.match(d.engine_version):
        problems.append(
            f"{p}.engineVersion: {d.engine_version!r} — allowed: a PostgreSQL major, optionally with a minor (e.g."
            " '18' or '18.1'); which majors RDS offers is checked at deploy time"
        )
    if not RDS_INSTANCE_CLASS.match(d.instance_class):
        problems.append(f"{p}.instanceClass: {d.instance_class!r} — allowed: an RDS class such as 'db.t4g.micro'")
    for key, value in (("dbName", d.db_name), ("username", d.username)):
        if not IDENTIFIER.match(value) or value in RDS_RESERVED_NAMES:
            problems.append(
                f"{p}.{key}: {value!r} — allowed: lowercase letter then letters, digits or _ (max 63),"
                " not a reserved name"
            )
    if d.username == APP_DB_USER:
        problems.append(
            f"{p}.username: {d.username!r} — allowed: any name but {APP_DB_USER!r}, the app's own"
            " IAM-authenticated role (the master user must stay a separate role)"
        )
    if d.max_storage_gb is not None and not d.storage_gb < d.max_storage_gb <= RDS_MAX_GB:
        problems.append(
            f"{p}.maxStorageGb: {d.max_storage_gb} — allowed: more than storageGb ({d.storage_gb}) up to {RDS_MAX_GB},"
            " or unset (no storage autoscaling)"
        )
    if d.restore_from is not None:
        _check_restore_from(d.restore_from, problems)
    if d.skip_final_snapshot and not d.ephemeral:
        problems.append(
            f"{p}.skipFinalSnapshot: true — allowed only with ephemeral: true (a protected database keeps its"
            " final snapshot)"
        )


def _check_restore_from(r: RestoreFromConfig, problems: list[str]) -> None:
    p = "infra:database.restoreFrom"
    chosen = [k for k, v in (("snapshot", r.snapshot), ("stack", r.stack), ("pointInTime", r.point_in_time)) if v]
    if len(chosen) != 1:
        problems.append(f"{p}: {chosen or 'nothing'} — allowed: exactly one of snapshot, stack, pointInTime")
    if r.snapshot is not None and not (RDS_SNAPSHOT_ID.match(r.snapshot) or RDS_SNAPSHOT_ARN.match(r.snapshot)):
        problems.append(f"{p}.snapshot: {r.snapshot!r} — allowed: a DB snapshot identifier or ARN")
    if r.stack is not None and not STACK_NAME.match(r.stack):
        problems.append(f"{p}.stack: {r.stack!r} — allowed: the name of a stack of this project, e.g. 'foo'")
    pit = r.point_in_time
    if pit is not None:
        if not RDS_SNAPSHOT_ID.match(pit.source) or len(pit.source) > 63:
            problems.append(
                f"{p}.pointInTime.source: {pit.source!r} — allowed: a DB instance identifier, e.g. 'infra-foo'"
            )
        if pit.time != "latest" and not RFC3339.match(pit.time):
            problems.append(
                f"{p}.pointInTime.time: {pit.time!r} — allowed: 'latest' or an RFC 3339 time such as"
                " '2026-11-27T21:00:00Z'"
            )


def check_dns(d: DnsConfig, problems: list[str]) -> None:
    p = "infra:dns"
    _check_declared(d, p, problems)
    if d.create_zone and d.zone:
        problems.append(
            f"{p}.zone: {d.zone!r} with createZone: true — allowed: either zone (look up an existing zone) or"
            " createZone + newZone (create one), not both"
        )
    elif d.create_zone and not d.new_zone:
        problems.append(f"{p}.newZone: None — required with createZone: true, e.g. 'cloud.example.com'")
    elif not d.create_zone and not d.zone:
        problems.append(f"{p}.zone: None — required: an existing public hosted zone name (or createZone + newZone)")
    if d.new_zone and not d.create_zone:
        problems.append(f"{p}.newZone: {d.new_zone!r} — allowed only with createZone: true")
    for key, value in (("zone", d.zone), ("newZone", d.new_zone)):
        if value is not None and not DNS_NAME.match(value):
            problems.append(f"{p}.{key}: {value!r} — allowed: a lowercase domain such as 'cloud.example.com'")
    if d.name is not None and not DNS_LABEL.match(d.name):
        problems.append(f"{p}.name: {d.name!r} — allowed: one lowercase DNS label, e.g. 'foo'")
