"""The stack config's schema: one frozen dataclass per section, each key's default, allowed values and doc as data.

`docs/config.md` is generated from this module (tools/config_reference.py), and a Range or OneOf below is also the
check infra/config/rules.py runs, so the reference and the error message say the same thing.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra import contract
from infra.contract import APP_DB_USER
from infra.network_plan import MAX_AZS, MAX_VPC_PREFIX, SUBNET_LAYOUTS

PROJECT_NAMESPACE = "infra"
SECTIONS = ("network", "cluster", "helloworld", "database", "dns")
# Top-level keys that are not objects: secrets set with `pulumi config set --secret`.
SECRET_KEYS = ("dockerhubToken",)

MIN_K8S_MINOR = 30  # preStop `sleep` (distroless has no shell) is on by default from 1.30.
RDS_GP3_MIN_GB, RDS_MAX_GB = 20, 65536
# PutRetentionPolicy's allowed values (botocore logs model, retentionInDays).
LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)
LOG_RETENTION_DAYS += (2192, 2557, 2922, 3288, 3653)


def camel(name: str) -> str:
    """A field's key as the user writes it: `az_count` → `azCount`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# ---------------------------------------------------------------- what a key allows, as data


@dataclass(frozen=True)
class Range:
    """An integer from `low` to `high` (no upper bound when None); `why` is said with it."""

    low: int
    high: int | None = None
    why: str = ""

    def allows(self, value: Any) -> bool:
        return self.low <= value and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        text = f"{self.low} or more" if self.high is None else f"{self.low}..{self.high}"
        return f"{text} ({self.why})" if self.why else text


@dataclass(frozen=True)
class OneOf:
    """One of `values`; `notes` says what a value means where the name alone does not."""

    values: tuple[str, ...] | tuple[int, ...]
    notes: Mapping[str, str] = field(default_factory=dict)

    def allows(self, value: Any) -> bool:
        return value in self.values

    def __str__(self) -> str:
        if all(isinstance(v, int) for v in self.values):
            return f"one of {sorted(self.values)}"
        if self.notes:  # a note in parentheses reads badly before a comma
            return " or ".join(
                f"{v!r} ({self.notes[v]})" if v in self.notes else repr(v) for v in map(str, self.values)
            )
        return ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class KeyDoc:
    """A key's one-line doc and what it allows: a Range or OneOf (checked from this data), or text describing a
    rule in rules.py. `name` is the full key where it is not `infra:<section>.<path>`."""

    doc: str
    allowed: Range | OneOf | str = ""
    name: str = ""
    secret: bool = False


_KEY_DOC = "infra.config.key"


def documented(doc: str, allowed: Range | OneOf | str = "", *, name: str = "", secret: bool = False) -> dict[str, Any]:
    """The `metadata` of a config field."""
    return {_KEY_DOC: KeyDoc(doc, allowed, name, secret)}


def key_doc(f: dataclasses.Field[Any]) -> KeyDoc | None:
    return f.metadata.get(_KEY_DOC)


AZ_COUNT = Range(2, MAX_AZS, "EKS and RDS need subnets in two AZs")
SUPPORT_TYPES = ("STANDARD", "EXTENDED")


# ---------------------------------------------------------------- the sections


@dataclass(frozen=True)
class NetworkConfig:
    """VPC CIDR, how many AZs get a public + private subnet pair, and NAT layout."""

    cidr: str = field(
        default="10.0.0.0/16",
        metadata=documented(
            "the VPC's IPv4 range; changing it REPLACES the VPC and everything in it",
            f"a private range (inside 10/8, 172.16/12, 192.168/16), /16 to /{MAX_VPC_PREFIX}",
        ),
    )
    az_count: int = field(
        default=2,
        metadata=documented(
            "how many AZs get a public and a private subnet; AZ i always gets the same two, so adding or removing"
            " an AZ moves no other AZ's subnets",
            AZ_COUNT,
        ),
    )
    nat_gateways: str = field(
        default="single",
        metadata=documented(
            "NAT gateways: `single` is cheap, `one-per-az` survives an AZ outage", OneOf(("single", "one-per-az"))
        ),
    )
    subnet_layout: str = field(
        default="per-az",
        metadata=documented(
            "`per-az`: fixed blocks per AZ (adding an AZ moves nothing); `equal-split`: the VPC divided by the AZ"
            " count, as stacks deployed before the per-AZ plan have it (keep it there: changing it replaces every"
            " subnet)",
            OneOf(SUBNET_LAYOUTS),
        ),
    )


