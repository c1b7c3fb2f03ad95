"""Account checks for the network: which AZs the subnets use, and which the control plane may use.

Decided from what already runs, never from today's list alone:
- Subnet CIDRs and AZs cannot change in place (either replaces the subnet, and the new one overlaps the old). A
  running stack's subnets must be the ones its plan makes (stacks deployed before the per-AZ plan have the
  equal-split one; this says which `subnetLayout` keeps theirs), and each keeps the AZ it is in, even when that
  AZ is impaired today: only a new VPC, or a newly added AZ, picks from the currently available list.
- EKS accepts control-plane subnets only in the AZs the cluster was created with (EKS user guide, network
  requirements; aws/containers-roadmap #170, #2258): a running cluster keeps its AZs; new AZs serve nodes and load
  balancers only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

import pulumi_aws as aws

from infra import contract
from infra.config import NetworkConfig, StackConfig
from infra.network_plan import MAX_AZS, SUBNET_LAYOUTS, plan_subnets

# AZs (by ID, the same in every account) where EKS cannot create a cluster's network interfaces (EKS user guide,
# "Create a cluster": CreateCluster fails with UnsupportedAvailabilityZoneException).
EKS_UNSUPPORTED_AZ_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})


def _plan(n: NetworkConfig, layout: str, az_count: int) -> set[str]:
    private, public = plan_subnets(n.cidr, az_count, layout)
    return set(private + public)


def _keeps(n: NetworkConfig, layout: str, existing: set[str]) -> bool:
    """True when this layout at the configured AZ count keeps every existing subnet (per-az: also when AZs are
    only added or removed, since AZ i's blocks never move)."""
    planned = _plan(n, layout, n.az_count)
    if layout == "per-az":
        return existing <= planned or planned <= existing
    return existing == planned


def subnet_problem(n: NetworkConfig, existing: set[str]) -> str | None:
    vpc = ipaddress.IPv4Network(n.cidr)
    if not existing or not all(ipaddress.IPv4Network(c).subnet_of(vpc) for c in existing):
        return None  # a new VPC, or a new network.cidr (which replaces the VPC: `make plan` flags that)
    if _keeps(n, n.subnet_layout, existing):
        return None
    others = [
        layout
        for layout in SUBNET_LAYOUTS
        if layout != n.subnet_layout and any(_plan(n, layout, k) == existing for k in range(2, MAX_AZS + 1))
    ]
    fix = (
        f"set infra:network.subnetLayout: {others[0]} (the layout they were made with)"
        if others
        else "keep the azCount and layout they were made with"
    )
    return (
        f"infra:network.subnetLayout: {n.subnet_layout} (azCount {n.az_count}) — the stack's VPC has subnets"
        f" {', '.join(sorted(existing))}, this plan makes {', '.join(sorted(_plan(n, n.subnet_layout, n.az_count)))};"
        f" subnets cannot move in place (every one would be replaced, overlapping the old): {fix}"
    )


def _index(n: NetworkConfig, cidr: str) -> int | None:
    """Which AZ of the plan (0, 1, ...) a subnet serves, or None when the plan does not make it."""
    count = MAX_AZS if n.subnet_layout == "per-az" else n.az_count
    for cidrs in plan_subnets(n.cidr, count, n.subnet_layout):
        if cidr in cidrs:
            return cidrs.index(cidr)
    return None


def plan_zones(n: NetworkConfig, existing: Mapping[str, str], available: Sequence[str]) -> tuple[list[str], str | None]:
    """(AZ of plan index 0..azCount-1, problem). An index that has a subnet keeps that subnet's AZ; the others take
    the first available AZs no index uses."""
    kept: dict[int, str] = {}
    for cidr, zone in existing.items():
        index = _index(n, cidr)
        if index is not None and index < n.az_count:
            kept[index] = zone
    others = [zone for zone in available if zone not in kept.values()]
    zones = [kept.get(i) or (others.pop(0) if others else "") for i in range(n.az_count)]
    if all(zones):
        return zones, None
    usable = sorted(set(kept.values())) + [zone for zone in available if zone not in kept.values()]
    return [], (
        f"infra:network.azCount: {n.az_count} — allowed: at most {len(usable)} in this region (AZs EKS can place a"
        f" control plane in, available now or already holding the stack's subnets: {', '.join(usable) or 'none'})"
    )


def eks_usable_zones(names: Sequence[str], zone_ids: Sequence[str]) -> list[str]:
    return sorted(name for name, zid in zip(names, zone_ids, strict=True) if zid not in EKS_UNSUPPORTED_AZ_IDS)


def control_plane_zones(zones: Sequence[str], created_in: set[str] | None) -> tuple[list[str], str | None]:
    """The AZs whose subnets the control plane gets: all of them for a new cluster; for a running one only those it
    was created in (EKS refuses others), and at least two of them."""
    if created_in is None:
        return list(zones), None
    kept = [zone for zone in zones if zone in created_in]
    if len(kept) >= 2:
        return kept, None
    return [], (
        f"infra:network.azCount: the running cluster's control plane is in {', '.join(sorted(created_in))}; this"
        f" network keeps subnets only in {', '.join(kept) or 'none'} of them, and EKS needs two (it accepts no"
        " other AZs for a cluster's control plane): keep those AZs' subnets"
    )


def existing_subnets(cfg: StackConfig) -> dict[str, str]:
    """CIDR -> AZ of the stack's subnets, if its VPC exists (found by the tags the program gives it)."""
    vpcs = aws.ec2.get_vpcs(tags={"Name": cfg.tags("vpc")["Name"], contract.STACK_TAG: cfg.stack}).ids or []
    if len(vpcs) != 1:
        return {}
    ids = (
        aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": vpcs}], tags={contract.STACK_TAG: cfg.stack}).ids
        or []
    )
    found = (aws.ec2.get_subnet(id=subnet) for subnet in ids)
    return {str(s.cidr_block): str(s.availability_zone) for s in found}


def zones_of_subnets(subnet_ids: Sequence[str]) -> set[str]:
    """The AZs of a running cluster's control-plane subnets: the AZs it was created in."""
    return {str(aws.ec2.get_subnet(id=subnet).availability_zone) for subnet in subnet_ids}


def database_zone_problem(
    db_zone: str | None, multi_az: bool, zones: Sequence[str], existing: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """(problem, warning) for AZs leaving the network while the database runs: RDS refuses to drop a subnet from a
    DB subnet group while the instance (or its standby) is in it."""
    removed = sorted(set(existing.values()) - set(zones)) if zones else []
    if not removed:
        return None, None
    if db_zone in removed:
        return (
            f"infra:network.azCount: the database runs in {db_zone}, whose subnets this change removes (RDS refuses"
            " to take a subnet out of the DB subnet group while the instance is in it): keep that AZ, or move the"
            " instance first (a Multi-AZ failover, `aws rds reboot-db-instance --force-failover`, puts the primary in"
            " the standby's AZ)"
        ), None
    if multi_az:
        return None, (
            f"infra:network.azCount: removes {', '.join(removed)}; the database's standby may run there, and then RDS"
            " refuses the subnet group change: check with `aws rds describe-db-instances --query"
            " 'DBInstances[].SecondaryAvailabilityZone'` first"
        )
    return None, None
