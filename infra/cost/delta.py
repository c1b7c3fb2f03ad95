"""What a change costs: the idle estimates of two graphs, line by line, grouped by the config change behind them.

Lines pair by key (the same node group, the same NAT set). A line whose monthly cost moved names the config
settings (its drivers) that differ between the two graphs — `natGateways single → one-per-az` — and every line
moved by the same settings is one change: a second NAT gateway and its Elastic IP are one `+$36.50/month`.
A line with no differing setting names the resource itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from infra.cost.estimate import Estimate, Line, SupportDates, estimate
from infra.cost.money import signed_usd
from infra.cost.prices import PriceTable, load_table


@dataclass
class Change:
    amount: Decimal
    cause: str
    parts: list[str] = field(default_factory=list)

    def text(self) -> str:
        detail = f" ({'; '.join(self.parts)})" if self.parts else ""
        return f"{signed_usd(self.amount)}/month: {self.cause}{detail}"


def _cause(before: Line | None, after: Line | None) -> str:
    if before is None and after is not None:
        return f"new {after.item}"
    if after is None and before is not None:
        return f"removed {before.item}"
    assert before is not None and after is not None
    keys = sorted(set(before.drivers) | set(after.drivers))
    moved = [
        f"{k} {before.drivers.get(k, '-')} → {after.drivers.get(k, '-')}"
        for k in keys
        if before.drivers.get(k) != after.drivers.get(k)
    ]
    return ", ".join(moved) if moved else after.item


def _part(before: Line | None, after: Line | None) -> str:
    line = after or before
    assert line is not None
    what = line.item.split(":")[0].split(" (")[0]
    old = before.count if before else "none"
    new = after.count if after else "none"
    return f"{what}: {old} → {new}"


def delta_of(before: Estimate, after: Estimate) -> tuple[list[Change], list[str]]:
    """(changes, largest first; lines whose change cannot be priced, each with the reason)."""
    old = {line.key: line for line in before.lines}
    new = {line.key: line for line in after.lines}
    grouped: dict[str, Change] = {}
    unpriced: list[str] = []
    for key in [*old, *(k for k in new if k not in old)]:
        b, a = old.get(key), new.get(key)
        if (b is not None and b.monthly is None) or (a is not None and a.monthly is None):
            if (b.count if b else None) != (a.count if a else None) or (b and a and b.drivers != a.drivers):
                line = a or b
                assert line is not None
                why = line.missing.message() if line.missing else line.unpriced
                unpriced.append(f"{_cause(b, a)}: cannot be priced ({why})")
            continue
        amount = (a.monthly if a and a.monthly is not None else Decimal(0)) - (
            b.monthly if b and b.monthly is not None else Decimal(0)
        )
        if amount == 0:
            continue
        cause = _cause(b, a)
        change = grouped.setdefault(cause, Change(Decimal(0), cause))
        change.amount += amount
        change.parts.append(_part(b, a))
    changes = sorted(grouped.values(), key=lambda c: (-abs(c.amount), c.cause))
    return changes, unpriced


def cost_delta(
    before_graph: Any,
    after_graph: Any,
    table: PriceTable | None = None,
    support: SupportDates | None = None,
    today: dt.date | None = None,
) -> list[str]:
    """`+$32.85/month: natGateways single → one-per-az (…)` per change from `before_graph` to `after_graph`, then one
    line per change the table cannot price. Both graphs are priced with the same table (the after graph's region)."""
    after = estimate(after_graph, table, support, today)
    before = estimate(before_graph, table or load_table(after.region), support, today)
    changes, unpriced = delta_of(before, after)
    return [c.text() for c in changes] + unpriced
