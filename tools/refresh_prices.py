"""Refresh a region's price table from the AWS Price List API (needs AWS credentials that may call pricing:*).

For every key in infra/cost/prices/<REGION>.json (and each `--add KEY`), asks `pricing.get_products` with the
key's query (infra/cost/queries.py), pages through the answer, parses each PriceList item (a JSON string) and
takes its OnDemand → priceDimensions → pricePerUnit USD (the first tier where tiers exist). A key is updated only
when every matching product agrees on one price; otherwise it is reported and the old entry kept: never a guess.

    venv/bin/python tools/refresh_prices.py us-west-2 [--add ec2.t3a.medium ...] [--only KEY ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "tools":
    sys.path.pop(0)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.cost.prices import table_path  # noqa: E402
from infra.cost.queries import Query, per_of, query_for  # noqa: E402

PRICING_REGION = "us-east-1"  # the Price List Query API's endpoint (also ap-south-1, eu-central-1)


@dataclass(frozen=True)
class Found:
    usd: Decimal
    per: str
    vcpu: int | None


def _first_tier(term: dict[str, Any]) -> dict[str, Any] | None:
    dimensions = list(term.get("priceDimensions", {}).values())
    tiered = [d for d in dimensions if d.get("beginRange") in (None, "0")]
    return tiered[0] if len(tiered) == 1 else None


def prices_in(items: list[str]) -> tuple[set[Decimal], set[str], set[str]]:
    """(distinct OnDemand USD prices, their units, the products' vcpu attributes) over PriceList items."""
    found: set[Decimal] = set()
    units: set[str] = set()
    vcpus: set[str] = set()
    for text in items:
        item = json.loads(text)
        for term in item.get("terms", {}).get("OnDemand", {}).values():
            dimension = _first_tier(term)
            if dimension is None or "USD" not in dimension.get("pricePerUnit", {}):
                continue
            found.add(Decimal(dimension["pricePerUnit"]["USD"]).normalize())
            units.add(str(dimension.get("unit", "")))
            vcpu = item.get("product", {}).get("attributes", {}).get("vcpu")
            if vcpu:
                vcpus.add(str(vcpu))
    return found, units, vcpus


def ask(client: Any, query: Query) -> tuple[Found | None, str]:
    """The one price `query` matches, or None and why not."""
    items: list[str] = []
    pages = client.get_paginator("get_products").paginate(
        ServiceCode=query.service_code, Filters=query.api_filters(), FormatVersion="aws_v1"
    )
    for page in pages:
        items += page.get("PriceList", [])
    found, units, vcpus = prices_in(items)
    if not found:
        return None, f"no product matched ({len(items)} items without an OnDemand USD price)"
    if len(found) > 1 or len(units) > 1:
        listed = ", ".join(f"${p}" for p in sorted(found))
        return None, f"{len(items)} products disagree ({listed}): narrow the query in infra/cost/queries.py"
    return Found(found.pop(), per_of(units.pop()), int(vcpus.pop()) if len(vcpus) == 1 else None), ""


def refresh(table: dict[str, Any], client: Any, keys: list[str], today: dt.date) -> list[str]:
    """Update `table` in place for `keys`; one report line per key."""
    report = []
    for key in keys:
        query = query_for(key, table["region"])
        if query is None:
            report.append(f"{key}: no Price List query known for this key (infra/cost/queries.py): kept")
            continue
        found, why = ask(client, query)
        old = table["prices"].get(key)
        if found is None:
            report.append(f"{key}: {why}: {'kept ' + old['usd'] if old else 'not added'}")
            continue
        entry: dict[str, Any] = {
            "usd": format(found.usd, "f"),
            "per": found.per,
            "date": today.isoformat(),
            "source": query.describe(),
        }
        if found.vcpu is not None:
            entry["vcpu"] = found.vcpu
        table["prices"][key] = entry
        before = f"{old['usd']} → " if old else "added "
        report.append(f"{key}: {before}{entry['usd']} per {found.per}")
    table["prices"] = dict(sorted(table["prices"].items()))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("region")
    parser.add_argument("--add", nargs="*", default=[], help="price keys to add, e.g. ec2.t3a.medium")
    parser.add_argument("--only", nargs="*", default=[], help="refresh only these keys")
    args = parser.parse_args(argv)
    path = table_path(args.region)
    table = (
        json.loads(path.read_text())
        if path.exists()
        else {"region": args.region, "hoursPerMonth": 730, "note": "On-demand list prices in USD.", "prices": {}}
    )
    keys = args.only or sorted({*table["prices"], *args.add})
    import boto3  # only this tool talks to AWS

    client = boto3.client("pricing", region_name=PRICING_REGION)
    report = refresh(table, client, keys, dt.datetime.now(dt.UTC).date())
    path.write_text(json.dumps(table, indent=1) + "\n")
    print("\n".join(report))
    print(f"wrote {path.relative_to(ROOT)}; then `venv/bin/python tools/cost.py foo --write-docs`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
