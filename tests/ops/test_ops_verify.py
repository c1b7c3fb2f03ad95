"""verify: each check's pass/fail and message, --wait re-runs, the table, and the exit code."""

import os
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fakes import FakeClock, serving
from kubernetes.client.exceptions import ApiException

from infra.ops import cli, live
from infra.ops.clients import stack
from infra.ops.clients.http_probe import Answer
from infra.ops.clients.kube_model import NODEGROUP_LABEL, Node, Pod, WorkloadRef, WorkloadStatus
from infra.ops.report import CheckResult, failed, passed
from infra.ops.verify import checks, db_login, probes, rds_ca
from infra.ops.verify import command as verify_command

RC = WorkloadRef("rc", "helloworld-1.0.0")


def test_nodes_check() -> None:
    assert checks.nodes_ready([Node("a", True), Node("b", True)], 2) == CheckResult("nodes", "PASS", "2/2 Ready")
    result = checks.nodes_ready([Node("a", True), Node("b", False)], 2)
    assert result == CheckResult("nodes", "FAIL", "1/2 Ready; not Ready: b")
    assert checks.nodes_ready([Node("a", True)], 3).detail == "1/3 Ready"  # scaled up, nodes not joined yet


def test_system_pods_check() -> None:
    done_job = Pod("job", "kube-system", phase="Succeeded", ready=False)
    assert checks.system_pods_ready([Pod("coredns", "kube-system"), done_job]).status == "PASS"
    many = [Pod(f"p{i}", "kube-system", ready=False) for i in range(5)]
    result = checks.system_pods_ready(many)
    assert result.status == "FAIL" and result.detail == "0/5 ready; not ready: p0, p1, p2 (+2 more)"
    assert checks.system_pods_ready([]).detail == "no pods found in kube-system"


def test_workload_check() -> None:
    assert checks.workload_ready(RC, WorkloadStatus(3, 3), 3) == CheckResult(
        "workload rc/helloworld-1.0.0", "PASS", "3/3 ready"
    )
    assert checks.workload_ready(RC, WorkloadStatus(3, 2), 3).status == "FAIL"
    drift = checks.workload_ready(RC, WorkloadStatus(2, 2), 3)
    assert drift.status == "FAIL" and "spec wants 2 but the stack says 3" in drift.detail


def test_service_check() -> None:
    host = "abc.elb.amazonaws.com"
    assert checks.service_hostname(host, host).status == "PASS"
    assert checks.service_hostname(host, None).status == "PASS"
    assert checks.service_hostname(None, host).detail == "no load balancer hostname yet"
    assert "differs from stack output" in checks.service_hostname(host, "old.elb.amazonaws.com").detail


def test_http_checks() -> None:
    url = "http://foo.example"
    assert checks.greeting(url, Answer(200, "Hello world\n"), "Hello world").status == "PASS"
    wrong = checks.greeting(url, Answer(200, "Foo bar\n"), "Hello world")
    assert wrong.status == "FAIL" and wrong.detail == "http://foo.example: got 'Foo bar', want 'Hello world'"
    refused = checks.greeting(url, Answer(None, error="DNS lookup failed"), "Hello world")
    assert refused.detail == "http://foo.example: error: DNS lookup failed"
    assert checks.database(url + "/dbz", Answer(200, "ok")).status == "PASS"
    down = checks.database(url + "/dbz", Answer(503, "db down"))
    assert down.status == "FAIL" and down.detail == "http://foo.example/dbz: HTTP 503 (app cannot reach the database)"


def test_crashing_probe_is_a_failed_check() -> None:
    def boom() -> CheckResult:
        raise RuntimeError("Unauthorized\nmore lines")

    assert probes.CheckRow("nodes", boom)() == CheckResult("nodes", "FAIL", "RuntimeError: Unauthorized")


def test_wait_reruns_only_failing_checks_until_they_pass() -> None:
    runs = {"a": 0, "b": 0}

    def a() -> CheckResult:
        runs["a"] += 1
        return passed("a", "fine")

    def b() -> CheckResult:
        runs["b"] += 1
        return checks.nodes_ready([Node("n", True)] * min(runs["b"], 3), 3)

    ticker, lines = FakeClock(), list[str]()
    results = probes.run_checks(
        [probes.CheckRow("a", a), probes.CheckRow("nodes", b)],
        wait=600,
        interval=10,
        clock=ticker.clock,
        out=lines.append,
    )
    assert [r.status for r in results] == ["PASS", "PASS"]
    assert runs == {"a": 1, "b": 3} and ticker.t == 20
    assert lines[0] == "waiting (600s left) for 1 check(s): nodes: 1/3 Ready"


def test_wait_gives_up_at_the_deadline() -> None:
    ticker = FakeClock()
    probe = probes.CheckRow("nodes", lambda: checks.nodes_ready([], 2))
    results = probes.run_checks([probe], wait=25, interval=10, clock=ticker.clock, out=lambda _: None)
    assert results[0].status == "FAIL" and ticker.t == 25
    assert probes.run_checks([probe], wait=0, interval=10, clock=ticker.clock, out=lambda _: None)[0].status == "FAIL"


