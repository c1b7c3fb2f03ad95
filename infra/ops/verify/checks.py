"""verify's pure health checks over fetched data; each returns a CheckResult with a readable detail."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from infra import contract
from infra.ops.clients.http_probe import Answer
from infra.ops.clients.kube_model import Node, Pod, WorkloadRef, WorkloadStatus
from infra.ops.clients.tls import Certificate
from infra.ops.limits import RENEWAL_WARNING
from infra.ops.report import CheckResult, failed, few, passed

_FINISHED = ("Succeeded", "Failed")  # completed Job pods are not expected to be Ready


def nodes_ready(nodes: Sequence[Node], desired: int) -> CheckResult:
    ready = [n for n in nodes if n.ready]
    not_ready = [n.name for n in nodes if not n.ready]
    detail = f"{len(ready)}/{desired} Ready"
    if not_ready:
        detail += f"; not Ready: {few(not_ready)}"
    if len(ready) != desired:
        return failed("nodes", detail)
    return passed("nodes", detail)


def system_pods_ready(pods: Sequence[Pod]) -> CheckResult:
    live = [p for p in pods if p.phase not in _FINISHED]
    if not live:
        return failed("kube-system pods", "no pods found in kube-system")
    not_ready = [p.name for p in live if not p.ready]
    detail = f"{len(live) - len(not_ready)}/{len(live)} ready"
    if not_ready:
        return failed("kube-system pods", f"{detail}; not ready: {few(not_ready)}")
    return passed("kube-system pods", detail)


def workload_ready(ref: WorkloadRef, status: WorkloadStatus, expected: int) -> CheckResult:
    name = f"workload {ref}"
    detail = f"{status.ready}/{status.desired} ready"
    if status.desired != expected:
        return failed(name, f"{detail}; spec wants {status.desired} but the stack says {expected}")
    if status.ready != status.desired:
        return failed(name, detail)
    return passed(name, detail)


def service_hostname(hostname: str | None, expected: str | None) -> CheckResult:
    name = f"service {contract.APP_SERVICE}"
    if not hostname:
        return failed(name, "no load balancer hostname yet")
    if expected and hostname != expected:
        return failed(name, f"ELB {hostname} differs from stack output {expected} (run pulumi up)")
    return passed(name, hostname)


def greeting(url: str, answer: Answer, expected: str) -> CheckResult:
    name = "GET /"
    if not answer.ok:
        return failed(name, f"{url}: {answer.label()}")
    if answer.body.strip() != expected.strip():
        return failed(name, f"{url}: got {answer.label()!r}, want {expected.strip()!r}")
    return passed(name, f"{url}: {expected.strip()!r}")


def database(url: str, answer: Answer) -> CheckResult:
    name = "GET /dbz"
    if answer.ok and answer.status == 200:
        return passed(name, f"{url}: database reachable")
    if answer.status is not None and answer.error:  # a 200 cut short is not the app's answer: no verdict in it
        return failed(name, f"{url}: HTTP {answer.status} {answer.error} (the body ended before its Content-Length)")
    return failed(name, f"{url}: {answer.label()} (app cannot reach the database)")


def certificate(cert: Certificate, now: datetime) -> CheckResult:
    """A certificate read through a verifying handshake (trusted issuer, matching name): how long it stays valid."""
    name = "certificate"
    left = cert.not_after - now
    detail = f"issuer {cert.issuer}, valid until {cert.not_after:%Y-%m-%d %H:%M} UTC, names {few(list(cert.names))}"
    if left <= timedelta(0):
        return failed(name, f"expired: {detail}")
    if left < RENEWAL_WARNING:
        return CheckResult(
            name,
            "WARN",
            f"expires in {left.days} days: {detail}; ACM renews a DNS-validated certificate while its validation "
            "record stays, so renewal is failing: check `aws acm describe-certificate` (RenewalSummary)",
        )
    return passed(name, detail)


def plain_http(host: str | None, elb_hostname: str | None) -> CheckResult:
    """An http:// url: the ELB's own name (no DNS name; no certificate can name it), or a DNS name with tls off."""
    if host and elb_hostname and host.lower() != elb_hostname.lower():
        return CheckResult("certificate", "INFO", f"plain HTTP: no certificate for {host} (infra:dns.tls is false)")
    return CheckResult("certificate", "INFO", "plain HTTP: no certificate (no DNS name)")
