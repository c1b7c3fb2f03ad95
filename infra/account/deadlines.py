"""How close a support end (EKS's or RDS's) must be before every deploy warns of it."""

WARN_DAYS = 30
