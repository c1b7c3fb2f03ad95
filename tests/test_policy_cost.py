"""The policy pack's cost rule: an advisory warning when the planned idle cost rises more than the configured
amount above the stack's reviewed snapshot (or a configured baseline). Props reach it through the engine's proxy.

Figures: us-west-2 list prices, 730 h a month: a t3.medium node is $30.368 and its 20 GB gp3 root volume $1.60.
"""

from __future__ import annotations

import copy
import json
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pulumi_policy.policy
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.rules import COST_POLICY, STACK_POLICIES

ROOT = Path(__file__).resolve().parent.parent
FOO = json.loads((ROOT / "tests" / "snapshots" / "foo.json").read_text())
OPTS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
    additional_secret_outputs=[],
)


def planned(graph: dict[str, Any], stack: str = "foo") -> list[PolicyResource]:
    return [
        PolicyResource(
            resource_type=r["type"],
            props=unknown_checking_proxy(copy.deepcopy(r["inputs"])),
            urn=r["urn"].replace("urn:pulumi:foo::", f"urn:pulumi:{stack}::"),
            name=r["name"],
            opts=OPTS,
            provider=None,
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
        for r in graph["resources"]
    ]


def warnings(graph: dict[str, Any], config: dict[str, Any] | None = None, stack: str = "foo") -> list[str]:
    found: list[str] = []
    args = StackValidationArgs(planned(graph, stack), config or {})

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    assert COST_POLICY.validate(args, report) is None
    return found


def with_nodes(desired: int) -> dict[str, Any]:
    graph = copy.deepcopy(FOO)
    for resource in graph["resources"]:
        if resource["type"] == "aws:eks/nodeGroup:NodeGroup":
            resource["inputs"]["scalingConfig"]["desiredSize"] = desired
    return graph


def test_the_rule_is_an_advisory_stack_policy_of_the_pack() -> None:
    assert STACK_POLICIES == [COST_POLICY]
    assert COST_POLICY.name == "idle-cost-increase"
    assert COST_POLICY.enforcement_level == EnforcementLevel.ADVISORY


def test_the_reviewed_graph_itself_is_silent() -> None:
    assert warnings(FOO) == []


def test_two_more_nodes_warn_past_the_default_fifty_dollars() -> None:
    [message] = warnings(with_nodes(4))
    assert message.startswith(
        "stack foo: the planned idle cost is $278.30/month, +$63.94 against the reviewed snapshot"
        " tests/snapshots/foo.json ($214.37), more than maxMonthlyIncreaseUsd $50.00: +$63.94/month: nodes.desired"
        " 2 → 4"
    )
    assert warnings(with_nodes(3)) == []  # +$31.97: within $50


def test_the_limit_and_the_baseline_come_from_the_policy_config() -> None:
    assert warnings(with_nodes(4), {"maxMonthlyIncreaseUsd": 100}) == []
    [message] = warnings(FOO, {"baselineMonthlyUsd": 150})
    assert "+$64.37 against the configured baselineMonthlyUsd ($150.00)" in message


def test_without_a_snapshot_or_a_baseline_the_rule_does_not_apply() -> None:
    with pytest.raises(Exception) as raised:
        warnings(FOO, stack="nosuchstack")
    assert type(raised.value).__name__ == "_NotApplicableError"
    assert warnings(FOO, {"baselineMonthlyUsd": 214.37}, stack="nosuchstack") == []


def test_values_unknown_in_a_preview_do_not_stop_the_rule() -> None:
    graph = with_nodes(4)
    for resource in graph["resources"]:
        if resource["type"] == "aws:ec2/natGateway:NatGateway":
            resource["inputs"]["subnetId"] = UNKNOWN_STRING_VALUE
    [message] = warnings(graph)
    assert "+$63.94" in message


class _NoServer:
    def add_insecure_port(self, address: str) -> int:
        return 0

    def start(self) -> None:
        pass

    def stop(self, grace: float | None) -> None:
        pass


def _interrupt(seconds: float) -> None:
    raise KeyboardInterrupt  # the pack serves until interrupted: stop at once


def test_the_pack_runs_the_rule_on_the_engine_s_stack_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """policy/__main__.py as the engine runs it; AnalyzeStack props arrive as a protobuf Struct (numbers as floats)."""
    servicers: list[Any] = []
    monkeypatch.setattr(sys, "path", [*sys.path])
    monkeypatch.setattr(pulumi_policy.policy, "grpc", SimpleNamespace(server=lambda *a, **k: _NoServer()))
    monkeypatch.setattr(pulumi_policy.policy, "time", SimpleNamespace(sleep=_interrupt))
    monkeypatch.setattr(
        pulumi_policy.policy,
        "analyzer_pb2_grpc",
        SimpleNamespace(add_AnalyzerServicer_to_server=lambda servicer, server: servicers.append(servicer)),
    )
    runpy.run_path(str(ROOT / "policy"), run_name="__main__")
    [analyzer] = servicers
    graph = with_nodes(4)
    request = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r["type"],
                urn=r["urn"],
                name=r["name"],
                properties=json_format.ParseDict(r["inputs"], struct_pb2.Struct()),
            )
            for r in graph["resources"]
        ]
    )
    [diagnostic] = analyzer.AnalyzeStack(request, None).diagnostics
    assert (diagnostic.policyName, diagnostic.enforcementLevel) == ("idle-cost-increase", proto.ADVISORY)
    assert "+$63.94 against the reviewed snapshot" in diagnostic.message


def test_a_change_the_table_cannot_price_is_reported_not_passed_as_free() -> None:
    graph = copy.deepcopy(FOO)
    for resource in graph["resources"]:
        if resource["type"] == "aws:eks/nodeGroup:NodeGroup":
            resource["inputs"]["instanceTypes"] = ["m7i.large"]  # not in the us-west-2 table
    [message] = warnings(graph)
    assert message.startswith("stack foo: the idle cost of this change is not known: ")
    assert "no price for m7i.large in us-west-2" in message
