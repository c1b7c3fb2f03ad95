"""What the tests use to run the real `__main__.py` under mocks (tools/offline), plus edits only tests make: a
stack's config with path changes (`with_changes`) and the account a run leaves behind (`deployed`).

The test files import everything from here, so where the offline runner lives is one import list.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from typing import Any

from tools.offline.mocks import InfraMocks, InvokeRefused
from tools.offline.runner import ROOT, RecordingMonitor, Registration, Run, run_program, stack_config, unsecret
from tools.offline.world import ACCOUNT, World, eks_versions, rds_postgres_majors
from tools.offline.world import days_from_today as _days

__all__ = [
    "ACCOUNT",
    "ROOT",
    "InfraMocks",
    "InvokeRefused",
    "RecordingMonitor",
    "Registration",
    "Run",
    "World",
    "_days",
    "deployed",
    "eks_versions",
    "rds_postgres_majors",
    "run_program",
    "shared_run",
    "stack_config",
    "unsecret",
    "with_changes",
]


_SHARED_RUNS: dict[tuple[str, str, str], Run] = {}


def _plain(value: Any) -> bool:
    """Data whose repr is exact and stable: no object whose repr is an address that a later object may reuse."""
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dt.datetime):
        return value.tzinfo is None or isinstance(value.tzinfo, dt.timezone)
    return value is None or isinstance(value, str | int | float | dt.date)


def shared_run(config: dict[str, Any], stack: str = "foo", world: World | None = None) -> Run:
    """`run_program(config, stack, world)`, run once per test process and shared by every test that asks for the
    same config and the same world: a run is deterministic, the mocks never change the world, and tests only read
    runs (as they read the session's `foo`). The world is keyed by its repr, taken at the call (a world changed
    later is another key); a world holding anything but plain data is not shared. A refused config raises every
    time (nothing is kept). A test that changes what a run holds, or checks that a second run repeats the first,
    uses `run_program`."""
    if world is not None and (type(world) is not World or not _plain(dataclasses.asdict(world))):
        return run_program(config, stack, world)
    key = (json.dumps(config, sort_keys=True), stack, repr(world))
    if key not in _SHARED_RUNS:
        _SHARED_RUNS[key] = run_program(config, stack, world)
    return _SHARED_RUNS[key]


def with_changes(changes: dict[str, Any], stack: str = "foo") -> dict[str, Any]:
    """The stack's config with `{"infra:cluster.nodes.desired": 3}`-style path changes (None deletes the key),
    as `pulumi config set --path` / `config rm --path` would make them."""
    config = stack_config(stack)
    for path, value in changes.items():
        key, _, rest = path.partition(".")
        if not rest:
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
            continue
        node = config.setdefault(key, {})
        *parents, leaf = rest.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return config


def deployed(run: Run, world: World | None = None) -> World:
    """The account after `run` was applied: its subnets (CIDR and AZ) and its cluster (version, tags, control-plane
    subnets) exist, as the next `up` finds them. Everything else carries over from `world`."""
    world = world or World()
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    ids = {f"{s.name}-id": f"subnet-{i}" for i, s in enumerate(subnets)}  # the mock's ids -> the world's
    cluster = run.one("aws:eks/cluster:Cluster")
    control_plane = [ids[s] for s in unsecret(cluster.inputs["vpcConfig"])["subnetIds"]]
    clusters = {
        **world.clusters,
        cluster.inputs["name"]: {
            "version": cluster.inputs["version"],
            # a copy: a test may change the world it gets, never the (shared) run it came from
            "tags": copy.deepcopy(cluster.inputs["tags"]),
            "vpcConfig": {"subnetIds": control_plane},
        },
    }
    return dataclasses.replace(
        world,
        subnets=tuple(s.inputs["cidrBlock"] for s in subnets),
        subnet_azs={s.inputs["cidrBlock"]: s.inputs["availabilityZone"] for s in subnets},
        clusters=clusters,
    )
