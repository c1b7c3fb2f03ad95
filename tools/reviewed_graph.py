"""The reviewed snapshot: a stack's whole resource graph under mocks, as stable, diffable JSON.

`graph(stack)` runs the real `__main__.py` with Pulumi.<stack>.yaml under the offline mocks (tools/offline) and
`snapshot_of` turns the run into plain data: resources sorted by URN, secrets redacted as "[secret]", provider
references without their (mock) ids, integral numbers as ints. URNs are rewritten from the mock monitor's format
to the engine's (what `pulumi stack export` shows), and each resource lists the old URNs its aliases make the
engine match.
Two runs in two processes give byte-identical `dumps()`.

tests/test_snapshot.py compares it with the committed tests/snapshots/<stack>.json; tests/test_stateful_urns.py
uses `replaced_stateful` to refuse a change that would replace a stateful resource (a new URN = delete + create).
Regenerate after reviewing a change: `make reviewed-graph STACK=<stack>`.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc

from tools.offline.runner import Run, run_program, stack_config

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "tests" / "snapshots"

SECRET = "[secret]"
UNKNOWN = "[unknown]"

# Replacing one of these loses data or takes the environment down (a new VPC/subnet/cluster/database/zone/key is
# a different one): their URNs must never change silently.
STATEFUL_TYPES = (
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:rds/instance:Instance",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:route53/zone:Zone",
    "aws:kms/key:Key",
)


# Inputs of those that AWS cannot change in place: a new value makes the engine replace the resource. (ForceNew in
# the Terraform AWS provider that pulumi-aws bridges. An RDS `identifier` is not one: since its v5 it renames in
# place.) Only inputs the program sets are listed.
REPLACED_ON_CHANGE: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("availabilityZone", "cidrBlock", "vpcId"),
    "aws:eks/cluster:Cluster": ("name", "roleArn"),
    "aws:eks/nodeGroup:NodeGroup": (
        "amiType",
        "capacityType",
        "clusterName",
        "instanceTypes",
        "nodeRoleArn",
        "subnetIds",
    ),
    "aws:rds/instance:Instance": ("dbName", "storageEncrypted", "username"),
    "aws:rds/subnetGroup:SubnetGroup": ("name",),
    "aws:route53/zone:Zone": ("name",),
}


def regenerate_command(stack: str) -> str:
    return f"make reviewed-graph STACK={stack}"


def snapshot_path(stack: str) -> Path:
    return SNAPSHOTS / f"{stack}.json"


def stack_files() -> list[str]:
    """Stacks that have a Pulumi.<stack>.yaml."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def snapshotted_stacks() -> list[str]:
    """Stacks with a committed snapshot."""
    return sorted(p.stem for p in SNAPSHOTS.glob("*.json"))


# ---------------------------------------------------------------- normalization


