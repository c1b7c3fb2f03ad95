"""destroy's target (the stack's region, cluster, VPC, database, final snapshot) and the AWS clients it acts
with."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra import contract
from infra.ops.clients import outputs
from infra.ops.clients.state import StateFacts, ValidationRecord
from infra.ops.destroy import sweep
from infra.ops.errors import OpsError

NO_STATE = StateFacts(vpc_id=None, region=None, db_identifier=None, snapshot=None, protected=())


@dataclass(frozen=True)
class Target:
    """What destroy needs, read from the state and outputs BEFORE destroying (they vanish after)."""

    stack: str
    region: str
    cluster: str
    vpc_id: str | None
    snapshot: str | None  # "" means skipFinalSnapshot; None: not known (no database in state or outputs)
    ephemeral: bool
    db_identifier: str
    validation_records: tuple[ValidationRecord, ...] = ()

    @classmethod
    def locate(
        cls,
        stack: str,
        project: str,
        out: Mapping[str, Any],
        facts: StateFacts = NO_STATE,
        default_region: str | None = None,
    ) -> "Target":
        # A stack whose `pulumi up` failed early has no outputs, but its state lists what was created;
        # an already destroyed one has neither, and still gets the cluster-named checks.
        region = out.get("region") or facts.region or default_region
        if not region:
            raise OpsError("the stack's region is unknown (no outputs, no state): set AWS_REGION to it")
        cluster = contract.cluster_name(project, stack)  # the program's own rule, for any form of the name
        snapshot = facts.snapshot
        if snapshot is None and out.get("dbFinalSnapshotIdentifier") is not None:
            snapshot = str(out["dbFinalSnapshotIdentifier"])
        return cls(
            stack=stack,
            region=str(region),
            cluster=cluster,
            vpc_id=facts.vpc_id or out.get("vpcId") or None,
            snapshot=snapshot,
            ephemeral=outputs.flag(out, "dbEphemeral"),
            db_identifier=str(facts.db_identifier or out.get("dbIdentifier") or cluster),  # the DB is named so too
            validation_records=facts.validation_records,
        )


@dataclass(frozen=True)
class AwsClients:
    sweep: sweep.Clients
    eks: Any
    rds: Any
    logs: Any
    acm: Any
    logs_last_try: Any  # logs with aws.ONE_SHORT_TRY: after an interrupt it must not hold the exit for long
