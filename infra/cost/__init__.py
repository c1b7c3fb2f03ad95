"""What a stack costs at idle, from its resource graph, and what a change adds: pure Python, no pulumi import.

The graph is (type token, inputs) per resource: the offline plan's, the reviewed snapshot's, or a deployed stack's
(`pulumi stack export`), so tools/cost.py, the policy pack and docs/cost.md all price the same way. Prices come
from the checked-in tables in infra/cost/prices/ (refreshed by tools/refresh_prices.py), never from a guess.
"""

from infra.cost.delta import Change, cost_delta, delta_of
from infra.cost.estimate import Estimate, Line, SupportDates, estimate
from infra.cost.prices import MissingPrice, Price, PriceTable, load_table

__all__ = [
    "Change",
    "Estimate",
    "Line",
    "MissingPrice",
    "Price",
    "PriceTable",
    "SupportDates",
    "cost_delta",
    "delta_of",
    "estimate",
    "load_table",
]