def redact(value: Any) -> Any:
    """Plain, deterministic JSON data: secrets → "[secret]", 20.0 → 20, assets and references described."""
    if rpc.is_rpc_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {str(k): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return {type(value).__name__: str(value.path)}
    if isinstance(value, pulumi.StringAsset):
        return {"StringAsset": value.text}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {type(value).__name__: value.uri}
    if isinstance(value, pulumi.AssetArchive):
        return {"AssetArchive": redact(dict(value.assets))}
    if isinstance(value, pulumi.Resource):
        return f"[resource {value.pulumi_resource_type}::{value.pulumi_resource_name}]"
    return f"[{type(value).__name__}]"  # never a repr: it may hold an address


def provider_urn(reference: str) -> str:
    """A provider reference is `<urn>::<id>`; the id is a mock's (or unknown in a preview), so keep the URN."""
    if reference.count("::") >= 4:
        return reference.rsplit("::", 1)[0]
    return reference


ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def _qualified_type(urn: str) -> str:
    return urn.split("::")[2] if urn.count("::") >= 3 else ""


def _urn(stack: str, project: str, parent: str, typ: str, name: str) -> str:
    """A URN as the engine builds it (resource.NewURN): the parent's qualified type (its whole type chain, not its
    name) prefixes the type, except when the parent is the root Stack."""
    parent_type = _qualified_type(parent)
    qualified = typ if parent_type in ("", ROOT_STACK_TYPE) else f"{parent_type}${typ}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def _stack_and_project(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    return parts[0].removeprefix("urn:pulumi:"), parts[1]


def engine_urns(resources: Sequence[Any]) -> dict[str, str]:
    """Mock URN → the URN the engine gives the same resource. The mock monitor builds URNs its own way (it keeps
    `pulumi:pulumi:Stack$` and only the parent's last type), so aliases and messages use the engine's."""
    by_urn = {r.urn: r for r in resources}
    real: dict[str, str] = {}

    def of(urn: str) -> str:
        if urn not in by_urn:
            return urn  # the Stack (not recorded) or outside the program
        if urn not in real:
            r = by_urn[urn]
            real[urn] = _urn(*_stack_and_project(urn), of(r.parent), r.type, r.name)
        return real[urn]

    return {urn: of(urn) for urn in by_urn}


def alias_urns(resources: Sequence[Any], real: dict[str, str]) -> dict[str, list[str]]:
    """Every old (engine) URN the engine would match each resource by: its own aliases (`pulumi.Alias(name=...)`,
    `Alias(parent=...)`, a plain URN) and the ones it inherits from an aliased parent, crossed as the engine does."""
    by_urn = {r.urn: r for r in resources}
    memo: dict[str, set[str]] = {}

    def aliases(urn: str) -> set[str]:
        if urn not in memo:
            memo[urn] = set()
            r = by_urn[urn]
            stack, project = _stack_and_project(urn)
            parent = real.get(r.parent, r.parent)
            parents = [parent, *sorted(aliases(r.parent))] if r.parent in by_urn else [parent]
            found = {_urn(stack, project, p, r.type, r.name) for p in parents}
            for alias in r.aliases:
                if alias.WhichOneof("alias") == "urn":
                    found.add(alias.urn)
                    continue
                spec = alias.spec
                which = spec.WhichOneof("parent")
                if which == "noParent" and spec.noParent:
                    alias_parents = [""]
                elif which == "parentUrn" and spec.parentUrn:
                    alias_parents = [real.get(spec.parentUrn, spec.parentUrn)]
                else:
                    alias_parents = parents
                for p in alias_parents:
                    typ, name = spec.type or r.type, spec.name or r.name
                    found.add(_urn(spec.stack or stack, spec.project or project, p, typ, name))
            found.discard(real[urn])
            memo[urn] = found
        return memo[urn]

    return {urn: sorted(aliases(urn)) for urn in by_urn}


def snapshot_of(run: Run, stack: str) -> dict[str, Any]:
    """The run as plain, deterministic data; every URN (own, parent, dependency, provider) in the engine's form."""
    real = engine_urns(run.resources)
    aliases = alias_urns(run.resources, real)

    def urn(u: str) -> str:
        return real.get(u, u)

    resources = [
        {
            "urn": urn(r.urn),
            "type": r.type,
            "name": r.name,
            "parent": urn(r.parent),
            "custom": r.custom,
            "provider": urn(provider_urn(r.provider)),
            "protect": r.protect,
            "deleteBeforeReplace": r.delete_before_replace,
            "dependencies": sorted({urn(d) for d in r.dependencies}),
            "aliases": aliases[r.urn],
            "inputs": redact(r.inputs),
        }
        for r in run.resources
    ]
    resources.sort(key=lambda r: r["urn"])
    outputs = {k: SECRET if k in run.secret_outputs else redact(v) for k, v in run.outputs.items()}
    return {"stack": stack, "resources": resources, "outputs": outputs}


def capture(stack: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the real program for `stack` (with its Pulumi.<stack>.yaml, or `config`) and snapshot the graph."""
    return snapshot_of(run_program(stack_config(stack) if config is None else config, stack), stack)


def dumps(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@functools.cache
def _graph_text(stack: str) -> str:
    return dumps(capture(stack))


def graph(stack: str) -> dict[str, Any]:
    """The current graph of a stack (run once per process; ConfigError propagates). A fresh copy each call."""
    result: dict[str, Any] = json.loads(_graph_text(stack))
    return result


def graph_text(stack: str) -> str:
    return _graph_text(stack)


def load(stack: str) -> dict[str, Any] | None:
    path = snapshot_path(stack)
    if not path.exists():
        return None
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def write(stack: str, text: str) -> Path:
    path = snapshot_path(stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------- comparison


_URN_LINE = re.compile(r'^   "urn": "(.*)",?$')
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@$")


def type_and_name(urn: str) -> str:
    """`urn:pulumi:foo::infra::infra:index:Cluster$aws:kms/key:Key::key` → `aws:kms/key:Key key`."""
    parts = urn.split("::", 3)
    return f"{parts[2].rsplit('$', 1)[-1]} {parts[3]}" if len(parts) == 4 else urn


def _owners(lines: list[str]) -> list[str]:
    """For each line of a dumped snapshot, what it belongs to: "outputs", "stack" or the resource's URN (the URN is
    the last key of a resource entry, so it is the next URN line)."""
    owners = [""] * len(lines)
    current = "stack"
    for i in range(len(lines) - 1, -1, -1):
        match = _URN_LINE.match(lines[i])
        if match:
            current = type_and_name(match.group(1))
        elif lines[i] == ' "resources": [':
            current = "outputs"
        owners[i] = current
    return owners


def unified_diff(old: str, new: str, label: str, max_lines: int = 150) -> str:
    """A unified diff whose hunk headers name the resource (or "outputs") the change is in, like git's."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    old_owner, new_owner = _owners(old_lines), _owners(new_lines)
    diff = difflib.unified_diff(
        old_lines, new_lines, f"{label} (committed)", f"{label} (current program)", lineterm="", n=4
    )
    lines = [next(diff, ""), next(diff, "")]  # the ---/+++ file headers
    if not lines[0]:
        return ""
    header, named, old_at, new_at = 0, True, 0, 0
    for line in diff:
        hunk = _HUNK.match(line)
        if hunk:
            header, named = len(lines), False
            old_at, new_at = int(hunk.group(1)) - 1, int(hunk.group(2)) - 1
        else:
            if not named and line[:1] in ("-", "+"):
                lines[header] += " " + (old_owner[old_at] if line[0] == "-" else new_owner[new_at])
                named = True
            old_at += line[:1] in (" ", "-")
            new_at += line[:1] in (" ", "+")
        lines.append(line)
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"... {len(lines) - max_lines} more diff lines"]
    return "\n".join(lines)


