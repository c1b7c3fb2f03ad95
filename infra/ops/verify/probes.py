"""verify's probes: one per row, each fetching fresh data through the clients and judging it with checks.py; run
all at once, and re-run while --wait allows."""

import ssl
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra import contract
from infra.ops.clients import outputs, tls
from infra.ops.clients.exec_plugin import ExecPluginError
from infra.ops.clients.http_probe import Fetch, describe
from infra.ops.clients.kube_model import ClusterReader, nodegroup_members, parse_workload
from infra.ops.clients.nodegroup import describe_nodegroup
from infra.ops.interrupts import wait_event
from infra.ops.report import CheckResult, crashed
from infra.ops.verify import checks
from infra.ops.waiting import Clock, Stopped

HTTP_TIMEOUT = 5.0
KUBE_CREDENTIALS = "Kubernetes credentials"


@dataclass(frozen=True)
class CheckRow:
    """One row of verify's table: `run` fetches fresh data and judges it (not ops.probe's measuring thread)."""

    name: str
    run: Callable[[], CheckResult]
    cluster: str | None = None  # the EKS cluster whose API the check calls, if it does

    def __call__(self) -> CheckResult:
        try:
            return self.run()
        except Exception as err:  # a fetch that failed is a failed check, not a crash
            return crashed(self.name, err, self.cluster)


def build_probes(
    out: Mapping[str, Any],
    kube: ClusterReader | ExecPluginError,
    eks: Any,
    fetch: Fetch,
    context: ssl.SSLContext,
    login: Callable[[], CheckResult] | None = None,
) -> list[CheckRow]:
    """One probe per check; each fetches fresh data so --wait can re-run it. `context` verifies the certificate;
    `login` runs the database login Job (a real psql login over verified TLS with the app's credentials).
    Without a Kubernetes token (`kube` is the exec plugin's failure) the cluster's checks are one row saying why."""
    cluster_name = outputs.text(out, "clusterName")
    nodegroup = outputs.text(out, "nodeGroupName")
    namespace = outputs.text(out, "helloworldNamespace")
    workload = parse_workload(outputs.text(out, "helloworldWorkload"))
    replicas = outputs.integer(out, "helloworldReplicas")
    greeting = outputs.text(out, "helloworldGreeting")
    endpoint = out.get("helloworldEndpoint")
    url = outputs.text(out, "url").rstrip("/")

    def certificate() -> CheckResult:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            return checks.plain_http(parts.hostname, endpoint)
        port = parts.port or 443
        try:
            cert = tls.peer_certificate(parts.hostname, port, context, HTTP_TIMEOUT)
        except OSError as err:  # in the words GET / uses for the same failure
            return checks.failed("certificate", f"{parts.hostname}:{port}: {describe(err)}")
        return checks.certificate(cert, datetime.now(UTC))

    app = [
        CheckRow("certificate", certificate),
        CheckRow("GET /", lambda: checks.greeting(url, fetch(url, HTTP_TIMEOUT), greeting)),
        CheckRow("GET /dbz", lambda: checks.database(url + "/dbz", fetch(url + "/dbz", HTTP_TIMEOUT))),
    ]
    if isinstance(kube, ExecPluginError):
        skipped = (
            f"not checked: nodes, kube-system pods, workload {workload}, service {contract.APP_SERVICE}, database login"
        )
        no_token = checks.failed(KUBE_CREDENTIALS, f"{kube}; {skipped}")
        return [CheckRow(KUBE_CREDENTIALS, lambda: no_token), *app]
    cluster = kube

    def nodes() -> CheckResult:
        desired = describe_nodegroup(eks, cluster_name, nodegroup).desired
        return checks.nodes_ready(nodegroup_members(cluster.nodes(), nodegroup), desired)

    return [
        CheckRow("nodes", nodes, cluster_name),
        CheckRow(
            "kube-system pods",
            lambda: checks.system_pods_ready(cluster.pods(namespace="kube-system")),
            cluster_name,
        ),
        CheckRow(
            f"workload {workload}",
            lambda: checks.workload_ready(workload, cluster.workload(workload, namespace), replicas),
            cluster_name,
        ),
        CheckRow(
            f"service {contract.APP_SERVICE}",
            lambda: checks.service_hostname(cluster.service_hostname(contract.APP_SERVICE, namespace), endpoint),
            cluster_name,
        ),
        *app,
        *([CheckRow("database login", login, cluster_name)] if login else []),
    ]


def run_checks(
    probes: Sequence[CheckRow],
    *,
    wait: float,
    interval: float,
    clock: Clock,
    out: Callable[[str], None],
    started: float | None = None,
) -> list[CheckResult]:
    """Run every probe; with wait > 0 re-run the failing ones (but a final failure) until they pass or time runs
    out.

    `wait` counts from `started` (the verb's start; default: now), not from the end of the first round. Each
    probe's calls have timeouts, so a round ends within the slowest one; the last round may start just before
    the deadline, so the whole run ends within `wait` plus one round.
    """
    deadline = (clock.now() if started is None else started) + wait
    results = run_round(probes)
    while True:
        failing = [p for p in probes if not results[p.name].ok and not results[p.name].final]
        left = deadline - clock.now()
        if not failing or left <= 0:
            return [results[p.name] for p in probes]
        details = "; ".join(f"{p.name}: {results[p.name].detail}" for p in failing)
        out(f"waiting ({left:.0f}s left) for {len(failing)} check(s): {details}")
        clock.sleep(min(interval, left))
        results.update(run_round(failing))


def run_round(probes: Sequence[CheckRow]) -> dict[str, CheckResult]:
    """All probes at once: a round takes as long as its slowest check, not their sum (against an API that does
    not answer, every Kubernetes check waits out its timeout).

    Each probe runs in a daemon thread and the calling (main) thread only waits for them, so Ctrl-C interrupts
    the wait at once; a thread left running then ends with the process (a pool's threads would be joined first).
    """
    results: dict[str, CheckResult] = {}
    lock, all_done = threading.Lock(), threading.Event()

    def run(probe: CheckRow) -> None:
        try:
            result = probe()
        except Stopped:  # the main thread was interrupted and no longer waits for this result
            return
        except BaseException as err:  # (CheckRow turns every Exception into a row) a row all the same: never hang
            result = crashed(probe.name, err)
        with lock:
            results[probe.name] = result
            if len(results) == len(probes):
                all_done.set()

    if not probes:
        return results
    for probe in probes:
        threading.Thread(target=run, args=(probe,), name=f"verify {probe.name}", daemon=True).start()
    wait_event(all_done)  # interruptible: Ctrl-C, SIGTERM, SIGHUP raise KeyboardInterrupt here
    return dict(results)
