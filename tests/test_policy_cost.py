"""The policy pack's cost rule: an advisory warning when the planned idle cost rises more than the configured
amount above the stack's reviewed snapshot (or a configured baseline). Props reach it through the engine's proxy.

Figures: us-west-2 list prices, 730 h a month: foo's reviewed graph is $183.998 at idle (docs/cost.md), a t3.small
node $15.184 (730 × $0.0208) and its 20 GB gp3 root volume $1.60 (20 × $0.08): $16.784 a node.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from policy_harness import run_policy_pack
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.cost import COST_POLICY, STACK_POLICIES

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
            scaling = resource["inputs"]["scalingConfig"]
            scaling["desiredSize"], scaling["maxSize"] = desired, max(desired, scaling["maxSize"])
    return graph


def test_the_rule_is_an_advisory_stack_policy_of_the_pack() -> None:
    assert STACK_POLICIES == [COST_POLICY]
    assert COST_POLICY.name == "idle-cost-increase"
    assert COST_POLICY.enforcement_level == EnforcementLevel.ADVISORY


def test_the_reviewed_graph_itself_is_silent() -> None:
    assert warnings(FOO) == []


def test_three_more_nodes_warn_past_the_default_fifty_dollars() -> None:
    [message] = warnings(with_nodes(5))
    assert message.startswith(  # 3 × $16.784 = $50.352 on top of $183.998
        "stack foo: the planned idle cost is $234.35/month, +$50.35 against the reviewed snapshot"
        " tests/snapshots/foo.json ($184.00), more than maxMonthlyIncreaseUsd $50.00: +$50.35/month: nodes.desired"
        " 2 → 5"
    )
    assert warnings(with_nodes(4)) == []  # 2 × $16.784 = +$33.57: within $50


def test_the_limit_and_the_baseline_come_from_the_policy_config() -> None:
    assert warnings(with_nodes(5), {"maxMonthlyIncreaseUsd": 100}) == []
    [message] = warnings(FOO, {"baselineMonthlyUsd": 120})
    assert "+$64.00 against the configured baselineMonthlyUsd ($120.00)" in message  # $183.998 − $120


def test_without_a_snapshot_or_a_baseline_the_rule_does_not_apply() -> None:
    with pytest.raises(Exception) as raised:
        warnings(FOO, stack="nosuchstack")
    assert type(raised.value).__name__ == "_NotApplicableError"
    assert warnings(FOO, {"baselineMonthlyUsd": 184.00}, stack="nosuchstack") == []


def test_values_unknown_in_a_preview_do_not_stop_the_rule() -> None:
    graph = with_nodes(5)
    for resource in graph["resources"]:
        if resource["type"] == "aws:ec2/natGateway:NatGateway":
            resource["inputs"]["subnetId"] = UNKNOWN_STRING_VALUE
    [message] = warnings(graph)
    assert "+$50.35" in message


def test_the_pack_runs_the_rule_on_the_engine_s_stack_request() -> None:
    """policy/__main__.py as the engine runs it; AnalyzeStack props arrive as a protobuf Struct (numbers as floats)."""
    analyzer = run_policy_pack()
    graph = with_nodes(5)
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
    assert "+$50.35 against the reviewed snapshot" in diagnostic.message


def test_a_change_the_table_cannot_price_is_reported_not_passed_as_free() -> None:
    graph = copy.deepcopy(FOO)
    for resource in graph["resources"]:
        if resource["type"] == "aws:eks/nodeGroup:NodeGroup":
            resource["inputs"]["instanceTypes"] = ["m7i.large"]  # not in the us-west-2 table
    [message] = warnings(graph)
    assert message.startswith("stack foo: the idle cost of this change is not known: ")
    assert "no price for m7i.large in us-west-2" in message
