"""The AWS Price List API query behind each price key: `pricing.get_products(ServiceCode, Filters)`.

Attribute names and values follow the Price List's product attributes (the same ones Infracost filters on):
EC2 instances by instanceType/operatingSystem/tenancy/preInstalledSw/capacitystatus/licenseModel, usage types by
substring (`CONTAINS`) because their region prefix differs (`USW2-NatGateway-Hours`, `NatGateway-Hours` in
us-east-1). A key this module cannot map is refused, never approximated.
"""

from __future__ import annotations

from dataclasses import dataclass

Filter = tuple[str, str, str]  # (Type, Field, Value)


@dataclass(frozen=True)
class Query:
    service_code: str
    filters: tuple[Filter, ...]

    def api_filters(self) -> list[dict[str, str]]:
        return [{"Type": t, "Field": f, "Value": v} for t, f, v in self.filters]

    def describe(self) -> str:
        terms = ", ".join(f"{f}{'~' if t == 'CONTAINS' else '='}{v}" for t, f, v in self.filters)
        return f"AWS Price List API GetProducts {self.service_code} [{terms}], OnDemand USD"


def _term(field: str, value: str) -> Filter:
    return ("TERM_MATCH", field, value)


def _usage(value: str) -> Filter:
    return ("CONTAINS", "usagetype", value)


def query_for(key: str, region: str) -> Query | None:
    """The query whose one OnDemand price is `key`'s in `region`; None for a key with no known query."""
    here = _term("regionCode", region)
    family, _, rest = key.partition(".")
    if family == "ec2" and rest:
        return Query(
            "AmazonEC2",
            (
                here,
                _term("instanceType", rest),
                _term("operatingSystem", "Linux"),
                _term("tenancy", "Shared"),
                _term("preInstalledSw", "NA"),
                _term("capacitystatus", "Used"),
                _term("licenseModel", "No License required"),
            ),
        )
    if key.startswith("rds.postgres."):
        cls = key.removeprefix("rds.postgres.")
        return Query(
            "AmazonRDS",
            (
                here,
                _term("productFamily", "Database Instance"),
                _term("instanceType", cls),
                _term("databaseEngine", "PostgreSQL"),
                _term("deploymentOption", "Single-AZ"),
            ),
        )
    fixed: dict[str, Query] = {
        "ebs.gp3": Query("AmazonEC2", (here, _term("productFamily", "Storage"), _term("volumeApiName", "gp3"))),
        "ebs.gp2": Query("AmazonEC2", (here, _term("productFamily", "Storage"), _term("volumeApiName", "gp2"))),
        "vpc.natGateway": Query("AmazonEC2", (here, _term("productFamily", "NAT Gateway"), _usage("NatGateway-Hours"))),
        "vpc.natGateway.data": Query(
            "AmazonEC2", (here, _term("productFamily", "NAT Gateway"), _usage("NatGateway-Bytes"))
        ),
        "vpc.publicIPv4": Query("AmazonVPC", (here, _usage("PublicIPv4:InUseAddress"))),
        "elb.classic": Query("AWSELB", (here, _term("productFamily", "Load Balancer"), _usage("LoadBalancerUsage"))),
        "elb.classic.data": Query(
            "AWSELB", (here, _term("productFamily", "Load Balancer"), _usage("DataProcessing-Bytes"))
        ),
        # An NLB's hours and NLCU-hours (ELB's "Load Balancer-Network" family; per NLCU-hour, priced per hour).
        "elb.network": Query(
            "AWSELB", (here, _term("productFamily", "Load Balancer-Network"), _usage("LoadBalancerUsage"))
        ),
        "elb.network.nlcu": Query(
            "AWSELB", (here, _term("productFamily", "Load Balancer-Network"), _usage("LCUUsage"))
        ),
        "eks.cluster.standard": Query("AmazonEKS", (here, _usage("AmazonEKS-Hours:perCluster"))),
        "eks.cluster.extended": Query("AmazonEKS", (here, _usage("AmazonEKS-Hours:extendedSupport"))),
        "rds.storage.gp3": Query(
            "AmazonRDS",
            (
                here,
                _term("productFamily", "Database Storage"),
                _term("volumeType", "General Purpose-GP3"),
                _term("deploymentOption", "Single-AZ"),
                _usage("RDS:GP3-Storage"),
            ),
        ),
        "rds.extendedSupport.year1-2": Query("AmazonRDS", (here, _usage("ExtendedSupport:Yr1-Yr2:PostgreSQL"))),
        "rds.extendedSupport.year3": Query("AmazonRDS", (here, _usage("ExtendedSupport:Yr3:PostgreSQL"))),
        "kms.key": Query("awskms", (here, _usage("KMS-Keys"))),
        "secretsmanager.secret": Query("AWSSecretsManager", (here, _term("productFamily", "Secret"))),
        # Route53 is global: no region filter; the first tier (the first 25 zones) is the price.
        "route53.hostedZone": Query(
            "AmazonRoute53", (_term("productFamily", "DNS Zone"), _term("usagetype", "HostedZone"))
        ),
    }
    return fixed.get(key)


def per_of(unit: str) -> str:
    """The table's `per` for a price dimension's unit: `Hrs` → hour, `vCPU-Hours` → vCPU-hour, `GB-Mo` →
    GB-month, `GB` → GB; a count unit (`Keys`, `Secrets`, `HostedZone`) is billed per month."""
    u = unit.lower()
    hourly = "hr" in u or "hour" in u
    if hourly:
        return "vCPU-hour" if "vcpu" in u else "hour"
    if u.startswith("gb-mo"):
        return "GB-month"
    return "GB" if u == "gb" else "month"
