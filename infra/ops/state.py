"""Facts destroy needs from the stack's checkpoint (`pulumi stack export`), which outlive a half-done `pulumi up`.

Outputs are written only when `pulumi up` finishes; the checkpoint lists every resource created so far.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VPC_TYPE = "aws:ec2/vpc:Vpc"
DB_TYPE = "aws:rds/instance:Instance"
AWS_PROVIDER_TYPE = "pulumi:providers:aws"


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
class StateFacts:
    vpc_id: str | None
    region: str | None
    db_identifier: str | None
    snapshot: str | None  # the final snapshot's name; "" when skipFinalSnapshot; None: no database in the state
    protected: tuple[str, ...]  # labels of resources `pulumi destroy` refuses to delete


def resources(deployment: Mapping[str, Any]) -> list[Resource]:
    return [
        Resource(
            urn=str(r.get("urn", "")),
            type=str(r.get("type", "")),
            id=str(r.get("id") or ""),
            protect=bool(r.get("protect")),
            inputs=r.get("inputs") or {},
            outputs=r.get("outputs") or {},
        )
        for r in deployment.get("resources") or []
    ]


def _plain(value: Any) -> Any:
    # `stack export --show-secrets` keeps a secret's envelope and puts its value under "plaintext" (JSON text).
    if isinstance(value, Mapping) and "plaintext" in value:
        return json.loads(value["plaintext"])
    return value


def _first(found: Sequence[Resource], type_: str) -> Resource | None:
    return next((r for r in found if r.type == type_), None)


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
        protected=tuple(r.label for r in found if r.protect),
    )