def test_wait_counts_from_the_start_of_the_verb_not_from_the_end_of_the_first_round() -> None:
    # A hung API: each round waits out the 20 s read limit. `--wait 10`: the deadline has passed when the first
    # round ends, so no second round starts (before, the 10 s only began then: 48 s in all).
    ticker = FakeClock(start=100.0)

    def hung(seconds: float) -> probes.CheckRow:
        def run() -> CheckResult:
            ticker.sleep(seconds)
            return failed("nodes", "Kubernetes API: no answer within 20s")

        return probes.CheckRow("nodes", run)

    lines: list[str] = []
    probes.run_checks([hung(20)], wait=10, interval=5, clock=ticker.clock, out=lines.append)
    assert ticker.t == 120.0 and lines == []
    # The verb passes its own start: reading the outputs and checking the credentials count too.
    probes.run_checks([hung(5)], wait=10, interval=5, clock=ticker.clock, out=lines.append, started=118.0)
    assert lines[0] == "waiting (3s left) for 1 check(s): nodes: Kubernetes API: no answer within 20s"


def test_a_final_failure_is_not_re_run() -> None:
    runs: list[str] = []

    def refused() -> CheckResult:
        runs.append("nodes")
        raise ApiException(status=401, reason="Unauthorized")

    ticker = FakeClock()
    results = probes.run_checks(
        [probes.CheckRow("nodes", refused, "infra-foo")], wait=600, interval=10, clock=ticker.clock, out=print
    )
    assert results == [
        CheckResult(
            "nodes",
            "FAIL",
            "HTTP 401 Unauthorized: the cluster refused the token of your AWS identity "
            "(see `aws eks list-access-entries --cluster-name infra-foo`)",
            final=True,
        )
    ]
    assert runs == ["nodes"] and ticker.t == 0


def test_ctrl_c_ends_the_wait_for_a_round_at_once() -> None:
    # The checks run in daemon threads; only the main thread waits, interruptibly (a pool's exit would join them).
    running, release = threading.Event(), threading.Event()

    def hangs() -> CheckResult:
        running.set()
        release.wait(timeout=5)
        return passed("nodes", "late")

    pressed: list[float] = []

    def ctrl_c() -> CheckResult:
        running.wait(timeout=5)
        pressed.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)  # to the process, as Ctrl-C is: the main thread takes it
        return passed("interrupter", "sent")

    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            probes.run_round([probes.CheckRow("nodes", hangs), probes.CheckRow("interrupter", ctrl_c)])
        assert time.monotonic() - pressed[0] < 1.0  # the hung check (5 s) was not waited for
    finally:
        release.set()
        signal.signal(signal.SIGINT, saved)


def test_a_round_runs_its_checks_at_once() -> None:
    # Against an API that never answers every Kubernetes check waits out its timeout: in
    # parallel a round takes one timeout, not one per check. Each probe here waits for the other.
    started = {name: threading.Event() for name in ("a", "b")}

    def probe(me: str, other: str) -> probes.CheckRow:
        def run() -> CheckResult:
            started[me].set()
            together = started[other].wait(timeout=2)
            return passed(me, "ran alongside") if together else failed(me, "ran alone")

        return probes.CheckRow(me, run)

    results = probes.run_checks(
        [probe("a", "b"), probe("b", "a")], wait=0, interval=1, clock=FakeClock().clock, out=print
    )
    assert [r.detail for r in results] == ["ran alongside", "ran alongside"]


# ---- the whole verb: fake cluster + fake EKS + a real local app server ----


class FakeKube:
    def __init__(self, nodes: int) -> None:
        self.node_count = nodes

    def nodes(self) -> list[Node]:
        ours = [Node(f"n{i}", True, labels={NODEGROUP_LABEL: "ng"}) for i in range(self.node_count)]
        return [*ours, Node("gpu-1", True, labels={NODEGROUP_LABEL: "gpu"})]  # another group: not counted

    def pods(self, *, namespace: str | None = None, node: str | None = None) -> list[Pod]:
        return [Pod("coredns", "kube-system")]

    def workload(self, ref: WorkloadRef, namespace: str) -> WorkloadStatus:
        return WorkloadStatus(3, 3)

    def service_hostname(self, name: str, namespace: str) -> str:
        return "abc.elb.amazonaws.com"


class FakeEks:
    def describe_nodegroup(self, clusterName: str, nodegroupName: str) -> dict[str, Any]:  # noqa: N803 (boto3 names)
        assert (clusterName, nodegroupName) == ("foo", "ng")
        sizes = {"minSize": 1, "maxSize": 4, "desiredSize": 2}
        return {"nodegroup": {"scalingConfig": sizes, "resources": {"autoScalingGroups": []}}}


class FakeSts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Arn": "arn:aws:iam::123456789012:user/ops", "Account": "123456789012", "UserId": "AIDA"}


