"""Run the real `__main__.py` under the offline mocks with a stack's real config, and record the whole graph.

A run is repeatable and two runs can be compared. `RecordingMonitor` keeps every RegisterResource request: type,
name, parent, dependencies, provider, options and the inputs exactly as the engine would receive them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import runpy
import unittest.mock
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _sync_await

from tools.offline.mocks import InfraMocks, rds_answers
from tools.offline.world import World

ROOT = Path(__file__).resolve().parent.parent.parent
MAIN = ROOT / "__main__.py"
PROJECT = "infra"


def stack_config(stack: str = "foo") -> dict[str, Any]:
    """The `config:` map of Pulumi.<stack>.yaml, as plain data (`secure:` values become placeholders)."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(data.get("config") or {})


def _config_strings(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """What the Pulumi engine hands a program: objects as JSON strings, scalars as strings."""
    strings: dict[str, str] = {}
    secret_keys = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            strings[key] = "secret-placeholder"
            secret_keys.append(key)
        elif isinstance(value, dict | list):
            strings[key] = json.dumps(value)
        elif isinstance(value, bool):
            strings[key] = "true" if value else "false"
        else:
            strings[key] = str(value)
    return strings, secret_keys


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    protect: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    retain_on_delete: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    aliases: list[Any]  # alias_pb2.Alias as sent: what tools/reviewed_graph.py resolves to old URNs

    def plain(self, key: str) -> Any:
        """An input with secret wrappers removed (for assertions on values)."""
        return unsecret(self.inputs.get(key))


def unsecret(value: Any) -> Any:
    """Plain JSON as the provider would send it: secret wrappers removed, and integral numbers as ints (the
    engine's protobuf numbers arrive as floats, 3.0, where Kubernetes schemas say integer)."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    provider=request.provider,
                    protect=request.protect,
                    delete_before_replace=request.deleteBeforeReplace,
                    ignore_changes=list(request.ignoreChanges),
                    retain_on_delete=request.retainOnDelete,
                    dependencies=list(request.dependencies),
                    inputs=rpc.deserialize_properties(request.object, keep_internal=False),
                    aliases=list(request.aliases),
                )
            )
        return response


@dataclass
class Run:
    resources: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    logs: list[tuple[str, str]] = field(default_factory=list)  # (level, message) the program logged

    def warnings(self) -> list[str]:
        return [message for level, message in self.logs if level == "WARNING"]

    def of_type(self, typ: str) -> list[Registration]:
        """By name: registration order is asynchronous, so it is not stable between runs."""
        return sorted((r for r in self.resources if r.type == typ), key=lambda r: r.name)

    def one(self, typ: str) -> Registration:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.resources}

    def depends_on(self, dependent: Registration, dependency: Registration) -> bool:
        """True if `dependent` waits for `dependency`, directly or through any chain of dependencies or parents."""
        by_urn = self.by_urn()
        seen: set[str] = set()
        todo = [dependent.urn]
        while todo:
            urn = todo.pop()
            if urn in seen:
                continue
            seen.add(urn)
            reg = by_urn.get(urn)
            if reg is None:
                continue
            # Explicit and output dependencies, plus the provider (a k8s provider waits for its cluster).
            waits_for = [*reg.dependencies, *([reg.provider.rsplit("::", 1)[0]] if reg.provider else [])]
            if dependency.urn in waits_for:
                return True
            todo.extend(waits_for)
        return False


def _no_source_positions() -> contextlib.AbstractContextManager[Any]:
    """For every resource the SDK walks the whole Python stack (pytest's and hypothesis's frames included, and the
    source line of each) to tell the engine where the resource was declared; the mock monitor drops that and no
    test reads it. Skipping the walk makes a run ~10% cheaper."""
    return unittest.mock.patch.object(pulumi_resource, "_get_stack_trace", source_pb2.StackTrace)


def run_program(config: dict[str, Any], stack: str = "foo", world: World | None = None) -> Run:
    """Run __main__.py once against `world`; exceptions from the program (e.g. ConfigError) propagate, with the
    partial run attached as `exc.run`."""
    mocks = InfraMocks(world)
    monitor = RecordingMonitor(mocks)
    run = Run(resources=monitor.registrations)
    settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh Stack per run
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor, logger=_recorder(run.logs)
    )
    strings, secret_keys = _config_strings(config)
    pulumi.runtime.set_all_config(strings, secret_keys)

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    try:
        with rds_answers(mocks.world), _no_source_positions():
            program()
    except Exception as exc:
        exc.run = run  # type: ignore[attr-defined]
        raise
    root = settings.get_root_resource()
    for name, value in getattr(root, "outputs", {}).items():
        out = pulumi.Output.from_input(value)
        run.outputs[name] = _sync_await(out.future())
        if _sync_await(out.is_secret()):
            run.secret_outputs.add(name)
    return run


class _Recorder(logging.Handler):
    def __init__(self, sink: list[tuple[str, str]]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append((record.levelname, record.getMessage()))


def _recorder(sink: list[tuple[str, str]]) -> logging.Logger:
    """What the program logs at INFO and above (its own messages and the SDK's warnings). The SDK's DEBUG chatter,
    ~400 messages a run, is dropped: building a record for each was ~15% of a run, and nothing reads them."""
    logger = logging.Logger("pulumi-program", logging.INFO)  # not registered: one per run, nothing leaks
    logger.addHandler(_Recorder(sink))
    return logger
