"""Account check for DNS: the hosted zone the stack uses (when it does not create one) exists in this account."""

from __future__ import annotations

from collections.abc import Callable

# The provider's text for a zone lookup that matched nothing (pulumi-aws >= 6.38, and the older wording).
ZONE_NOT_FOUND = ("no matching Route 53 Hosted Zone found", "no matching Route53Zone found")


def zone_problem(zone: str, account_id: str, lookup: Callable[[], object]) -> str | None:
    try:
        lookup()
    except Exception as err:
        if not any(text in str(err) for text in ZONE_NOT_FOUND):
            raise  # credentials, throttling...: the provider's own error says more than we could
        return (
            f"infra:dns.zone: {zone} — no public hosted zone of that name in account {account_id}; host it, use"
            " createZone + newZone, or remove infra:dns"
        )
    return None
