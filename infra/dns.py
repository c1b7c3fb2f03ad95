"""Dns component: the app's public name `<name>.<zone>` and its TLS certificate.

Built in two steps so the certificate never waits for the cluster: the constructor needs only the zone, so ACM
issues the certificate (DNS validation) while EKS is still being created; `point_at(target)` adds the record once
the Service's ELB has a hostname.

The record is weighted (set identifier = the stack), so two stacks can serve one name during a move (see the
README's "Move an environment to a new cluster"): `dns.weight` 0..255 per stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import DnsConfig
from infra.tagging import Tagger

TTL = 60


@dataclass(frozen=True)
class DnsArgs:
    settings: DnsConfig  # zone, name, weight, tls, createZone
    stack: str  # the default name under the zone, and the weighted record's set identifier
    cluster_name: str  # said in a created zone's comment
    tags: Tagger


class Dns(pulumi.ComponentResource):
    fqdn: str
    zone_id: pulumi.Input[str]
    name_servers: pulumi.Output[Sequence[str]] | None
    certificate_arn: pulumi.Output[str] | None  # issued (validated); None when dns.tls is false

    def __init__(
        self,
        name: str,
        args: DnsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("infra:index:Dns", name, None, opts)
        self._name, self._args = name, args
        dns = args.settings
        child = pulumi.ResourceOptions(parent=self)
        self.fqdn = f"{dns.name or args.stack}.{dns.zone_name}"
        if dns.create_zone:
            zone = aws.route53.Zone(
                f"{name}-zone",
                name=dns.zone_name,
                comment=f"created by {args.cluster_name}; delegate it from the parent zone",
                tags=args.tags("zone"),
                opts=child,
            )
            self.zone_id = zone.zone_id
            self.name_servers = zone.name_servers
        else:
            # Checked at deploy time before anything is registered (infra/account/dns.py): the zone exists.
            self.zone_id = aws.route53.get_zone_output(name=dns.zone_name, private_zone=False).zone_id
            self.name_servers = None
        self.certificate_arn = self._certificate() if dns.tls else None

    def _certificate(self) -> pulumi.Output[str]:
        name, child = self._name, pulumi.ResourceOptions(parent=self)
        cert = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=self.fqdn,
            validation_method="DNS",
            tags=self._args.tags("cert"),
            opts=child,  # a new name is a new certificate: created (and issued) before the old one goes
        )
        # One name, so one validation record. ACM renews a DNS-validated certificate on its own while it stays.
        option = cert.domain_validation_options.apply(lambda options: options[0])
        record = aws.route53.Record(
            f"{name}-cert-validation",
            zone_id=self.zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=TTL,
            # ACM uses one validation record per name and account, so two stacks serving one name during a move
            # share it: each may (re)write it. It goes with the stack; after a move the survivor puts it back
            # (README, "Move an environment").
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-cert",
            certificate_arn=cert.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        return validation.certificate_arn  # known only once issued: the ELB listener waits for that

    def point_at(self, target: pulumi.Input[str]) -> aws.route53.Record:
        """The weighted CNAME to the app's ELB."""
        record = aws.route53.Record(
            f"{self._name}-app",
            zone_id=self.zone_id,
            name=self.fqdn,
            type="CNAME",
            ttl=TTL,
            records=[target],
            set_identifier=self._args.stack,
            weighted_routing_policies=[{"weight": self._args.settings.weight}],
            # Turning an existing simple record into this weighted one is an update: the provider sends the DELETE
            # and the CREATE in one atomic Route 53 change batch, so the name never stops resolving.
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"fqdn": self.fqdn})
        return record
