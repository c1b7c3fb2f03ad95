"""Typed stack config: one dataclass per component, parsed strictly from `infra:*` objects.

`load_config()` reads every section, collects every problem (unknown keys, wrong types, values out of range),
and raises one ConfigError listing them all, before the program creates any resource.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra import contract
from infra.contract import APP_DB_USER, admin_namespace

PROJECT_NAMESPACE = "infra"
SECTIONS = ("network", "cluster", "helloworld", "database", "dns")
# Top-level keys that are not objects: secrets set with `pulumi config set --secret`.
SECRET_KEYS = ("dockerhubToken",)

K8S_VERSION = re.compile(r"^1\.(\d{2})$")
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
GREETING = re.compile(r"^[^'\"\\\x00-\x1f]{1,200}$")
DOCKERHUB_USER = re.compile(r"^[a-z0-9]{4,30}$")

MIN_K8S_MINOR = 30  # preStop `sleep` (distroless has no shell) is on by default from 1.30.
MAX_AZS = 6
# Fixed subnet blocks by AZ index, so adding or removing an AZ never moves another AZ's subnets: the VPC is cut
# in 8 blocks; AZ i's private subnet is block i (6 of 8), and the 7th block is cut in 8 again for the public
# subnets (ELBs and NAT only). The 8th block is spare.
PRIVATE_PREFIX_DIFF = 3
PUBLIC_PREFIX_DIFF = 6
MIN_PRIVATE_PREFIX = 24  # every private subnet keeps at least 256 addresses: the VPC CNI gives each pod one.
MAX_VPC_PREFIX = MIN_PRIVATE_PREFIX - PRIVATE_PREFIX_DIFF  # /21: private /24s and public /27s (an ELB's minimum)
RDS_GP3_MIN_GB, RDS_MAX_GB = 20, 65536


class ConfigError(Exception):
    """Every problem in the stack config, one per line: `infra:<key path>: <value> — <allowed>`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack config ({len(problems)} problem(s)):\n{lines}")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class NetworkConfig:
    """VPC CIDR, how many AZs get a public + private subnet pair, and NAT layout."""

    cidr: str = "10.0.0.0/16"
    az_count: int = 2
    nat_gateways: str = "single"  # "single" (cheap) or "one-per-az" (survives an AZ outage)
    # "per-az": fixed blocks per AZ (adding an AZ moves nothing). "equal-split": the VPC divided by the AZ count,
    # as stacks deployed before the per-AZ plan have it (keep it there: changing it replaces every subnet).
    subnet_layout: str = "per-az"


@dataclass(frozen=True)
class NodesConfig:
    """The EC2 managed node group."""

    instance_types: list[str] = field(default_factory=lambda: ["t3.medium"])
    capacity_type: str = "ON_DEMAND"
    disk_size_gb: int = 20
    desired: int = 2
    min: int = 1
    max: int = 4
    max_unavailable: int = 1


@dataclass(frozen=True)
class AddonsConfig:
    """EKS managed add-on versions. Unset: the most recent EKS lists for the cluster's Kubernetes version, so
    they follow every version bump; set one (e.g. "v1.19.2-eksbuild.1") to hold it."""

    vpc_cni: str | None = None
    kube_proxy: str | None = None
    coredns: str | None = None
    eks_pod_identity_agent: str | None = None


ADDON_NAMES = {  # config field -> EKS add-on name
    "vpc_cni": "vpc-cni",
    "kube_proxy": "kube-proxy",
    "coredns": "coredns",
    "eks_pod_identity_agent": "eks-pod-identity-agent",
}
ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")


