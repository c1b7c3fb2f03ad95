"""What the production settings would add to an estimate, priced from the same table (for docs/cost.md)."""

from __future__ import annotations

from decimal import Decimal

from infra.cost.estimate import Estimate
from infra.cost.money import usd
from infra.cost.prices import PriceTable


def _monthly(table: PriceTable, key: str, quantity: int = 1) -> Decimal | None:
    price = table.prices.get(key)
    if price is None:
        return None
    per = table.hours_per_month if price.per == "hour" else Decimal(1)
    return price.usd * per * quantity


def setting_notes(estimate: Estimate, table: PriceTable) -> list[str]:
    lines = {line.key.split(":")[0]: line for line in estimate.lines}
    notes = []
    nat, ip = _monthly(table, "vpc.natGateway"), _monthly(table, "vpc.publicIPv4")
    nat_line = lines.get("nat")
    if nat_line is not None and nat_line.drivers.get("natGateways") == "single" and nat and ip:
        azs = int(nat_line.drivers["azCount"])
        notes.append(
            f"`natGateways: one-per-az` adds {usd(nat + ip)}/month per AZ beyond the first ({usd(nat)} for the NAT"
            f" gateway, {usd(ip)} for its Elastic IP): {usd((nat + ip) * (azs - 1))} with azCount {azs}."
        )
    if ip:
        notes.append(f"Each AZ added to `azCount` adds {usd(ip)}/month: the ELB takes a public address in every AZ.")
    classic, nlb, nlcu = lines.get("elb"), _monthly(table, "elb.network"), table.prices.get("elb.network.nlcu")
    if classic is not None and classic.item.startswith("Classic ELB") and classic.monthly is not None and nlb:
        notes.append(
            f"An NLB instead of the Classic ELB costs {usd(nlb)}/month instead of {usd(classic.monthly)}"
            + (f", plus {nlcu.rate()} for each NLCU used" if nlcu else "")
            + ": the in-tree cloud provider makes one for the annotation"
            " `service.beta.kubernetes.io/aws-load-balancer-type: nlb`; type `external` or"
            " `spec.loadBalancerClass: service.k8s.aws/nlb` need the AWS Load Balancer Controller, which this program"
            " does not install."
        )
    rds, storage = lines.get("rds"), lines.get("rds-storage")
    single_az = rds is not None and rds.drivers.get("database.multiAz") == "false"
    if single_az and rds and storage and rds.monthly is not None and storage.monthly is not None:
        notes.append(
            f"`database.multiAz: true` doubles the RDS instance and its storage (the standby is billed too):"
            f" +{usd(rds.monthly + storage.monthly)}/month."
        )
    standard, extended = _monthly(table, "eks.cluster.standard"), _monthly(table, "eks.cluster.extended")
    if standard and extended:
        notes.append(
            f"A cluster in EKS extended support costs {usd(extended - standard)} more a month for the same control"
            " plane, which is why `cluster.supportType` defaults to STANDARD (EKS then upgrades instead of billing)."
        )
    return notes
