"""Day-2 operations for the infra stacks: `python -m infra.ops --help`.

Everything here reads the stack's outputs (never files the stack did not produce)
and keeps cloud/cluster calls in thin layers so the decisions stay pure and testable.
"""