@dataclass(frozen=True)
class ClusterConfig:
    """The EKS control plane, who administers it, and how kubeconfig users authenticate."""

    # In EKS standard support on 2026-11-27 (until about 2027-03); checked against EKS's own list at deploy time.
    version: str = "1.35"
    # STANDARD: never billed for extended support ($0.60/h instead of $0.10/h); EKS upgrades the control plane
    # itself when standard support ends. EXTENDED: opt in to stay on a version for 12 more months.
    support_type: str = "STANDARD"
    # Who may reach the public API endpoint. Open by default (auth still needs IAM); narrow it to office/VPN CIDRs.
    public_access_cidrs: list[str] = field(default_factory=lambda: ["0.0.0.0/0"])
    admin_arns: list[str] = field(default_factory=list)
    kubeconfig_role_arn: str | None = None
    kubeconfig_profile: str | None = None
    log_retention_days: int = 30
    nodes: NodesConfig = field(default_factory=NodesConfig)
    addons: AddonsConfig = field(default_factory=AddonsConfig)


@dataclass(frozen=True)
class HelloWorldConfig:
    """The helloworld app: what to build, how to run it, how to roll it."""

    version: str = "1.0.0"
    greeting: str = "Hello world"
    replicas: int = 3
    workload: str = "ReplicationController"  # or "Deployment"
    registry: str = "ecr"  # or "dockerhub"
    dockerhub_username: str | None = None
    update_period_seconds: int = 3  # the old `kubectl rolling-update --update-period`
    namespace: str = "helloworld"


@dataclass(frozen=True)
class PointInTimeConfig:
    source: str = ""  # the DB instance identifier to restore from, e.g. infra-foo
    time: str = "latest"  # RFC 3339 (2026-11-27T21:00:00Z) or "latest"


@dataclass(frozen=True)
class RestoreFromConfig:
    """Where a NEW instance gets its data; read only when the instance is created, ignored after."""

    snapshot: str | None = None  # a DB snapshot identifier or ARN
    stack: str | None = None  # the newest available snapshot of that stack's instance (<project>-<stack>)
    point_in_time: PointInTimeConfig | None = None


@dataclass(frozen=True)
class DatabaseConfig:
    """RDS PostgreSQL. Safe by default: protected, deletion-protected, final snapshot."""

    # A major ("18": RDS picks its default minor, and minors upgrade automatically) or a pinned minor ("18.1":
    # automatic minor upgrades off). "18": the newest major RDS offers in standard support in 2026-12. Whether RDS
    # offers a major, and its support dates, are checked at deploy time (DescribeDBMajorEngineVersions).
    engine_version: str = "18"
    # STANDARD: created with RDS Extended Support disabled (never billed for it; RDS upgrades the major itself when
    # standard support ends). EXTENDED: opt in to stay on a major past standard support, billed per vCPU-hour.
    support_type: str = "STANDARD"
    instance_class: str = "db.t4g.micro"
    storage_gb: int = 20
    multi_az: bool = False
    backup_retention_days: int = 7
    db_name: str = "app"
    username: str = "app"
    ephemeral: bool = False
    skip_final_snapshot: bool = False
    log_retention_days: int = 30  # the postgresql and upgrade logs RDS exports to CloudWatch
    # Class, storage, Multi-AZ... changes wait for the maintenance window unless this is true. A major version
    # upgrade is always applied at once (the one `pulumi up` that asks for it).
    apply_immediately: bool = False
    max_storage_gb: int | None = None  # storage autoscaling up to this size (>= storageGb); unset: off
    restore_from: RestoreFromConfig | None = None

    @property
    def pins_minor(self) -> bool:
        """A minor such as "16.4", not just "16": once RDS moved the instance to 16.5, every later `up` would be a
        downgrade, so a pin turns automatic minor upgrades off."""
        return "." in self.engine_version


