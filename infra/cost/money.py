"""Dollars as people read them: `$1,234.57`, rounded half up to the cent only when shown."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def usd(value: Decimal | None) -> str:
    return "—" if value is None else f"${cents(value):,.2f}"


def signed_usd(value: Decimal) -> str:
    return f"{'-' if value < 0 else '+'}{usd(abs(value))}"
