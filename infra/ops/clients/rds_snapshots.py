"""RDS DB snapshots as the verbs see them: one by its identifier, or an instance's available manual ones.

`snapshot` takes and lists them; `destroy` checks the final one.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from infra.ops.clients.aws import error_code


@dataclass(frozen=True)
class Snapshot:
    identifier: str
    created: datetime | None
    status: str
    progress: int | None = None  # PercentProgress: data transferred so far
    instance: str | None = None  # DBInstanceIdentifier: the instance it was taken of

    def describe(self) -> str:
        return self.status if self.progress is None or self.status == "available" else f"{self.status} {self.progress}%"


def from_api(found: Mapping[str, Any]) -> Snapshot:
    progress = found.get("PercentProgress")
    return Snapshot(
        identifier=str(found["DBSnapshotIdentifier"]),
        created=found.get("SnapshotCreateTime"),
        status=str(found.get("Status", "")),
        progress=int(progress) if progress is not None else None,
        instance=found.get("DBInstanceIdentifier"),
    )


def describe(rds: Any, identifier: str) -> Snapshot | None:
    try:
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"]
    except ClientError as err:
        if error_code(err) == "DBSnapshotNotFound":
            return None
        raise
    return from_api(found[0]) if found else None


def available_snapshots(rds: Any, instance: str) -> list[Snapshot]:
    """The instance's available manual snapshots, its final snapshot included (RDS lists that one as manual),
    newest first; they outlive the instance, so this works after `destroy` too."""
    found: list[Snapshot] = []
    pages = rds.get_paginator("describe_db_snapshots").paginate(DBInstanceIdentifier=instance, SnapshotType="manual")
    for page in pages:
        found.extend(from_api(s) for s in page["DBSnapshots"] if s.get("Status") == "available")
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda s: s.created or oldest, reverse=True)
