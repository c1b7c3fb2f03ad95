"""The program offline: the real `__main__.py` run under mocks that answer like an AWS account would.

`world` is the account, `mocks` answers the program's calls from it, `runner` runs the program and records every
resource it registers. The offline plan (tools/plan.py), the reviewed snapshot (tools/reviewed_graph.py) and the tests
(through tests/harness.py) all run the program this way.
"""
