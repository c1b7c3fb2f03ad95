"""The checked-in price tables: one JSON file per region in infra/cost/prices/, each price with its date and source.

A key names what is priced: `ec2.t3.medium` (per instance-hour, Linux, on-demand), `rds.postgres.db.t4g.micro`
(Single-AZ, with its vCPUs), `ebs.gp3`, `vpc.natGateway`, … (`infra/cost/queries.py` maps each key to its Price
List API query). A key the table lacks is a `MissingPrice`, which says how to add it: a price is never guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

PRICES_DIR = Path(__file__).resolve().parent / "prices"
REFRESH = "venv/bin/python tools/refresh_prices.py"


@dataclass(frozen=True)
class Price:
    key: str
    usd: Decimal
    per: str  # hour | month | GB-month | GB | vCPU-hour
    date: str
    source: str
    vcpu: int | None = None  # RDS classes: what Extended Support bills by

    def rate(self) -> str:
        """`$0.0416/h`, `$0.08/GB-month`: the unit price as a person reads it."""
        unit = {"hour": "h", "month": "month"}.get(self.per, self.per)
        return f"${_plain(self.usd)}/{unit}"


@dataclass(frozen=True)
class MissingPrice:
    key: str
    what: str
    region: str

    def message(self) -> str:
        return f"no price for {self.what} in {self.region} in the table: run {REFRESH} {self.region} --add {self.key}"


@dataclass(frozen=True)
class PriceTable:
    region: str
    hours_per_month: Decimal
    prices: dict[str, Price]

    def get(self, key: str, what: str) -> Price | MissingPrice:
        return self.prices.get(key) or MissingPrice(key, what, self.region)


def _plain(value: Decimal) -> str:
    """0.0416 → "0.0416", 1.00 → "1.00", 0.10 → "0.10": at least cents, never exponent notation."""
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def table_path(region: str) -> Path:
    return PRICES_DIR / f"{region}.json"


def parse_table(data: dict[str, Any]) -> PriceTable:
    prices = {
        key: Price(
            key=key,
            usd=Decimal(str(entry["usd"])),
            per=str(entry["per"]),
            date=str(entry["date"]),
            source=str(entry["source"]),
            vcpu=int(entry["vcpu"]) if "vcpu" in entry else None,
        )
        for key, entry in data["prices"].items()
    }
    return PriceTable(str(data["region"]), Decimal(str(data["hoursPerMonth"])), prices)


def load_table(region: str) -> PriceTable:
    """The region's table; a region without one is an empty table, so every line says what is missing."""
    path = table_path(region)
    if not path.exists():
        return PriceTable(region, Decimal(730), {})
    return parse_table(json.loads(path.read_text()))
