"""A resource graph as the cost code reads it: (type token, name, inputs) for every resource, whatever it came from.

Three shapes are accepted, so one function prices a planned graph, the reviewed snapshot and a deployed stack:
the reviewed snapshot (tests/snapshots/<stack>.json: {"resources": [{"type", "name", "inputs", …}]}), a
`pulumi stack export` ({"deployment": {"resources": [{"type", "urn", "id", "inputs", …}]}}), or objects with
`.type`, `.name` and `.inputs` (the offline runner's registrations).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SUBNET = "aws:ec2/subnet:Subnet"


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    inputs: Mapping[str, Any]
    id: str = ""  # a deployed resource's cloud id (stack export); empty in a plan
    outputs: Mapping[str, Any] = field(default_factory=dict)


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def resources_of(graph: Any) -> list[Resource]:
    """The resources of a snapshot, a stack export or a list of registrations."""
    if isinstance(graph, Mapping) and "deployment" in graph:
        rows = graph["deployment"].get("resources") or []
        return [
            Resource(
                str(r["type"]),
                _name_of(str(r.get("urn", ""))),
                r.get("inputs") or {},
                str(r.get("id") or ""),
                r.get("outputs") or {},
            )
            for r in rows
        ]
    if isinstance(graph, Mapping):
        return [Resource(str(r["type"]), str(r["name"]), r.get("inputs") or {}) for r in graph["resources"]]
    return [Resource(str(r.type), str(r.name), r.inputs) for r in graph]


def of_type(resources: Iterable[Resource], type_token: str) -> list[Resource]:
    return [r for r in resources if r.type == type_token]


def region_of(resources: Iterable[Resource]) -> str | None:
    """The region the subnets are in (`us-west-2a` → `us-west-2`); None when the graph has no subnet."""
    for subnet in of_type(resources, SUBNET):
        zone = subnet.inputs.get("availabilityZone")
        if isinstance(zone, str) and zone[-1:].isalpha():
            return zone[:-1]
    return None


def get(value: Any, *path: str) -> Any:
    """value[p0][p1]…, None where a key is absent or the shape is not a mapping."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
