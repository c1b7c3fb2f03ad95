"""`destroy`: refuse a protected or half-recorded stack, check credentials, pulumi destroy, sweep, clean up log
groups, report.

command.py wires the real clients; precheck.py refuses before anything is deleted; target.py is what destroy acts
on; teardown.py runs pulumi destroy and the steps after it, whose rows are after_destroy.py's; sweep.py deletes what
Kubernetes' cloud provider left in the VPC, log_groups.py what EKS and RDS re-create; validation_records.py warns
about a certificate validation record another stack still uses.
"""
