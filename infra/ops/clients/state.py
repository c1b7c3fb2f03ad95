"""Facts destroy needs from the stack's checkpoint (`pulumi stack export`), which outlive a half-done `pulumi up`.

Outputs are written only when `pulumi up` finishes; the checkpoint lists every resource created so far.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VPC_TYPE = "aws:ec2/vpc:Vpc"
DB_TYPE = "aws:rds/instance:Instance"
CLUSTER_TYPE = "aws:eks/cluster:Cluster"
AWS_PROVIDER_TYPE = "pulumi:providers:aws"
CERTIFICATE_TYPE = "aws:acm/certificate:Certificate"
RECORD_TYPE = "aws:route53/record:Record"


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    id: str
    protect: bool
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]

    @property
    def label(self) -> str:
        """`type name`, e.g. `aws:rds/instance:Instance database-postgres` (the URN's last two parts)."""
        return f"{self.type} {self.urn.rsplit('::', 1)[-1]}"


@dataclass(frozen=True)
class PendingOperation:
    """An operation a pulumi run started and never recorded the end of (it was killed, or lost its backend)."""

    kind: str  # creating | updating | deleting | reading | importing (apitype.OperationType)
    resource: Resource


@dataclass(frozen=True)
class ValidationRecord:
    """The Route 53 record that proves a certificate's domain to ACM (one per name and account)."""

    name: str  # e.g. _3a4b.foo.cloud.weave.works (lower case, no trailing dot)
    domain: str
    certificate_arn: str


@dataclass(frozen=True)
class StateFacts:
    vpc_id: str | None
    region: str | None
    db_identifier: str | None
    snapshot: str | None  # the final snapshot's name; "" when skipFinalSnapshot; None: no database in the state
    protected: tuple[str, ...]  # labels of resources `pulumi destroy` refuses to delete
    pending: tuple[PendingOperation, ...] = ()
    validation_records: tuple[ValidationRecord, ...] = ()


def _resource(r: Mapping[str, Any]) -> Resource:
    return Resource(
        urn=str(r.get("urn", "")),
        type=str(r.get("type", "")),
        id=str(r.get("id") or ""),
        protect=bool(r.get("protect")),
        inputs=r.get("inputs") or {},
        outputs=r.get("outputs") or {},
    )


def resources(deployment: Mapping[str, Any]) -> list[Resource]:
    return [_resource(r) for r in deployment.get("resources") or []]


def pending_operations(deployment: Mapping[str, Any]) -> tuple[PendingOperation, ...]:
    """The checkpoint's `pending_operations` (apitype.DeploymentV3): [{"resource": {...}, "type": "creating"}]."""
    return tuple(
        PendingOperation(kind=str(op.get("type", "")), resource=_resource(op.get("resource") or {}))
        for op in deployment.get("pending_operations") or []
    )


def _plain(value: Any) -> Any:
    # `stack export --show-secrets` keeps a secret's envelope and puts its value under "plaintext" (JSON text).
    if isinstance(value, Mapping) and "plaintext" in value:
        return json.loads(value["plaintext"])
    return value


def _first(found: Sequence[Resource], type_: str) -> Resource | None:
    return next((r for r in found if r.type == type_), None)


def _dns_name(name: Any) -> str:
    return str(_plain(name) or "").rstrip(".").lower()


def validation_records(found: Sequence[Resource]) -> tuple[ValidationRecord, ...]:
    """Route 53 records in the state that carry a certificate's DNS validation (`domainValidationOptions`)."""
    records = {_dns_name(r.outputs.get("name")): r for r in found if r.type == RECORD_TYPE}
    shared = []
    for cert in (r for r in found if r.type == CERTIFICATE_TYPE):
        for option in _plain(cert.outputs.get("domainValidationOptions")) or []:
            name = _dns_name(option.get("resourceRecordName"))
            if name and name in records:
                arn = str(_plain(cert.outputs.get("arn")) or cert.id)
                shared.append(ValidationRecord(name, str(option.get("domainName", "")), arn))
    return tuple(shared)


def _deletion_protected(r: Resource) -> bool:
    """AWS's own deletion protection (the EKS cluster and RDS instance of a durable stack): DeleteCluster and
    DeleteDBInstance refuse, after pulumi destroy has deleted everything that does not depend on them."""
    return r.type in (CLUSTER_TYPE, DB_TYPE) and _plain(r.outputs.get("deletionProtection")) is True


def _protection(r: Resource) -> str:
    kinds = [kind for kind, on in (("protect", r.protect), ("deletion protection", _deletion_protected(r))) if on]
    return f"{r.label} ({', '.join(kinds)})"


def facts(deployment: Mapping[str, Any]) -> StateFacts:
    found = resources(deployment)
    vpc = _first(found, VPC_TYPE)
    db = _first(found, DB_TYPE)
    provider = _first(found, AWS_PROVIDER_TYPE)
    snapshot = None
    if db:
        skip = bool(_plain(db.outputs.get("skipFinalSnapshot")))
        snapshot = "" if skip else str(_plain(db.outputs.get("finalSnapshotIdentifier")) or "")
    region = _plain(provider.outputs.get("region") or provider.inputs.get("region")) if provider else None
    return StateFacts(
        vpc_id=vpc.id or None if vpc else None,
        region=str(region) if region else None,
        db_identifier=str(_plain(db.outputs.get("identifier")) or db.id) if db else None,
        snapshot=snapshot,
        protected=tuple(_protection(r) for r in found if r.protect or _deletion_protected(r)),
        pending=pending_operations(deployment),
        validation_records=validation_records(found),
    )