@dataclass(frozen=True)
class NodesConfig:
    """The EC2 managed node group, in the private subnets."""

    instance_types: list[str] = field(
        default_factory=lambda: ["t3.medium"],
        metadata=documented("EC2 instance types of the nodes", "a non-empty list such as ['t3.medium']"),
    )
    capacity_type: str = field(
        default="ON_DEMAND",
        metadata=documented("`SPOT` nodes can be reclaimed at two minutes' notice", OneOf(("ON_DEMAND", "SPOT"))),
    )
    disk_size_gb: int = field(
        default=20, metadata=documented("each node's root volume in GiB (gp3; the EKS AMI needs 20)", Range(20, 16384))
    )
    desired: int = field(
        default=2,
        metadata=documented("how many nodes run: raise it and `pulumi up` to add EC2 instances", "min..max"),
    )
    min: int = field(default=1, metadata=documented("the node group's minimum size", Range(1)))
    max: int = field(default=4, metadata=documented("the node group's maximum size", "desired or more"))
    max_unavailable: int = field(
        default=1, metadata=documented("nodes replaced at a time during node group updates", "1..max")
    )


ADDON_NAMES = {  # config field -> EKS add-on name: the one list the config, the account checks and the cluster use
    "vpc_cni": "vpc-cni",
    "kube_proxy": "kube-proxy",
    "coredns": "coredns",
    "eks_pod_identity_agent": "eks-pod-identity-agent",
}


def _addon_version(config_field: str) -> Any:
    """An add-on's version field, documented under its EKS name (a field missing from ADDON_NAMES fails here)."""
    return field(
        default=None,
        metadata=documented(
            f"the {ADDON_NAMES[config_field]} add-on's version; unset: the newest EKS lists for the cluster's"
            " Kubernetes version",
            "an EKS add-on version such as 'v1.19.2-eksbuild.1', or unset to follow the cluster",
        ),
    )


@dataclass(frozen=True)
class AddonsConfig:
    """EKS managed add-on versions. Unset: the most recent EKS lists for the cluster's Kubernetes version, so
    they follow every version bump; set one (e.g. "v1.19.2-eksbuild.1") to hold it."""

    vpc_cni: str | None = _addon_version("vpc_cni")
    kube_proxy: str | None = _addon_version("kube_proxy")
    coredns: str | None = _addon_version("coredns")
    eks_pod_identity_agent: str | None = _addon_version("eks_pod_identity_agent")


@dataclass(frozen=True)
class ClusterConfig:
    """The EKS control plane, who administers it, and how kubeconfig users authenticate."""

    version: str = field(
        default="1.35",  # in EKS standard support on 2026-11-27 (until about 2027-03)
        metadata=documented(
            "the Kubernetes version; checked at deploy time against EKS's own list and support dates",
            f"'1.NN' with NN >= {MIN_K8S_MINOR}",
        ),
    )
    support_type: str = field(
        default="STANDARD",
        metadata=documented(
            "STANDARD: never billed for extended support ($0.60/h instead of $0.10/h), EKS upgrades the control"
            " plane itself when standard support ends; EXTENDED: opt in to stay on a version for 12 more months",
            OneOf(SUPPORT_TYPES, {"STANDARD": "no extended-support billing"}),
        ),
    )
    public_access_cidrs: list[str] = field(
        default_factory=lambda: ["0.0.0.0/0"],
        metadata=documented(
            "who may reach the public API endpoint (IAM auth still applies): narrow it to office/VPN CIDRs, keeping"
            " the machine that deploys inside",
            "at least one IPv4 CIDR",
        ),
    )
    admin_arns: list[str] = field(
        default_factory=list,
        metadata=documented(
            "IAM roles or users given cluster-admin access entries (the creator always is one)",
            "IAM role or user ARNs, each once, not STS assumed-role sessions",
        ),
    )
    view_arns: list[str] = field(
        default_factory=list,
        metadata=documented(
            "IAM roles or users given read-only access entries (AmazonEKSViewPolicy), e.g. CI's preview role",
            "IAM role or user ARNs, each once, not STS assumed-role sessions, none also in adminArns",
        ),
    )
    kubeconfig_role_arn: str | None = field(
        default=None,
        metadata=documented("the exported kubeconfig runs `aws eks get-token --role-arn` with it", "an IAM role ARN"),
    )
    kubeconfig_profile: str | None = field(
        default=None, metadata=documented("the exported kubeconfig sets AWS_PROFILE to it", "an AWS CLI profile name")
    )
    log_retention_days: int = field(
        default=30,
        metadata=documented(
            "days CloudWatch keeps the control-plane logs (api, audit, authenticator)", OneOf(LOG_RETENTION_DAYS)
        ),
    )
    nodes: NodesConfig = field(default_factory=NodesConfig, metadata=documented("the EC2 managed node group"))
    addons: AddonsConfig = field(default_factory=AddonsConfig, metadata=documented("EKS managed add-on versions"))


