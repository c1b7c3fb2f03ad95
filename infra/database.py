"""Database component: RDS PostgreSQL, private and encrypted, with an RDS-managed password, safe to tear down.

Nothing is lost by default: deletion protection, a final snapshot with a unique name, and Pulumi `protect`.
`ephemeral: true` lifts protection and deletion protection (the final snapshot stays unless `skipFinalSnapshot`).

Changes that REPLACE the instance (new, empty database) and so need a reviewed migration: identifier (the stack
name), engine, dbName, username, storage encryption, the subnet group's VPC. Pulumi refuses them while the
instance is protected; `make plan` shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra import contract
from infra.config import DatabaseConfig
from infra.tagging import Tagger

PORT = 5432
# __main__.py names the component with it (it moved to infra/contract.py: account checks and ops derive from it).
# database.supportType -> the instance's EngineLifecycleSupport (botocore rds CreateDBInstance; unset, RDS enrols the
# instance in paid Extended Support when its major leaves standard support).
ENGINE_LIFECYCLE_SUPPORT = {
    "STANDARD": contract.RDS_EXTENDED_SUPPORT_OFF,
    "EXTENDED": contract.RDS_EXTENDED_SUPPORT,
}
# RDS Performance Insights is not offered on the smallest burstable classes (RDS user guide, "Supported DB engines,
# Regions and instance classes for Performance Insights"); elsewhere its 7-day retention is free.
NO_PERFORMANCE_INSIGHTS = re.compile(r"^db\.t\d+[a-z]*\.(micro|small)$")


@dataclass(frozen=True)
class DatabaseArgs:
    cluster_name: str  # the stack's resource prefix: the instance's identifier and descriptions derive from it
    settings: DatabaseConfig  # engine, size, backups, protection, restoreFrom
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Output[str]]  # private subnets, one per AZ
    restore_snapshot: str | None  # the snapshot a NEW instance starts from (restoreFrom snapshot/stack)
    major_upgrade: bool  # the running instance is on an older PostgreSQL major than the config asks
    tags: Tagger


class Database(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    secret_arn: pulumi.Output[str]
    arn: pulumi.Output[str]
    resource_id: pulumi.Output[str]  # DbiResourceId: IAM database authentication's policies name it
    identifier: str
    final_snapshot_identifier: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: DatabaseArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(contract.DATABASE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        d, tags = args.settings, args.tags
        self.identifier = contract.db_identifier(args.cluster_name)
        major = d.engine_version.split(".")[0]

        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=args.subnet_ids,
            tags=tags("db-subnets"),
            opts=child,
        )
        # No rules inline: the one ingress rule (from the cluster) is its own resource, so only it waits for EKS.
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"PostgreSQL for {args.cluster_name}: only from the cluster's nodes",
            tags=tags("db"),
            opts=child,
        )
        params = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{major}",
            description=f"{args.cluster_name}: TLS required",
            parameters=[{"name": "rds.force_ssl", "value": "1"}],
            tags=tags("db-params"),
            opts=child,
        )
        suffix = random.RandomId(f"{name}-final-snapshot", byte_length=4, opts=child)
        self.final_snapshot_identifier = pulumi.Output.concat(
            contract.final_snapshot_prefix(self.identifier), suffix.hex
        )
        # RDS would create these itself, without retention, and never delete them: the stack owns them instead.
        log_groups = [
            aws.cloudwatch.LogGroup(
                contract.log_group_resource(name, log),
                name=contract.rds_log_group(self.identifier, log),
                retention_in_days=d.log_retention_days,
                tags=tags(f"db-logs-{log}"),
                opts=child,
            )
            for log in contract.RDS_LOGS
        ]
        insights = not NO_PERFORMANCE_INSIGHTS.match(d.instance_class)
        instance = aws.rds.Instance(
            f"{name}-postgres",
            **restore_inputs(d, args.restore_snapshot),
            identifier=self.identifier,
            engine="postgres",
            engine_version=d.engine_version,
            instance_class=d.instance_class,
            allocated_storage=d.storage_gb,
            max_allocated_storage=d.max_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            multi_az=d.multi_az,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=params.name,
            publicly_accessible=False,
            db_name=d.db_name,
            username=d.username,
            manage_master_user_password=True,  # RDS keeps it in Secrets Manager: never in code, config or state
            iam_database_authentication_enabled=True,
            backup_retention_period=d.backup_retention_days,
            # A durable instance's automated backups outlive it (restorable after a mistaken delete).
            delete_automated_backups=d.ephemeral,
            performance_insights_enabled=insights,
            performance_insights_retention_period=7 if insights else None,
            # A pinned minor ("16.4") holds: RDS moving it to 16.5 would make every later `up` a downgrade.
            auto_minor_version_upgrade=not d.pins_minor,
            engine_lifecycle_support=ENGINE_LIFECYCLE_SUPPORT[d.support_type],
            # A major bump in config upgrades this instance in place (same identifier, same data); the parameter
            # group of the new family is created first (create-before-delete) and the old one deleted after.
            allow_major_version_upgrade=True,
            apply_immediately=d.apply_immediately or args.major_upgrade,
            copy_tags_to_snapshot=True,
            enabled_cloudwatch_logs_exports=list(contract.RDS_LOGS),
            deletion_protection=not d.ephemeral,
            skip_final_snapshot=d.skip_final_snapshot,
            final_snapshot_identifier=self.final_snapshot_identifier,
            tags=tags("db", {contract.EPHEMERAL_TAG: str(d.ephemeral).lower()}),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=not d.ephemeral,
                depends_on=log_groups,
                # Where the data came from matters only at creation: changing or removing restoreFrom later must
                # never replace the database (terraform-aws-rds #270). Extended Support enrolment is NOT ignored:
                # ModifyDBInstance takes EngineLifecycleSupport (botocore rds model: "enroll ... or to opt out"),
                # so an instance created enrolled (RDS's default) is opted out in place by the next `up`.
                ignore_changes=["snapshotIdentifier", "restoreToPointInTime"],
            ),
        )
        self.host = instance.address
        self.port = instance.port
        self.secret_arn = instance.master_user_secrets.apply(lambda s: (s[0].secret_arn or "") if s else "")
        self.arn, self.resource_id = instance.arn, instance.resource_id
        self.register_outputs({"host": self.host, "port": self.port, "secretArn": self.secret_arn})

    def allow_from(self, name: str, source_security_group_id: pulumi.Input[str]) -> aws.vpc.SecurityGroupIngressRule:
        """Admit PostgreSQL from one security group (the EKS cluster SG, which managed nodes carry)."""
        return aws.vpc.SecurityGroupIngressRule(
            name,
            security_group_id=self.security_group.id,
            referenced_security_group_id=source_security_group_id,
            ip_protocol="tcp",
            from_port=PORT,
            to_port=PORT,
            description="PostgreSQL from the EKS cluster security group",
            opts=pulumi.ResourceOptions(parent=self),
        )


def restore_inputs(d: DatabaseConfig, restore_snapshot: str | None) -> dict[str, Any]:
    """The instance's starting data: empty, a snapshot (by id or the newest of a stack), or a point in time."""
    if restore_snapshot:
        return {"snapshot_identifier": restore_snapshot}
    pit = d.restore_from.point_in_time if d.restore_from else None
    if pit is None:
        return {}
    when = {"use_latest_restorable_time": True} if pit.time == "latest" else {"restore_time": pit.time}
    return {"restore_to_point_in_time": {"source_db_instance_identifier": pit.source, **when}}
