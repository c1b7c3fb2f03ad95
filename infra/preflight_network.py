"""Deploy-time network check: the subnets a running stack has must be the ones its subnet plan makes.

Subnet CIDRs cannot change in place: a different plan replaces every subnet, the new ones overlap the old and
creation fails (and the node group and the database's subnet group would have to move). Stacks deployed before
the per-AZ plan have the equal-split one; this says which `subnetLayout` keeps theirs.
"""

from __future__ import annotations

import ipaddress

import pulumi_aws as aws

from infra.config import MAX_AZS, SUBNET_LAYOUTS, NetworkConfig, StackConfig, plan_subnets


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


def existing_subnets(cfg: StackConfig) -> set[str]:
    """The CIDRs of the stack's subnets, if its VPC exists (found by the tags the program gives it)."""
    vpcs = aws.ec2.get_vpcs(tags={"Name": f"{cfg.cluster_name}-vpc", "stack": cfg.stack}).ids or []
    if len(vpcs) != 1:
        return set()
    ids = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": vpcs}], tags={"stack": cfg.stack}).ids or []
    return {str(aws.ec2.get_subnet(id=subnet).cidr_block) for subnet in ids}