@dataclass(frozen=True)
class DnsConfig:
    """A CNAME `<name>.<zone>` for the app's ELB, in an existing zone or one the stack creates, with HTTPS."""

    zone: str | None = None  # an existing public hosted zone, looked up by name
    create_zone: bool = False
    new_zone: str | None = None  # the zone the stack creates when createZone is true
    name: str | None = None  # default: the stack name
    # HTTPS with an ACM certificate on the ELB. A zone the stack creates must be delegated before ACM can
    # validate: deploy it with tls: false, delegate, then turn tls on.
    tls: bool = True
    weight: int = 100  # Route 53 weight of this stack's record for the name (0..255); see the README's move

    @property
    def zone_name(self) -> str:
        return typing.cast(str, self.new_zone if self.create_zone else self.zone)


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    region: str
    network: NetworkConfig
    cluster: ClusterConfig
    helloworld: HelloWorldConfig
    database: DatabaseConfig
    dns: DnsConfig | None
    dockerhub_token: pulumi.Output[str] | None = None

    @property
    def cluster_name(self) -> str:
        return contract.cluster_name(self.project, self.stack)

    def tags(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Name, project and stack on every AWS resource, so a console or a sweep can find them."""
        return {"Name": f"{self.cluster_name}-{name}", "project": self.project, "stack": self.stack, **(extra or {})}


# ---------------------------------------------------------------- strict structural parsing


def _type_name(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "an object"
    origin = typing.get_origin(tp)
    if origin is list:
        return "a list of strings"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    return {bool: "true or false", int: "an integer", str: "a string"}[tp]


def _parse_value(tp: Any, raw: Any, path: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if raw is None else _parse_value(inner, raw, path, problems)
    if dataclasses.is_dataclass(tp):
        return _parse_object(typing.cast(type, tp), raw, path, problems)
    ok = (
        (origin is list and isinstance(raw, list) and all(isinstance(x, str) for x in raw))
        or (tp is bool and isinstance(raw, bool))
        or (tp is int and isinstance(raw, int) and not isinstance(raw, bool))
        or (tp is str and isinstance(raw, str))
    )
    if not ok:
        problems.append(f"{path}: {raw!r} has the wrong type — allowed: {_type_name(tp)}")
        return _MISSING
    return raw


_MISSING = object()


def _parse_object(cls: type, raw: Any, path: str, problems: list[str]) -> Any:
    """Build dataclass `cls` from a config object; unknown keys and wrong types become problems."""
    if not isinstance(raw, dict):
        problems.append(f"{path}: {raw!r} has the wrong type — allowed: an object with keys {_keys(cls)}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {camel(f.name): f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{path}.{key}: unknown key{hint} — allowed keys: {_keys(cls)}")
    values = {}
    for key, f in fields.items():
        if key in raw:
            value = _parse_value(hints[f.name], raw[key], f"{path}.{key}", problems)
            if value is not _MISSING:
                values[f.name] = value
    return cls(**values)


def _keys(cls: type) -> str:
    return ", ".join(camel(f.name) for f in dataclasses.fields(cls))


# ---------------------------------------------------------------- semantic rules


SUBNET_LAYOUTS = ("per-az", "equal-split")


def plan_subnets(cidr: str, az_count: int, layout: str = "per-az") -> tuple[list[str], list[str]]:
    """(private, public) CIDRs for AZs 0..az_count-1. "per-az": AZ i gets the same two blocks whatever the count,
    so a 2 → 3 → 2 AZ change adds or removes only AZ 2's subnets. "equal-split": 2 × az_count equal blocks,
    private first (every CIDR moves when the count changes)."""
    vpc = ipaddress.IPv4Network(cidr)
    if layout == "equal-split":
        bits = math.ceil(math.log2(2 * az_count))
        split = [str(b) for b in vpc.subnets(prefixlen_diff=bits)][: 2 * az_count]
        return split[:az_count], split[az_count:]
    blocks = list(vpc.subnets(prefixlen_diff=PRIVATE_PREFIX_DIFF))
    public = list(blocks[MAX_AZS].subnets(prefixlen_diff=PUBLIC_PREFIX_DIFF - PRIVATE_PREFIX_DIFF))
    return [str(b) for b in blocks[:az_count]], [str(b) for b in public[:az_count]]


def _check_network(n: NetworkConfig, problems: list[str]) -> None:
    p = "infra:network"
    if not 2 <= n.az_count <= MAX_AZS:
        problems.append(f"{p}.azCount: {n.az_count} — allowed: 2..{MAX_AZS} (EKS and RDS need subnets in two AZs)")
    if n.nat_gateways not in ("single", "one-per-az"):
        problems.append(f"{p}.natGateways: {n.nat_gateways!r} — allowed: 'single', 'one-per-az'")
    if n.subnet_layout not in SUBNET_LAYOUTS:
        problems.append(f"{p}.subnetLayout: {n.subnet_layout!r} — allowed: 'per-az', 'equal-split'")
    try:
        vpc = ipaddress.IPv4Network(n.cidr)
    except ValueError as e:
        problems.append(f"{p}.cidr: {n.cidr!r} is not an IPv4 network ({e}) — allowed: e.g. '10.0.0.0/16'")
        return
    if not vpc.is_private:
        problems.append(f"{p}.cidr: {n.cidr!r} is not a private range — allowed: inside 10/8, 172.16/12, 192.168/16")
    if not 16 <= vpc.prefixlen <= MAX_VPC_PREFIX:
        problems.append(
            f"{p}.cidr: {n.cidr!r} — allowed: /16 to /{MAX_VPC_PREFIX} (AWS allows /16 at most; a /{MAX_VPC_PREFIX}"
            f" gives each AZ a /{MIN_PRIVATE_PREFIX} private and a /{MAX_VPC_PREFIX + PUBLIC_PREFIX_DIFF} public"
            " subnet)"
        )
    elif n.subnet_layout == "equal-split" and 2 <= n.az_count <= MAX_AZS:
        prefix = vpc.prefixlen + math.ceil(math.log2(2 * n.az_count))
        if prefix > MIN_PRIVATE_PREFIX:
            problems.append(
                f"{p}.cidr: {n.cidr!r} is too small for {n.az_count} AZs with subnetLayout equal-split (subnets"
                f" would be /{prefix}) — allowed: subnets of /{MIN_PRIVATE_PREFIX} or larger"
            )


def _check_cluster(c: ClusterConfig, problems: list[str]) -> None:
    p = "infra:cluster"
    m = K8S_VERSION.match(c.version)
    if not m or int(m.group(1)) < MIN_K8S_MINOR:
        problems.append(f"{p}.version: {c.version!r} — allowed: '1.NN' with NN >= {MIN_K8S_MINOR}, e.g. '1.35'")
    if not c.public_access_cidrs:
        problems.append(f"{p}.publicAccessCidrs: [] — allowed: at least one CIDR, e.g. ['0.0.0.0/0']")
    for i, cidr in enumerate(c.public_access_cidrs):
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError:
            problems.append(f"{p}.publicAccessCidrs[{i}]: {cidr!r} — allowed: an IPv4 CIDR such as '203.0.113.0/24'")
    if c.support_type not in ("STANDARD", "EXTENDED"):
        problems.append(
            f"{p}.supportType: {c.support_type!r} — allowed: 'STANDARD' (no extended-support billing) or 'EXTENDED'"
        )
    for i, arn in enumerate(c.admin_arns):
        if not IAM_PRINCIPAL_ARN.match(arn):
            problems.append(f"{p}.adminArns[{i}]: {arn!r} — allowed: an IAM role or user ARN{_role_hint(arn)}")
    if len(set(c.admin_arns)) != len(c.admin_arns):
        problems.append(f"{p}.adminArns: {c.admin_arns!r} — allowed: each ARN once (EKS keeps one entry per ARN)")
    role = c.kubeconfig_role_arn
    if role is not None and not (IAM_PRINCIPAL_ARN.match(role) and ":role/" in role):
        problems.append(f"{p}.kubeconfigRoleArn: {role!r} — allowed: an IAM role ARN{_role_hint(role)}")
    if c.kubeconfig_profile is not None and not c.kubeconfig_profile.strip():
        problems.append(f"{p}.kubeconfigProfile: '' — allowed: an AWS CLI profile name")
    if c.log_retention_days not in _LOG_RETENTION_DAYS:
        problems.append(f"{p}.logRetentionDays: {c.log_retention_days} — allowed: one of {sorted(_LOG_RETENTION_DAYS)}")
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


# PutRetentionPolicy's allowed values (botocore logs model, retentionInDays).
_LOG_RETENTION_DAYS = {
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
}


def _check_nodes(n: NodesConfig, problems: list[str]) -> None:
    p = "infra:cluster.nodes"
    if not n.instance_types or any(not t.strip() for t in n.instance_types):
        problems.append(f"{p}.instanceTypes: {n.instance_types!r} — allowed: a non-empty list such as ['t3.medium']")
    if n.capacity_type not in ("ON_DEMAND", "SPOT"):
        problems.append(f"{p}.capacityType: {n.capacity_type!r} — allowed: 'ON_DEMAND', 'SPOT'")
    if not 20 <= n.disk_size_gb <= 16384:
        problems.append(f"{p}.diskSizeGb: {n.disk_size_gb} — allowed: 20..16384")
    if n.min < 1:
        problems.append(f"{p}.min: {n.min} — allowed: 1 or more")
    if not n.min <= n.desired <= n.max:
        problems.append(f"{p}.desired: {n.desired} (min {n.min}, max {n.max}) — allowed: min <= desired <= max")
    if not 1 <= n.max_unavailable <= max(n.max, 1):
        problems.append(f"{p}.maxUnavailable: {n.max_unavailable} — allowed: 1..max ({n.max})")


def _check_helloworld(h: HelloWorldConfig, dockerhub_token_set: bool, problems: list[str]) -> None:
    p = "infra:helloworld"
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
    if not 2 <= h.replicas <= 50:
        problems.append(f"{p}.replicas: {h.replicas} — allowed: 2..50 (one replica goes dark during node maintenance)")
    if h.workload not in ("ReplicationController", "Deployment"):
        problems.append(f"{p}.workload: {h.workload!r} — allowed: 'ReplicationController', 'Deployment'")
    if h.registry not in ("ecr", "dockerhub"):
        problems.append(f"{p}.registry: {h.registry!r} — allowed: 'ecr', 'dockerhub'")
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
    if not 0 <= h.update_period_seconds <= 600:
        problems.append(f"{p}.updatePeriodSeconds: {h.update_period_seconds} — allowed: 0..600")
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


def _check_database(d: DatabaseConfig, problems: list[str]) -> None:
    p = "infra:database"
    # Which majors RDS offers, and whether they are in standard support, is RDS's answer at deploy time.
    if not PG_VERSION.match(d.engine_version):
        problems.append(
            f"{p}.engineVersion: {d.engine_version!r} — allowed: a PostgreSQL major, optionally with a minor (e.g."
            " '18' or '18.1'); which majors RDS offers is checked at deploy time"
        )
    if d.support_type not in ("STANDARD", "EXTENDED"):
        problems.append(
            f"{p}.supportType: {d.support_type!r} — allowed: 'STANDARD' (no RDS Extended Support billing) or 'EXTENDED'"
        )
    if not re.match(r"^db\.[a-z0-9]+\.[a-z0-9]+$", d.instance_class):
        problems.append(f"{p}.instanceClass: {d.instance_class!r} — allowed: an RDS class such as 'db.t4g.micro'")
    if not RDS_GP3_MIN_GB <= d.storage_gb <= RDS_MAX_GB:
        problems.append(f"{p}.storageGb: {d.storage_gb} — allowed: {RDS_GP3_MIN_GB}..{RDS_MAX_GB} (gp3 minimum is 20)")
    if d.log_retention_days not in _LOG_RETENTION_DAYS:
        problems.append(f"{p}.logRetentionDays: {d.log_retention_days} — allowed: one of {sorted(_LOG_RETENTION_DAYS)}")
    if not 1 <= d.backup_retention_days <= 35:
        problems.append(f"{p}.backupRetentionDays: {d.backup_retention_days} — allowed: 1..35")
    for key, value in (("dbName", d.db_name), ("username", d.username)):
        if not IDENTIFIER.match(value) or value in ("postgres", "rdsadmin", "admin", "user"):
            problems.append(
                f"{p}.{key}: {value!r} — allowed: lowercase letter then letters, digits or _ (max 63),"
                " not a reserved name"
            )
    if d.username == APP_DB_USER:
        problems.append(
            f"{p}.username: {d.username!r} — allowed: any name but {APP_DB_USER!r}, the app's own IAM-authenticated"
            " role (the master user must stay a separate role)"
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


RDS_SNAPSHOT_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
RDS_SNAPSHOT_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:snapshot:[a-zA-Z][a-zA-Z0-9-:]*$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


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


def _check_dns(d: DnsConfig, problems: list[str]) -> None:
    p = "infra:dns"
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
    if not 0 <= d.weight <= 255:
        problems.append(f"{p}.weight: {d.weight} — allowed: 0..255 (Route 53 record weight; 0 takes no traffic)")
    if d.name is not None and not DNS_LABEL.match(d.name):
        problems.append(f"{p}.name: {d.name!r} — allowed: one lowercase DNS label, e.g. 'foo'")


# ---------------------------------------------------------------- entry point


def _raw_section(cfg: pulumi.Config, name: str, problems: list[str]) -> Any:
    try:
        return cfg.get_object(name)
    except (json.JSONDecodeError, pulumi.ConfigTypeError) as e:
        problems.append(f"infra:{name}: not valid structured config ({e}) — allowed: an object")
        return {}


def _unknown_top_level_keys() -> list[str]:
    """`infra:*` keys that are neither a section nor a known secret (typos like `infra:netwrok`)."""
    from pulumi.runtime import config as runtime_config

    known = set(SECTIONS) | set(SECRET_KEYS)
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{PROJECT_NAMESPACE}:"
    return sorted(k for k in keys if k.startswith(prefix) and k[len(prefix) :] not in known)


def load_config() -> StackConfig:
    """Read and validate the whole stack config; raise one ConfigError that lists every problem."""
    cfg = pulumi.Config(PROJECT_NAMESPACE)
    problems: list[str] = []
    for key in _unknown_top_level_keys():
        problems.append(f"{key}: unknown key — allowed keys: infra:{', infra:'.join(SECTIONS + SECRET_KEYS)}")

    if not STACK_NAME.match(pulumi.get_stack()):
        problems.append(
            f"stack name: {pulumi.get_stack()!r} — allowed: lowercase letters, digits and single '-', starting with a"
            " letter, at most 40 characters (it names the EKS cluster, RDS instance and ECR repository)"
        )
    region = pulumi.Config("aws").get("region")
    if not region or not re.match(r"^[a-z]{2}(-gov)?-[a-z]+-\d$", region):
        problems.append(f"aws:region: {region!r} — required: an AWS region such as 'us-west-2'")

    def section(cls: type, name: str) -> Any:
        raw = _raw_section(cfg, name, problems)
        return _parse_object(cls, {} if raw is None else raw, f"infra:{name}", problems)

    network: NetworkConfig = section(NetworkConfig, "network")
    cluster: ClusterConfig = section(ClusterConfig, "cluster")
    helloworld: HelloWorldConfig = section(HelloWorldConfig, "helloworld")
    database: DatabaseConfig = section(DatabaseConfig, "database")
    dns_raw = _raw_section(cfg, "dns", problems)
    dns: DnsConfig | None = None if dns_raw is None else _parse_object(DnsConfig, dns_raw, "infra:dns", problems)
    token = cfg.get_secret("dockerhubToken")

    _check_network(network, problems)
    _check_cluster(cluster, problems)
    _check_helloworld(helloworld, token is not None, problems)
    _check_database(database, problems)
    if dns is not None:
        _check_dns(dns, problems)
    if problems:
        raise ConfigError(problems)
    return StackConfig(
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        region=typing.cast(str, region),
        network=network,
        cluster=cluster,
        helloworld=helloworld,
        database=database,
        dns=dns,
        dockerhub_token=token,
    )
