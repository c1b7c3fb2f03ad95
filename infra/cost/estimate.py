"""What a resource graph costs a month at idle: one line per billed thing, priced from the region's table.

Idle means no traffic: what AWS bills by the hour or the month whether or not anyone calls the app. Charges that
grow with use (data processed, logs ingested, images stored, backups beyond the free allowance) are listed apart,
with their unit price when the table has it, and left out of the total. A price the table lacks leaves its line
unpriced and named (`MissingPrice`); the total then says it is incomplete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from infra.contract import RDS_EXTENDED_SUPPORT_OFF
from infra.cost.graph import Resource, get, of_type, region_of, resources_of
from infra.cost.load_balancers import NotProvisioned, load_balancer_of
from infra.cost.money import usd
from infra.cost.prices import MissingPrice, Price, PriceTable, load_table

EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
K8S_SERVICE = "kubernetes:core/v1:Service"
RDS_INSTANCE = "aws:rds/instance:Instance"
KMS_KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
ZONE = "aws:route53/zone:Zone"
RECORD = "aws:route53/record:Record"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ECR_REPOSITORY = "aws:ecr/repository:Repository"

ELB_ROLE_TAG = "kubernetes.io/role/elb"  # the subnets the cloud provider puts an internet-facing ELB in
INTERNAL_ELB_ROLE_TAG = "kubernetes.io/role/internal-elb"
# CreateNodegroup: with neither instanceTypes nor a launch template's type, EKS uses t3.medium; diskSize defaults
# to 20 GiB (Linux and Bottlerocket).
EKS_DEFAULT_INSTANCE_TYPE = "t3.medium"
EKS_DEFAULT_DISK_GB = 20


@dataclass(frozen=True)
class SupportDates:
    """When standard support ends for the graph's Kubernetes version and PostgreSQL major (None: not known here).
    The program reads both from EKS and RDS at deploy time; offline they are arguments."""

    eks_standard_end: dt.date | None = None
    rds_standard_end: dt.date | None = None


@dataclass(frozen=True)
class Line:
    key: str  # the same billed thing in two graphs has the same key (the delta pairs lines by it)
    item: str
    count: str  # "2 × t3.medium", "40 GB": what the price multiplies
    price: Price | None
    monthly: Decimal | None
    drivers: dict[str, str] = field(default_factory=dict)  # config settings this line follows, for the delta
    missing: MissingPrice | None = None
    unpriced: str = ""  # why a line has no price though the table is not at fault (e.g. SPOT)


@dataclass
class Estimate:
    region: str
    lines: list[Line]
    usage: list[str]  # billed by use, not in the idle total
    notes: list[str]
    callouts: list[str]  # extended support being billed: shown in red

    @property
    def total(self) -> Decimal:
        return sum((line.monthly for line in self.lines if line.monthly is not None), Decimal(0))

    @property
    def missing(self) -> list[MissingPrice]:
        return [line.missing for line in self.lines if line.missing is not None]

    @property
    def complete(self) -> bool:
        return all(line.monthly is not None for line in self.lines)


class _Pricer:
    """Turns (price key, quantity) into a line; quantity is in the price's unit per hour or per month."""

    def __init__(self, table: PriceTable) -> None:
        self.table = table
        self.lines: list[Line] = []

    def monthly(self, price: Price, quantity: Decimal) -> Decimal:
        per_month = self.table.hours_per_month if price.per in ("hour", "vCPU-hour") else Decimal(1)
        return quantity * price.usd * per_month

    def add(
        self, key: str, price_key: str, what: str, item: str, quantity: int | Decimal, count: str, **drivers: str
    ) -> Line:
        found = self.table.get(price_key, what)
        quantity = Decimal(quantity)
        if isinstance(found, MissingPrice):
            line = Line(key, item, count, None, None, dict(drivers), missing=found)
        else:
            line = Line(key, item, count, found, self.monthly(found, quantity), dict(drivers))
        self.lines.append(line)
        return line

    def unpriced(self, key: str, item: str, count: str, why: str, **drivers: str) -> None:
        self.lines.append(Line(key, item, count, None, None, dict(drivers), unpriced=why))


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word.endswith('s') else 's'}"