@contextmanager
def app(dbz_status: int = 200, tls: ssl.SSLContext | None = None, dbz_cut: bool = False) -> Iterator[str]:
    """The app on 127.0.0.1; with a server-side `tls` context it speaks only HTTPS (like the ELB's 443).
    `dbz_cut`: /dbz closes the connection before the body its Content-Length promises (a pod killed mid-answer)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            status, body = (dbz_status, b"db\n") if self.path == "/dbz" else (200, b"Hello world\n")
            missing = 10 if dbz_cut and self.path == "/dbz" else 0
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) + missing))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    with serving(server) as port:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"


def outputs(url: str) -> dict[str, Any]:
    return {
        "clusterName": "foo",
        "nodeGroupName": "ng",
        "region": "us-west-2",
        "helloworldNamespace": "helloworld",
        "helloworldWorkload": "rc/helloworld-1.0.0",
        "helloworldReplicas": 3,
        "helloworldGreeting": "Hello world",
        "helloworldEndpoint": "abc.elb.amazonaws.com",
        "url": url,
    }


LOGIN_PASS = CheckResult("database login", "PASS", "select 1 as app over verified TLS")


def run_verify_verb(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    *args: str,
    nodes: int = 2,
    login: CheckResult = LOGIN_PASS,
) -> tuple[int, dict[str, tuple[str, str]], str]:
    """`verify foo ARGS` with fake cluster/EKS/STS and the app at url: exit code, {check: (status, detail)}, stderr."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(stack, "read_outputs", lambda name: outputs(url))
    monkeypatch.setattr(live, "cluster", lambda out: FakeKube(nodes))
    monkeypatch.setattr(verify_command, "database_login", lambda out, kube, started: login)
    clients = {"eks": FakeEks(), "sts": FakeSts()}
    monkeypatch.setattr(live, "aws_client", lambda service, out: clients[service])
    code = cli.main(["verify", "foo", *args])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("check "))
    status_at, detail_at = lines[header].index("status"), lines[header].index("detail")
    rows = {
        line[:status_at].strip(): (line[status_at:detail_at].strip(), line[detail_at:].strip())
        for line in lines[header + 2 :]
    }
    return code, rows, captured.err


@pytest.mark.parametrize(("nodes", "dbz", "code"), [(2, 200, 0), (2, 503, 1), (1, 200, 1)])
def test_verify_verb_prints_table_and_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], nodes: int, dbz: int, code: int
) -> None:
    with app(dbz) as url:
        got, rows, err = run_verify_verb(monkeypatch, capsys, url, nodes=nodes)
    assert got == code
    assert ("FAIL" in [status for status, _ in rows.values()]) == bool(code)
    assert rows["kube-system pods"][0] == "PASS" and rows["service helloworld"][0] == "PASS"
    # The url names 127.0.0.1, not the ELB: as for a DNS name with tls off.
    assert rows["certificate"] == ("INFO", "plain HTTP: no certificate for 127.0.0.1 (infra:dns.tls is false)")
    if code:
        assert err.startswith("error: 1 check(s) failed: ")
        assert err.count("\n") == 1


def test_a_dbz_answer_cut_short_fails_verify(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with app(dbz_cut=True) as url:
        code, rows, err = run_verify_verb(monkeypatch, capsys, url)
    assert code == 1
    assert rows["GET /dbz"] == ("FAIL", f"{url}/dbz: HTTP 200 truncated (the body ended before its Content-Length)")
    assert err == "error: 1 check(s) failed: GET /dbz\n"


def test_database_login_is_a_row_and_its_failure_fails_verify(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with app() as url:
        code, rows, _ = run_verify_verb(monkeypatch, capsys, url)
        assert code == 0 and rows["database login"] == ("PASS", "select 1 as app over verified TLS")
        failed = CheckResult("database login", "FAIL", "FATAL: password authentication failed")
        code, rows, err = run_verify_verb(monkeypatch, capsys, url, login=failed)
    assert code == 1 and rows["database login"][0] == "FAIL"
    assert err.startswith("error: 1 check(s) failed: database login")


def test_database_login_puts_the_ca_bundle_in_place_before_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[Any] = []
    kube = type("K", (), {"core": "core-api", "timeout": (5.0, 20.0)})()
    monkeypatch.setattr(rds_ca, "fetch_bundle", lambda: "PEM")
    monkeypatch.setattr(
        rds_ca, "ensure_configmap", lambda api, ns, pem, t: events.append(("configmap", api, ns, pem, t))
    )
    monkeypatch.setattr(db_login, "batch_api", lambda core: "batch-api")

    def check(out: Any, jobs: Any, core: Any, *, timeout: float, clock: Any, started: Any) -> CheckResult:
        events.append(("job", jobs, core, timeout))
        return LOGIN_PASS

    monkeypatch.setattr(db_login, "check_login", check)
    assert verify_command.database_login(outputs("https://foo.cloud.weave.works"), kube) is LOGIN_PASS
    assert events == [
        ("configmap", "core-api", "helloworld", "PEM", (5.0, 20.0)),
        ("job", "batch-api", "core-api", 90.0),
    ]
