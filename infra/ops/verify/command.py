"""`python -m infra.ops verify STACK`: wire the real clients into the probes, run them, print the table."""

import argparse
from collections.abc import Mapping
from typing import Any

import urllib3

from infra.ops import live, report
from infra.ops.clients import http_probe, outputs, stack, tls
from infra.ops.clients.exec_plugin import ExecPluginError
from infra.ops.clients.kube import Kube, transport_problem
from infra.ops.errors import OpsError
from infra.ops.interrupts import interrupts_deferred, terminate_as_interrupt
from infra.ops.report import CheckResult
from infra.ops.verify import db_login, probes, rds_ca

LOGIN_TIMEOUT = 90.0  # the Job's pull, CSI mount and psql; Kubernetes itself stops it after 120 s


def run(args: argparse.Namespace) -> int:
    started = live.REAL_CLOCK.now()  # --wait bounds the whole verb, so it counts from here
    context = tls.client_context(args.ca_file)
    out = stack.read_outputs(args.stack)
    live.check_credentials(out)
    eks = live.aws_client("eks", out)
    login_jobs = db_login.LoginJobs()
    fetch = http_probe.fetcher(context)
    try:
        kube = live.cluster(out)
    except ExecPluginError as err:  # no token: one row says why, the app's own checks still run
        checks = probes.build_probes(out, err, eks, fetch, context)
    else:
        checks = probes.build_probes(
            out, kube, eks, fetch, context, login=lambda: database_login(out, kube, login_jobs)
        )
    with terminate_as_interrupt():
        try:
            results = probes.run_checks(
                checks, wait=args.wait, interval=args.interval, clock=live.REAL_CLOCK, out=live.say, started=started
            )
        except KeyboardInterrupt:  # the checks run in worker threads: the login Job is deleted from here
            with interrupts_deferred():
                for line in login_jobs.interrupt():
                    live.say(line)
            raise
    return report.finish_checks(results, live.say)


def database_login(out: Mapping[str, Any], kube: Kube, started: db_login.LoginJobs | None = None) -> CheckResult:
    """The `database login` row: the RDS CA bundle (fetched from AWS) as the Job's ConfigMap, then the Job."""
    pem, namespace = rds_ca.fetch_bundle(), outputs.text(out, "helloworldNamespace")
    try:
        rds_ca.ensure_configmap(kube.core, namespace, pem, kube.timeout)
    except urllib3.exceptions.HTTPError as err:  # the row says it in a few words, as the other Kubernetes rows do
        raise OpsError(f"Kubernetes API: {transport_problem(err, kube.timeout)}") from err
    jobs = db_login.batch_api(kube.core)
    return db_login.check_login(out, jobs, kube.core, timeout=LOGIN_TIMEOUT, clock=live.REAL_CLOCK, started=started)