def _int(value: Any, default: int = 0) -> int:
    """A count from inputs: an int, a float the engine's protobuf Struct made of one (2.0), or digits."""
    if isinstance(value, bool):
        return default
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return int(value)
    return default


def _zones(subnets: Sequence[Resource], role_tag: str | None = None) -> list[str]:
    picked = [s for s in subnets if role_tag is None or str(get(s.inputs, "tags", role_tag)) == "1"]
    return sorted({str(s.inputs["availabilityZone"]) for s in picked if s.inputs.get("availabilityZone")})


def _nat_mode(nat_count: int, az_count: int) -> str:
    """`network.natGateways` as the graph shows it: one NAT is `single`, one per AZ is `one-per-az`."""
    if nat_count == 1:
        return "single"
    return "one-per-az" if nat_count == az_count else f"{nat_count} NAT gateways"


def _launch_template(resources: Sequence[Resource], node_group: Resource) -> Resource | None:
    """The node group's launch template: by id (deployed state) or name, else the graph's only one."""
    wanted = get(node_group.inputs, "launchTemplate")
    if wanted is None:
        return None
    templates = of_type(resources, LAUNCH_TEMPLATE)
    for template in templates:
        if template.id and template.id == get(wanted, "id"):
            return template
        if get(wanted, "name") and template.inputs.get("name") == get(wanted, "name"):
            return template
    return templates[0] if len(templates) == 1 else None


def _root_volume(resources: Sequence[Resource], node_group: Resource) -> tuple[int, str]:
    """(GiB, EBS type) of each node's root volume. A launch template's mapping wins; without one EKS takes the node
    group's diskSize (20 GiB by default) and the AMI's volume type: gp3 in the AL2023 AMIs, gp2 in AL2 and
    Bottlerocket ones (aws/containers-roadmap#1417, bottlerocket-os/bottlerocket#4000)."""
    template = _launch_template(resources, node_group)
    ami_default = "gp3" if str(node_group.inputs.get("amiType", "")).startswith("AL2023") else "gp2"
    if template is not None:
        for mapping in template.inputs.get("blockDeviceMappings") or []:
            ebs = get(mapping, "ebs")
            if isinstance(ebs, dict) and ebs.get("volumeSize"):
                return _int(ebs["volumeSize"]), str(ebs.get("volumeType") or ami_default)
    return _int(node_group.inputs.get("diskSize"), EKS_DEFAULT_DISK_GB), ami_default


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _eks(p: _Pricer, resources: Sequence[Resource], support: SupportDates, today: dt.date, out: Estimate) -> None:
    for cluster in of_type(resources, EKS_CLUSTER):
        # EKS's own default upgrade policy is EXTENDED: without the setting a cluster stays and pays.
        support_type = str(get(cluster.inputs, "upgradePolicy", "supportType") or "EXTENDED")
        version = str(cluster.inputs.get("version") or "?")
        name = str(cluster.inputs.get("name") or cluster.name)
        end = support.eks_standard_end
        extended = support_type == "EXTENDED" and end is not None and today > end
        drivers = {"cluster.supportType": support_type, "cluster.version": version}
        kind = "extended" if extended else "standard"
        line = p.add(
            f"eks:{cluster.name}",
            f"eks.cluster.{kind}",
            f"the EKS control plane ({kind} support)",
            f"EKS control plane {name} ({kind} support, Kubernetes {version})",
            1,
            "1 cluster",
            **drivers,
        )
        standard = p.table.prices.get("eks.cluster.standard")
        extra = (
            p.monthly(line.price, Decimal(1)) - p.monthly(standard, Decimal(1))
            if line.price is not None and standard is not None
            else None
        )
        extra_text = f"+{usd(extra)}/month" if extra is not None else "extra (no extended price in the table)"
        if extended:
            out.callouts.append(f"EXTENDED SUPPORT: {extra_text} since {end} (EKS {name}, Kubernetes {version})")
        elif support_type == "EXTENDED":
            ext = p.table.prices.get("eks.cluster.extended")
            more = (
                f"+{usd(p.monthly(ext, Decimal(1)) - p.monthly(standard, Decimal(1)))}/month"
                if ext and standard
                else ""
            )
            when = f"from {end}" if end else "once it leaves standard support (its end date is not known here)"
            out.notes.append(
                f"EKS {name}: upgradePolicy EXTENDED, so Kubernetes {version} bills extended support {when}"
                + (f": {more}" if more else "")
            )