@dataclass(frozen=True)
class HelloWorldConfig:
    """The helloworld app: what to build, how to run it, how to roll it."""

    version: str = field(
        default="1.0.0",
        metadata=documented(
            "the app's version: it tags the image and names the ReplicationController; a new version rolls the app",
            "semantic version MAJOR.MINOR.PATCH with an optional lowercase pre-release (2.0.0-rc.1), at most 63"
            " characters",
        ),
    )
    greeting: str = field(
        default="Hello world",
        metadata=documented(
            "what the app says; baked into the image, so changing it needs a new version",
            "1-200 printable characters without quotes or backslashes",
        ),
    )
    replicas: int = field(
        default=3, metadata=documented("pods of the app", Range(2, 50, "one replica goes dark during node maintenance"))
    )
    workload: str = field(
        default="ReplicationController",
        metadata=documented(
            "ReplicationController (the runbook's) or Deployment (rolling updates with history)",
            OneOf(("ReplicationController", "Deployment")),
        ),
    )
    registry: str = field(
        default="ecr",
        metadata=documented(
            "where the image is pushed: the stack's ECR repository, or Docker Hub (with dockerhubUsername and the"
            " secret dockerhubToken)",
            OneOf(("ecr", "dockerhub")),
        ),
    )
    dockerhub_username: str | None = field(
        default=None,
        metadata=documented(
            "the Docker Hub account the image is pushed to", "4-30 lowercase letters or digits; required with dockerhub"
        ),
    )
    update_period_seconds: int = field(
        default=3,
        metadata=documented(
            "seconds a new pod must be Ready before it counts (minReadySeconds; kubectl rolling-update's"
            " --update-period)",
            Range(0, 600),
        ),
    )
    namespace: str = field(
        default="helloworld",
        metadata=documented(
            "the app's namespace; the stack creates it and `<namespace>-db-admin`",
            "a DNS label, not 'default' nor 'kube-*'",
        ),
    )


@dataclass(frozen=True)
class PointInTimeConfig:
    """Another instance's data as of a time (its automated backups)."""

    source: str = field(
        default="",
        metadata=documented("the DB instance to restore from", "required: a DB instance identifier, e.g. 'infra-foo'"),
    )
    time: str = field(
        default="latest",
        metadata=documented("the time to restore to", "'latest' or an RFC 3339 time such as '2026-11-27T21:00:00Z'"),
    )


@dataclass(frozen=True)
class RestoreFromConfig:
    """Where a NEW instance gets its data; read only when the instance is created, ignored after."""

    snapshot: str | None = field(
        default=None, metadata=documented("a DB snapshot to restore", "a DB snapshot identifier or ARN")
    )
    stack: str | None = field(
        default=None,
        metadata=documented(
            "restore the newest available snapshot of that stack's instance", "a stack of this project, e.g. 'foo'"
        ),
    )
    point_in_time: PointInTimeConfig | None = field(
        default=None, metadata=documented("restore another instance's data as of a time")
    )