@dataclass
class Changes:
    """What the engine would do going from the `old` snapshot to the `new` one (resources sorted by URN)."""

    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    moved: list[tuple[dict[str, Any], dict[str, Any]]]  # (old, new): a new URN that aliases the old one
    outputs_changed: bool

    def lines(self) -> list[str]:
        """`+ type name` per created, `- ` per deleted, `~ ` per updated, `> old → new` per aliased move."""
        out = [f"  + {r['type']} {r['name']}" for r in self.added]
        out += [f"  - {r['type']} {r['name']}" for r in self.removed]
        out += [f"  ~ {r['type']} {r['name']}" for r in self.changed]
        out += [f"  > {o['type']} {o['name']} → {n['name']} (alias: kept, not replaced)" for o, n in self.moved]
        out += ["  ~ stack outputs"] if self.outputs_changed else []
        return out

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.moved or self.outputs_changed)


def changes(old: dict[str, Any], new: dict[str, Any]) -> Changes:
    before = {r["urn"]: r for r in old["resources"]}
    after = {r["urn"]: r for r in new["resources"]}
    aliased = {alias: r for r in new["resources"] for alias in r.get("aliases", []) if alias in before}
    gone = sorted(before.keys() - after.keys())
    moved = [(before[u], aliased[u]) for u in gone if u in aliased]
    carriers = {n["urn"] for _, n in moved}
    return Changes(
        added=[after[u] for u in sorted(after.keys() - before.keys()) if u not in carriers],
        removed=[before[u] for u in gone if u not in aliased],
        changed=[after[u] for u in sorted(after.keys() & before.keys()) if after[u] != before[u]],
        moved=moved,
        outputs_changed=old.get("outputs") != new.get("outputs"),
    )


def replaced_stateful(committed: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One message per stateful resource of `committed` whose URN is gone from `current` and that no current
    resource names as an alias: the engine would delete it (and create the new one)."""
    before = {r["urn"] for r in committed["resources"]}
    after = {r["urn"]: r for r in current["resources"]}
    aliased = {alias for r in current["resources"] for alias in r.get("aliases", [])}
    stack = current.get("stack", "<stack>")
    messages = []
    for old in committed["resources"]:
        if old["type"] not in STATEFUL_TYPES or old["urn"] in after or old["urn"] in aliased:
            continue
        new = [r for u, r in sorted(after.items()) if r["type"] == old["type"] and u not in before]
        if not new:
            messages.append(
                f"{old['type']} {old['urn']} would be DELETED: the program no longer declares it. "
                "If it only moved, give the new resource `aliases=[pulumi.Alias(...)]` (or the old URN); "
                f"if deleting it is really intended, review, then `{regenerate_command(stack)}`."
            )
            continue
        same_parent = [r for r in new if r["parent"] == old["parent"]]
        alias = f'pulumi.Alias(name="{old["name"]}")' if len(same_parent) == 1 else f'"{old["urn"]}"'
        messages.append(
            f"{old['type']} {old['urn']} would be REPLACED (new URN {' or '.join(r['urn'] for r in new)}): "
            f"a rename destroys it; add `aliases=[{alias}]` to the new resource's ResourceOptions so Pulumi "
            f"keeps the existing one, then `{regenerate_command(stack)}`."
        )
    return messages


def replaced_by_inputs(committed: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One message per stateful resource that keeps its URN (or an alias to it) but changes an input AWS cannot
    change in place: the engine would replace it, data and all."""
    before = {r["urn"]: r for r in committed["resources"]}
    stack = current.get("stack", "<stack>")
    messages = []
    for new in current["resources"]:
        old = next((before[u] for u in [new["urn"], *new.get("aliases", [])] if u in before), None)
        if old is None:
            continue
        keys = [k for k in REPLACED_ON_CHANGE.get(new["type"], ()) if old["inputs"].get(k) != new["inputs"].get(k)]
        if keys:
            what = ", ".join(f"{k} {old['inputs'].get(k)!r} → {new['inputs'].get(k)!r}" for k in keys)
            messages.append(
                f"{new['type']} {new['urn']} would be REPLACED: {what} cannot change in place. If that is intended,"
                f" review, then `{regenerate_command(stack)}`."
            )
    return messages