def _nodes(p: _Pricer, resources: Sequence[Resource], out: Estimate) -> None:
    for group in of_type(resources, NODE_GROUP):
        types = [str(t) for t in group.inputs.get("instanceTypes") or [EKS_DEFAULT_INSTANCE_TYPE]]
        desired = _int(get(group.inputs, "scalingConfig", "desiredSize"))
        capacity = str(group.inputs.get("capacityType") or "ON_DEMAND")
        drivers = {
            "nodes.instanceTypes": ",".join(types),
            "nodes.desired": str(desired),
            "nodes.capacityType": capacity,
        }
        item = f"EKS nodes {group.name}: {desired} × {types[0]} ({capacity})"
        count = f"{desired} × {types[0]}"
        if capacity == "SPOT":
            p.unpriced(f"nodes:{group.name}", item, count, "SPOT prices move with demand: not in the table", **drivers)
        else:
            p.add(f"nodes:{group.name}", f"ec2.{types[0]}", types[0], item, desired, count, **drivers)
        if len(types) > 1:
            out.notes.append(
                f"node group {group.name} lists {', '.join(types)}: priced at the first, EKS's first choice"
            )
        size, volume = _root_volume(resources, group)
        p.add(
            f"volumes:{group.name}",
            f"ebs.{volume}",
            f"EBS {volume} storage",
            f"node root volumes {group.name}: {desired} × {size} GB {volume}",
            desired * size,
            f"{desired * size} GB",
            **{"nodes.desired": str(desired), "nodes.diskSizeGb": str(size)},
        )


def _network(p: _Pricer, resources: Sequence[Resource], out: Estimate) -> None:
    subnets = of_type(resources, SUBNET)
    azs = len(_zones(subnets))
    nats = len(of_type(resources, NAT_GATEWAY))
    mode = _nat_mode(nats, azs)
    drivers = {"natGateways": mode, "azCount": str(azs)}
    if nats:
        p.add(
            "nat", "vpc.natGateway", "a NAT gateway", f"NAT gateways ({mode})", nats, _n(nats, "NAT gateway"), **drivers
        )
    elb_addresses = 0
    built: dict[str, int] = {}  # load balancers by kind, for the by-use lines
    for service in of_type(resources, K8S_SERVICE):
        found = load_balancer_of(service.inputs)
        if found is None:
            continue
        where = f"{get(service.inputs, 'metadata', 'namespace') or 'default'}/{get(service.inputs, 'metadata', 'name')}"
        if isinstance(found, NotProvisioned):
            out.notes.append(f"Service {where}: {found.why}")
            continue
        zones = _zones(subnets, INTERNAL_ELB_ROLE_TAG if found.internal else ELB_ROLE_TAG)
        elb_addresses += 0 if found.internal else len(zones)
        built[found.kind] = built.get(found.kind, 0) + 1
        detail = [f"{len(zones)} AZs"] + (["internal"] if found.internal else [])
        if found.needs_controller:
            detail.append(f"{found.targets} targets, by {found.provisioner}")
            out.notes.append(
                f"Service {where} asks for an NLB from {found.provisioner}, which this program does not install:"
                " priced as if it were installed; without it no load balancer is made (the Service stays pending)"
                " and nothing is billed"
            )
        what = "a Classic ELB" if found.kind == "classic" else "a Network Load Balancer"
        p.add(
            f"elb:{where}",
            f"elb.{found.kind}",
            what,
            f"{found.label} for Service {where} ({', '.join(detail)})",
            1,
            "1 load balancer",
        )
    eips = len(of_type(resources, EIP))
    if eips or elb_addresses:
        p.add(
            "ipv4",
            "vpc.publicIPv4",
            "a public IPv4 address",
            f"public IPv4 addresses: {eips} Elastic IP + {elb_addresses} of the load balancer (one per AZ)",
            eips + elb_addresses,
            _n(eips + elb_addresses, "address"),
            **drivers,
        )
    usage = (
        ("vpc.natGateway.data", nats, "NAT gateway data processed (image pulls, OS updates)"),
        ("elb.classic.data", built.get("classic", 0), "Classic ELB data processed (requests)"),
        # An NLCU-hour is the most of: 800 new TCP flows/s, 100,000 active flows, 1 GB processed (ELB pricing page).
        ("elb.network.nlcu", built.get("network", 0), "NLB capacity units used (flows and bytes), per NLCU"),
    )
    for key, relevant, what in usage:
        price = p.table.prices.get(key)
        if price is not None and relevant:
            out.usage.append(f"{what}: {price.rate()}")


