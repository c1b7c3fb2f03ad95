"""Dns component: `<name>.<zone>` CNAME → the app's ELB, in an existing zone or in one the stack creates."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra.config import DnsConfig, StackConfig

TTL = 60


class Dns(pulumi.ComponentResource):
    fqdn: str
    name_servers: pulumi.Output[Sequence[str]] | None

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        dns: DnsConfig,
        target: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("infra:index:Dns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.fqdn = f"{dns.name or cfg.stack}.{dns.zone_name}"
        if dns.create_zone:
            zone = aws.route53.Zone(
                f"{name}-zone",
                name=dns.zone_name,
                comment=f"created by {cfg.cluster_name}; delegate it from the parent zone",
                tags=cfg.tags("zone"),
                opts=child,
            )
            zone_id: pulumi.Input[str] = zone.zone_id
            self.name_servers = zone.name_servers
        else:
            zone_id = aws.route53.get_zone_output(name=dns.zone_name, private_zone=False).zone_id
            self.name_servers = None
        aws.route53.Record(
            f"{name}-app",
            zone_id=zone_id,
            name=self.fqdn,
            type="CNAME",
            ttl=TTL,
            records=[target],
            opts=child,
        )
        self.register_outputs({"fqdn": self.fqdn})