@dataclass(frozen=True)
class DatabaseConfig:
    """RDS PostgreSQL. Safe by default: protected, deletion-protected, final snapshot."""

    engine_version: str = field(
        default="18",  # the newest major RDS offers in standard support in 2026-12
        metadata=documented(
            "a PostgreSQL major (RDS picks its default minor and upgrades minors automatically) or a pinned minor"
            " (automatic minor upgrades off); checked at deploy time against RDS's list and support dates",
            "a major, optionally with a minor: '18' or '18.1'",
        ),
    )
    support_type: str = field(
        default="STANDARD",
        metadata=documented(
            "STANDARD: created with RDS Extended Support disabled (RDS upgrades the major itself when standard"
            " support ends); EXTENDED: opt in to stay on a major past standard support, billed per vCPU-hour",
            OneOf(SUPPORT_TYPES, {"STANDARD": "no RDS Extended Support billing"}),
        ),
    )
    instance_class: str = field(
        default="db.t4g.micro", metadata=documented("the RDS instance class", "an RDS class such as 'db.t4g.micro'")
    )
    storage_gb: int = field(
        default=20,
        metadata=documented(
            "allocated gp3 storage in GiB (RDS can grow it, never shrink it)",
            Range(RDS_GP3_MIN_GB, RDS_MAX_GB, "gp3 minimum is 20"),
        ),
    )
    multi_az: bool = field(
        default=False, metadata=documented("a synchronous standby in another AZ; failover in about a minute")
    )
    backup_retention_days: int = field(
        default=7, metadata=documented("days of automated backups: the point-in-time restore window", Range(1, 35))
    )
    db_name: str = field(
        default="app",
        metadata=documented(
            "the database the app uses; changing it REPLACES the database",
            "lowercase letter then letters, digits or _ (max 63), not a reserved name",
        ),
    )
    username: str = field(
        default="app",
        metadata=documented(
            "the master user; changing it REPLACES the database", f"as dbName, and not {APP_DB_USER!r} (the app's role)"
        ),
    )
    ephemeral: bool = field(
        default=False,
        metadata=documented(
            "a throwaway stack: no Pulumi protect, no RDS or EKS deletion protection; never on a stack whose data"
            " matters"
        ),
    )
    skip_final_snapshot: bool = field(
        default=False, metadata=documented("no final snapshot on destroy", "true only with ephemeral: true")
    )
    log_retention_days: int = field(
        default=30,
        metadata=documented("days CloudWatch keeps the postgresql and upgrade logs", OneOf(LOG_RETENTION_DAYS)),
    )
    apply_immediately: bool = field(
        default=False,
        metadata=documented(
            "apply class, storage, Multi-AZ... changes at once, not in the maintenance window (a major version"
            " upgrade is always applied at once)"
        ),
    )
    max_storage_gb: int | None = field(
        default=None,
        metadata=documented(
            "storage autoscaling up to this size; unset: off", f"more than storageGb, up to {RDS_MAX_GB}"
        ),
    )
    restore_from: RestoreFromConfig | None = field(
        default=None,
        metadata=documented(
            "where a NEW instance gets its data; read only when the instance is created, ignored after",
            "exactly one of snapshot, stack, pointInTime",
        ),
    )

    @property
    def pins_minor(self) -> bool:
        """A minor such as "16.4", not just "16": once RDS moved the instance to 16.5, every later `up` would be a
        downgrade, so a pin turns automatic minor upgrades off."""
        return "." in self.engine_version


@dataclass(frozen=True)
class DnsConfig:
    """Optional: a CNAME `<name>.<zone>` for the app's ELB, in an existing zone or one the stack creates, with
    HTTPS. Without this section the app's URL is the ELB's own hostname."""

    zone: str | None = field(
        default=None,
        metadata=documented(
            "an existing public hosted zone in the deploying account, looked up by name",
            "a lowercase domain such as 'cloud.example.com'; required unless createZone",
        ),
    )
    create_zone: bool = field(
        default=False, metadata=documented("the stack creates the zone newZone", "true only with newZone, not zone")
    )
    new_zone: str | None = field(
        default=None,
        metadata=documented("the zone the stack creates", "a lowercase domain; only with createZone: true"),
    )
    name: str | None = field(
        default=None,
        metadata=documented("the record is `<name>.<zone>`; unset: the stack name", "one lowercase DNS label"),
    )
    tls: bool = field(
        default=True,
        metadata=documented(
            "HTTPS with an ACM certificate on the ELB, validated by DNS: a zone the stack creates must be delegated"
            " first (deploy it with tls: false, delegate, then turn tls on)"
        ),
    )
    weight: int = field(
        default=100,
        metadata=documented(
            "Route 53 weight of this stack's record for the name (moving an environment shifts it)",
            Range(0, 255, "Route 53 record weight; 0 takes no traffic"),
        ),
    )

    @property
    def zone_name(self) -> str:
        return typing.cast(str, self.new_zone if self.create_zone else self.zone)


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    region: str = field(
        metadata=documented(
            "the AWS region everything is created in", "an AWS region such as 'us-west-2'", name="aws:region"
        )
    )
    network: NetworkConfig
    cluster: ClusterConfig
    helloworld: HelloWorldConfig
    database: DatabaseConfig
    dns: DnsConfig | None
    dockerhub_token: pulumi.Output[str] | None = field(
        default=None,
        metadata=documented(
            "the Docker Hub access token the image is pushed with",
            "required with registry 'dockerhub'",
            name="infra:dockerhubToken",
            secret=True,
        ),
    )

    @property
    def cluster_name(self) -> str:
        return contract.cluster_name(self.project, self.stack)

    def tags(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Name, project and stack on every AWS resource, so a console or a sweep can find them."""
        return contract.resource_tags(self.project, self.stack, name, extra)