def _database(p: _Pricer, resources: Sequence[Resource], support: SupportDates, today: dt.date, out: Estimate) -> int:
    """RDS lines; returns how many secrets RDS manages (the master password)."""
    secrets = 0
    for db in of_type(resources, RDS_INSTANCE):
        cls = str(db.inputs.get("instanceClass") or "?")
        engine = str(db.inputs.get("engine") or "postgres")
        multi = bool(db.inputs.get("multiAz"))
        copies = 2 if multi else 1  # Multi-AZ bills the standby's hours and storage too (RDS user guide)
        ident = str(db.inputs.get("identifier") or db.name)
        layout = "Multi-AZ: primary + standby" if multi else "Single-AZ"
        instance = p.add(
            f"rds:{db.name}",
            f"rds.{engine}.{cls}",
            f"RDS {engine} {cls} (Single-AZ)",
            f"RDS {engine} {cls} {ident} ({layout})",
            copies,
            f"{copies} × {cls}",
            **{"database.instanceClass": cls, "database.multiAz": str(multi).lower()},
        )
        size = _int(db.inputs.get("allocatedStorage"))
        storage = str(db.inputs.get("storageType") or "")
        storage_drivers = {"database.storageGb": str(size), "database.multiAz": str(multi).lower()}
        if storage:
            p.add(
                f"rds-storage:{db.name}",
                f"rds.storage.{storage}",
                f"RDS {storage} storage",
                f"RDS storage {ident}: {copies} × {size} GB {storage}",
                copies * size,
                f"{copies * size} GB",
                **storage_drivers,
            )
        else:
            p.unpriced(
                f"rds-storage:{db.name}", f"RDS storage {ident}", f"{size} GB", "storageType unset", **storage_drivers
            )
        grow = _int(db.inputs.get("maxAllocatedStorage"))
        if grow > size:
            out.notes.append(f"RDS {ident} storage autoscaling may grow it to {grow} GB, billed as it grows")
        out.usage.append(
            f"RDS {ident} backups: free up to the provisioned {size} GB; snapshots kept after a destroy are billed"
        )
        if db.inputs.get("manageMasterUserPassword"):
            secrets += 1
        _rds_extended(p, db, instance, copies, support, today, out)
    return secrets


