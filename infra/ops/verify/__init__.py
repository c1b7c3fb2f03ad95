"""`verify`: is the stack's cluster and app healthy? Nodes, kube-system pods, the workload, the Service's ELB, the
certificate, GET / and /dbz, and a real database login, as one PASS/FAIL table.

command.py wires the real clients; probes.py runs the rows; checks.py judges them; db_login.py and rds_ca.py are
the database login row's Job and CA bundle.
"""
