"""Day-2 operations for the infra stacks: `python -m infra.ops --help`.

Everything here reads the stack's outputs (never files the stack did not produce) and keeps cloud/cluster calls in
thin layers so the decisions stay pure and testable. One module or package per verb (kubeconfig, verify, watch,
swap_node, upgrade_check, snapshot, destroy, up), each with a `run(args)` that cli.py dispatches to; the clients they
call through in clients/; report.py for the result rows, the table and the common end of a verb; live.py for what
a verb takes from the real world (clients, clock, printed lines); waiting.py and interrupts.py for polling and
signals; probe.py for the measuring probe watch, `up --watch` and `swap-node --watch` share.
"""
