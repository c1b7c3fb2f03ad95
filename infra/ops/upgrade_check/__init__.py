"""`upgrade-check`: is the cluster ready for its next Kubernetes minor? check.py holds the rows, budgets.py reads
the cluster's PodDisruptionBudgets, command.py wires the real clients."""