def _rds_extended(
    p: _Pricer, db: Resource, instance: Line, copies: int, support: SupportDates, today: dt.date, out: Estimate
) -> None:
    """RDS Extended Support: per vCPU-hour (standby included) once the major leaves standard support, unless the
    instance was created with it disabled. Year 3 costs twice years 1-2."""
    # Absent, RDS enrols the instance: open-source-rds-extended-support is the API's default.
    enrolled = db.inputs.get("engineLifecycleSupport") != RDS_EXTENDED_SUPPORT_OFF
    end = support.rds_standard_end
    major = str(db.inputs.get("engineVersion") or "?")
    ident = str(db.inputs.get("identifier") or db.name)
    if not enrolled:
        return
    if end is None or today <= end:
        when = f"from {end}" if end else "once it leaves standard support (its end date is not known here)"
        out.notes.append(f"RDS {ident}: enrolled in Extended Support, billed per vCPU {when}")
        return
    year = "year3" if today > _add_years(end, 2) else "year1-2"
    vcpu = instance.price.vcpu if instance.price is not None else None
    item = f"RDS Extended Support {ident} (PostgreSQL {major}, {year.replace('year', 'year ')})"
    drivers = {"database.supportType": "EXTENDED", "database.engineVersion": major}
    if vcpu is None:
        p.unpriced(f"rds-extended:{db.name}", item, "? vCPU", "the class's vCPUs are not in the table", **drivers)
        out.callouts.append(f"EXTENDED SUPPORT: billed per vCPU since {end} (RDS {ident}, PostgreSQL {major})")
        return
    line = p.add(
        f"rds-extended:{db.name}",
        f"rds.extendedSupport.{year}",
        f"RDS Extended Support ({year})",
        item,
        vcpu * copies,
        f"{vcpu * copies} vCPU",
        **drivers,
    )
    extra = f"+{usd(line.monthly)}/month" if line.monthly is not None else "extra (no price in the table)"
    out.callouts.append(f"EXTENDED SUPPORT: {extra} since {end} (RDS {ident}, PostgreSQL {major})")


def _small_things(p: _Pricer, resources: Sequence[Resource], rds_secrets: int, out: Estimate) -> None:
    keys = of_type(resources, KMS_KEY)
    if keys:
        p.add("kms", "kms.key", "a KMS key", f"KMS keys ({len(keys)})", len(keys), _n(len(keys), "key"))
        rotating = sum(1 for k in keys if k.inputs.get("enableKeyRotation"))
        if rotating:
            out.notes.append(
                f"{rotating} KMS key(s) rotate yearly: each of the first two rotations adds the key's monthly price"
                " again"
            )
    secrets = len(of_type(resources, SECRET)) + rds_secrets
    if secrets:
        what = "the RDS-managed master password" if rds_secrets else "secrets"
        p.add(
            "secrets",
            "secretsmanager.secret",
            "a Secrets Manager secret",
            f"Secrets Manager ({what})",
            secrets,
            _n(secrets, "secret"),
        )
    zones = of_type(resources, ZONE)
    if zones:
        p.add(
            "zones",
            "route53.hostedZone",
            "a Route53 hosted zone",
            "Route53 hosted zones",
            len(zones),
            _n(len(zones), "zone"),
            **{"dns.createZone": "true"},
        )
    elif of_type(resources, RECORD):
        out.notes.append(
            "the hosted zone the DNS records go into is not this stack's: its $0.50/month is not counted here"
        )
    groups = of_type(resources, LOG_GROUP)
    if groups:
        days = sorted({_int(g.inputs.get("retentionInDays")) for g in groups})
        out.usage.append(
            f"CloudWatch Logs: {len(groups)} log groups ({'/'.join(map(str, days))} days): billed per GB ingested and"
            " stored, not by the hour; the EKS audit log is not empty at idle (controllers and kubelets call the API"
            " all the time), so read its IncomingBytes after a day"
        )
    for repo in of_type(resources, ECR_REPOSITORY):
        out.usage.append(
            f"ECR {repo.inputs.get('name') or repo.name}: billed per GB-month stored (a small image: cents)"
        )


def estimate(
    graph: Any,
    table: PriceTable | None = None,
    support: SupportDates | None = None,
    today: dt.date | None = None,
) -> Estimate:
    """The idle monthly cost of `graph` (snapshot, stack export or registrations). Without `table`, the table of
    the region its subnets are in."""
    resources = resources_of(graph)
    if table is None:
        table = load_table(region_of(resources) or "unknown-region")
    support = support or SupportDates()
    today = today or dt.datetime.now(dt.UTC).date()
    out = Estimate(table.region, [], [], [], [])
    pricer = _Pricer(table)
    _eks(pricer, resources, support, today, out)
    _nodes(pricer, resources, out)
    _network(pricer, resources, out)
    rds_secrets = _database(pricer, resources, support, today, out)
    _small_things(pricer, resources, rds_secrets, out)
    out.lines = pricer.lines
    return out
