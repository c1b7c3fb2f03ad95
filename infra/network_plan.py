"""Which CIDR each AZ's subnets get: a pure function of the VPC CIDR, the AZ count and the layout.

The network component creates the subnets from this plan, the account checks compare it with the running VPC, and
the config rules size the VPC with its constants.
"""

from __future__ import annotations

import ipaddress
import math

SUBNET_LAYOUTS = ("per-az", "equal-split")
MAX_AZS = 6
# Fixed subnet blocks by AZ index, so adding or removing an AZ never moves another AZ's subnets: the VPC is cut
# in 8 blocks; AZ i's private subnet is block i (6 of 8), and the 7th block is cut in 8 again for the public
# subnets (ELBs and NAT only). The 8th block is spare.
PRIVATE_PREFIX_DIFF = 3
PUBLIC_PREFIX_DIFF = 6
MIN_PRIVATE_PREFIX = 24  # every private subnet keeps at least 256 addresses: the VPC CNI gives each pod one.
MAX_VPC_PREFIX = MIN_PRIVATE_PREFIX - PRIVATE_PREFIX_DIFF  # /21: private /24s and public /27s (an ELB's minimum)


def equal_split_bits(az_count: int) -> int:
    """How many bits "equal-split" adds to the VPC prefix: 2 × az_count equal blocks, rounded up to a power of 2."""
    return math.ceil(math.log2(2 * az_count))


def plan_subnets(cidr: str, az_count: int, layout: str = "per-az") -> tuple[list[str], list[str]]:
    """(private, public) CIDRs for AZs 0..az_count-1. "per-az": AZ i gets the same two blocks whatever the count,
    so a 2 → 3 → 2 AZ change adds or removes only AZ 2's subnets. "equal-split": 2 × az_count equal blocks,
    private first (every CIDR moves when the count changes)."""
    vpc = ipaddress.IPv4Network(cidr)
    if layout == "equal-split":
        split = [str(b) for b in vpc.subnets(prefixlen_diff=equal_split_bits(az_count))][: 2 * az_count]
        return split[:az_count], split[az_count:]
    blocks = list(vpc.subnets(prefixlen_diff=PRIVATE_PREFIX_DIFF))
    public = list(blocks[MAX_AZS].subnets(prefixlen_diff=PUBLIC_PREFIX_DIFF - PRIVATE_PREFIX_DIFF))
    return [str(b) for b in blocks[:az_count]], [str(b) for b in public[:az_count]]
