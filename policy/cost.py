"""The pack's stack policy: the idle monthly cost of the planned graph against the stack's reviewed one.

A policy pack sees the planned resources only, never the stack's current state. "Current" is therefore the
stack's reviewed snapshot (tests/snapshots/<stack>.json, the graph last reviewed and committed: what `make plan`
compares with), or, where the pack runs without the repository (published to Pulumi Cloud), the stack's
`baselineMonthlyUsd` from the policy config. With neither, the rule says it does not apply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from infra.cost.delta import delta_of
from infra.cost.estimate import estimate
from infra.cost.graph import Resource
from infra.cost.money import signed_usd, usd
from infra.cost.prices import load_table
from policy.rules import UNKNOWN, _get, _is_list

SNAPSHOTS: Final = Path(__file__).resolve().parent.parent / "tests" / "snapshots"
MAX_MONTHLY_INCREASE_USD: Final = 50


def _plain(value: Any) -> Any:
    """The engine's proxied props as plain data; a value not known yet (preview) becomes None."""
    try:
        if isinstance(value, Mapping):
            return {str(key): _plain(_get(value, str(key))) for key in value}
        if _is_list(value):
            return [_plain(item) for item in value]
    except UnknownValueError:
        return None
    return None if value is UNKNOWN else value


def _stack_of(urn: str) -> str:
    """`urn:pulumi:foo::infra::…` → `foo`."""
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def _cost_increase(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    limit = Decimal(str(config.get("maxMonthlyIncreaseUsd", MAX_MONTHLY_INCREASE_USD)))
    planned_graph = [Resource(r.resource_type, r.name, _plain(r.props) or {}) for r in args.resources]
    planned = estimate(planned_graph)
    stack = _stack_of(args.resources[0].urn) if args.resources else ""
    changes: list[str] = []
    unpriced: list[str] = []
    if config.get("baselineMonthlyUsd") is not None:
        baseline, against = Decimal(str(config["baselineMonthlyUsd"])), "the configured baselineMonthlyUsd"
    else:
        reviewed_file = SNAPSHOTS / f"{stack}.json"
        if not stack or not reviewed_file.exists():
            args.not_applicable(f"no reviewed snapshot tests/snapshots/{stack}.json and no baselineMonthlyUsd")
            return
        reviewed = estimate(json.loads(reviewed_file.read_text()), load_table(planned.region))
        baseline, against = reviewed.total, f"the reviewed snapshot tests/snapshots/{stack}.json"
        found, unpriced = delta_of(reviewed, planned)
        changes = [c.text() for c in found] + unpriced
    increase = planned.total - baseline
    if increase <= limit and unpriced:
        # A change the table cannot price counts $0 in the totals: say so rather than pass it as free.
        report_violation(
            f"stack {stack}: the idle cost of this change is not known: "
            + "; ".join(unpriced)
            + f" (priced part: {signed_usd(increase)} against {against})",
            None,
        )
        return
    if increase <= limit:
        return
    unpriced_lines = sum(1 for line in planned.lines if line.monthly is None)
    incomplete = f" (and {unpriced_lines} line(s) not priced)" if unpriced_lines else ""
    report_violation(
        f"stack {stack}: the planned idle cost is {usd(planned.total)}/month{incomplete}, {signed_usd(increase)}"
        f" against {against} ({usd(baseline)}), more than maxMonthlyIncreaseUsd {usd(limit)}"
        + (": " + "; ".join(changes) if changes else "")
        + ". If intended, raise the limit in the policy config or review and commit the new snapshot.",
        None,
    )


COST_POLICY = StackValidationPolicy(
    name="idle-cost-increase",
    description=(
        "Warns when the planned graph's idle monthly cost exceeds the stack's reviewed snapshot (or the configured"
        " baselineMonthlyUsd) by more than maxMonthlyIncreaseUsd (default $50)."
    ),
    validate=_cost_increase,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxMonthlyIncreaseUsd": {"type": "number", "minimum": 0, "default": MAX_MONTHLY_INCREASE_USD},
            "baselineMonthlyUsd": {"type": "number", "minimum": 0},
        }
    ),
)

STACK_POLICIES: Final[list[StackValidationPolicy]] = [COST_POLICY]
