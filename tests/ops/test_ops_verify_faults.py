"""verify driven through faults as an operator meets them: the real kubernetes client against a fake Kubernetes
API on loopback (answering, hung, refusing the token, a login Job never scheduled or failing), the app on loopback
(answering, a name that does not resolve, a certificate nobody trusts), Ctrl-C while the login Job runs and again
while it is deleted, and `--wait` bounding the whole verb.

Signals are sent by the fake API itself when the request that matters arrives (os.kill to this process), so each
arrives at a known point: no sleeps, no races.
"""

import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from fakes import FakeClock, Pki, by_name, kubeconfig, pki, serving, taken_by_another_thread
from test_ops_verify import FakeEks, FakeSts, app, outputs

from infra.ops import cli, live
from infra.ops.clients import stack
from infra.ops.clients.kube import Kube
from infra.ops.verify import db_login, rds_ca

__all__ = ["pki"]  # a fixture: pytest finds it here by name

NAMESPACE = "helloworld"
JOB_PATH = re.compile(rf"^/apis/batch/v1/namespaces/{NAMESPACE}/jobs(?:/(?P<name>[^/?]+))?(?P<status>/status)?")
REQUEST_TIMEOUT = (0.5, 0.5)  # the client's limits against the fake API: a hung call ends quickly
SCHEDULING = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available"
PAM = 'psql: error: connection to server failed: FATAL:  PAM authentication failed for user "helloworld_app"'


def ready(condition: str = "Ready") -> list[dict[str, str]]:
    return [{"type": condition, "status": "True"}]


def container_status(name: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "image": "i", "imageID": "", "ready": False, "restartCount": 0, "state": state}


@dataclass
class FakeApi:
    """What the cluster answers. `hang`: which requests get no answer (a predicate on method and path);
    `on_request`: called with (method, path) as each request arrives (to send a signal at a known point)."""

    job_status: dict[str, Any] = field(default_factory=lambda: {"succeeded": 1})
    pod: dict[str, Any] | None = None
    log: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    refuse_token: bool = False
    hang: Callable[[str, str], bool] = lambda method, path: False
    on_request: Callable[[str, str], None] = lambda method, path: None
    seen: list[tuple[str, str]] = field(default_factory=list)
    jobs: set[str] = field(default_factory=set)

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        found = JOB_PATH.match(path)
        if found and method == "POST":
            self.jobs.add(body["metadata"]["name"])
            return 201, body
        if found and method == "GET":
            return 200, {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": found["name"]},
                "status": self.job_status,
            }
        if found and method == "DELETE":
            if found["name"] not in self.jobs:
                return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound"}
            self.jobs.discard(found["name"])
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        if path.startswith(f"/api/v1/namespaces/{NAMESPACE}/configmaps"):
            return 201, body
        if path.startswith("/api/v1/nodes"):
            nodes = [
                {
                    "metadata": {"name": f"n{i}", "labels": {"eks.amazonaws.com/nodegroup": "ng"}},
                    "status": {"conditions": ready()},
                }
                for i in range(2)
            ]
            return 200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": nodes}
        if path.startswith("/api/v1/namespaces/kube-system/pods"):
            coredns = {"metadata": {"name": "coredns"}, "status": {"phase": "Running", "conditions": ready()}}
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [coredns]}
        if path.startswith(f"/api/v1/namespaces/{NAMESPACE}/replicationcontrollers/"):
            return 200, {
                "metadata": {"name": "helloworld-1.0.0"},
                "spec": {"replicas": 3},
                "status": {"replicas": 3, "readyReplicas": 3},
            }
        if path.startswith(f"/api/v1/namespaces/{NAMESPACE}/services/helloworld"):
            return 200, {
                "metadata": {"name": "helloworld"},
                "status": {"loadBalancer": {"ingress": [{"hostname": "abc.elb.amazonaws.com"}]}},
            }
        if re.match(rf"^/api/v1/namespaces/{NAMESPACE}/pods/[^/]+/log", path):
            return 200, self.log
        if path.startswith(f"/api/v1/namespaces/{NAMESPACE}/pods"):
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [self.pod] if self.pod else []}
        if path.startswith(f"/api/v1/namespaces/{NAMESPACE}/events"):
            return 200, {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": self.events}
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound"}


@contextmanager
def kubernetes_api(api: FakeApi) -> Iterator[str]:
    """The fake API on 127.0.0.1 over plain HTTP (the token kubeconfig of fakes.kubeconfig)."""
    released = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.handle_one()

        def do_POST(self) -> None:
            self.handle_one()

        def do_DELETE(self) -> None:
            self.handle_one()

        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            method = self.command
            api.seen.append((method, self.path))
            api.on_request(method, self.path)
            if api.hang(method, self.path):
                released.wait()  # accepts, reads, never answers
                return
            code, answer = (
                (401, {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401})
                if api.refuse_token
                else api.answer(method, urlsplit(self.path).path, body)
            )
            data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if isinstance(answer, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server) as port:
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            released.set()  # before the server stops: a hung request ends first


@dataclass
class Run:
    code: int
    out: str
    err: str
    rows: dict[str, tuple[str, str]]
    seconds: float  # wall clock


def run_verify(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api_url: str,
    app_url: str,
    *args: str,
    clock: FakeClock | None = None,
    timeout: tuple[float, float] = REQUEST_TIMEOUT,
) -> Run:
    """`verify foo ARGS` as an operator runs it, with the real kubernetes client against the fake API at api_url,
    fake EKS/STS, and the app at app_url; the RDS CA bundle stands in (no internet here)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(
        stack,
        "read_outputs",
        lambda name: {**outputs(app_url), "dbEndpoint": "db.example", "dbPort": 5432, "dbName": "app"},
    )
    kube = Kube.from_kubeconfig(kubeconfig(api_url), timeout=timeout)
    monkeypatch.setattr(live, "cluster", lambda out: kube)
    clients = {"eks": FakeEks(), "sts": FakeSts()}
    monkeypatch.setattr(live, "aws_client", lambda service, out: clients[service])
    monkeypatch.setattr(rds_ca, "fetch_bundle", lambda: "-----BEGIN CERTIFICATE-----")
    if clock is not None:
        monkeypatch.setattr(live, "REAL_CLOCK", clock.clock)
    begun = time.monotonic()
    code = cli.main(["verify", "foo", *args])
    seconds = time.monotonic() - begun
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err, table_rows(captured.out), seconds)


def table_rows(out: str) -> dict[str, tuple[str, str]]:
    lines = out.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("check ")), None)
    if header is None:
        return {}
    status_at, detail_at = lines[header].index("status"), lines[header].index("detail")
    return {
        line[:status_at].strip(): (line[status_at:detail_at].strip(), line[detail_at:].strip())
        for line in lines[header + 2 :]
    }


@pytest.fixture
def sigint() -> Iterator[None]:
    """Ctrl-C as Python has it by default (KeyboardInterrupt in the main thread), whatever the runner set."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


def is_status_read(method: str, path: str) -> bool:
    return method == "GET" and bool(JOB_PATH.match(urlsplit(path).path)) and path.split("?")[0].endswith("/status")


# ---------------------------------------------------------------- Ctrl-C while the login Job runs


@pytest.mark.usefixtures("sigint")
def test_ctrl_c_while_the_login_job_runs_answers_at_once_and_deletes_the_job_from_the_main_thread(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pressed: list[float] = []

    def press_ctrl_c(method: str, path: str) -> None:
        if is_status_read(method, path) and not pressed:  # the Job exists and its status read hangs
            pressed.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

    deleters: list[threading.Thread] = []
    real_batch_api = db_login.batch_api

    class RecordingBatch:
        def __init__(self, core: Any) -> None:
            self.api = real_batch_api(core)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.api, name)

        def delete_namespaced_job(self, *args: Any, **kwargs: Any) -> Any:
            deleters.append(threading.current_thread())
            return self.api.delete_namespaced_job(*args, **kwargs)

    monkeypatch.setattr(db_login, "batch_api", RecordingBatch)
    api = FakeApi(hang=is_status_read, on_request=press_ctrl_c)
    with kubernetes_api(api) as api_url, app() as app_url:
        run = run_verify(monkeypatch, capsys, api_url, app_url)
        answered = time.monotonic()
    (job,) = [urlsplit(path).path.split("/")[-1] for method, path in api.seen if method == "DELETE"]
    assert (run.code, run.err) == (130, "error: interrupted\n")
    assert answered - pressed[0] < 1.0  # not the 90 s of the login's wait, nor the 0.5 s hung read
    assert deleters == [threading.main_thread()]
    assert run.out.splitlines()[-1] == f"interrupted: deleted Job helloworld/{job} (database login check)"
    assert job.startswith("helloworld-dblogin-") and api.jobs == set()  # the fake holds no Job any more


@pytest.mark.usefixtures("sigint")
def test_a_second_ctrl_c_during_the_deletion_does_not_skip_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def press_ctrl_c(method: str, path: str) -> None:
        if is_status_read(method, path) or method == "DELETE":  # once while it runs, again during the delete
            os.kill(os.getpid(), signal.SIGINT)

    api = FakeApi(hang=is_status_read, on_request=press_ctrl_c)
    with kubernetes_api(api) as api_url, app() as app_url:
        run = run_verify(monkeypatch, capsys, api_url, app_url)
    assert [method for method, _ in api.seen].count("DELETE") == 1
    assert run.code == 130 and api.jobs == set()
    assert run.out.splitlines()[-1].startswith("interrupted: deleted Job helloworld/helloworld-dblogin-")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the verb put Ctrl-C back


@pytest.mark.usefixtures("sigint")
def test_an_interrupted_delete_against_a_hung_api_is_bounded_and_says_what_is_left(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(db_login, "DELETE_TIMEOUT", (0.2, 0.1))  # its read limit is only ever waited out

    def press_ctrl_c(method: str, path: str) -> None:
        if is_status_read(method, path):
            os.kill(os.getpid(), signal.SIGINT)

    api = FakeApi(hang=lambda method, path: is_status_read(method, path) or method == "DELETE", on_request=press_ctrl_c)
    with kubernetes_api(api) as api_url, app() as app_url:
        run = run_verify(monkeypatch, capsys, api_url, app_url)
    assert run.code == 130
    assert re.fullmatch(
        r"interrupted: Job helloworld/helloworld-dblogin-[0-9a-f]{8} not deleted \(Kubernetes API: no answer within "
        r"0.1s\): Kubernetes stops it 120s after it starts and removes it 300s after it ends",
        run.out.splitlines()[-1],
    )
    assert run.seconds < 2.0  # the read limit of the one delete call, not the 20 s of the other calls


@pytest.mark.parametrize(
    ("signum", "receiver"),
    [
        (signal.SIGTERM, contextlib.nullcontext),
        (signal.SIGHUP, contextlib.nullcontext),
        # The kernel may hand the signal to a worker thread: the verb still acts on it at once, not once the hung
        # status read (20 s) is over, by which time the check has deleted its Job and nothing would be said.
        (signal.SIGTERM, lambda: taken_by_another_thread(signal.SIGTERM)),
    ],
    ids=["15", "1", "15-in-another-thread"],
)
def test_sigterm_and_sighup_delete_the_job_as_ctrl_c_does(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signum: signal.Signals,
    receiver: Callable[[], contextlib.AbstractContextManager[None]],
) -> None:
    sent: list[str] = []

    def send(method: str, path: str) -> None:
        if is_status_read(method, path):
            sent.append(path)
            if len(sent) == 1:  # this first status read hangs; later ones answer
                os.kill(os.getpid(), signum)

    outer: list[int] = []

    def caller(number: int, frame: object) -> None:
        outer.append(number)

    saved = signal.signal(signum, caller)
    try:
        api = FakeApi(hang=lambda method, path: is_status_read(method, path) and len(sent) == 1, on_request=send)
        with receiver(), kubernetes_api(api) as api_url, app() as app_url:
            run = run_verify(monkeypatch, capsys, api_url, app_url, clock=FakeClock())
        handler_after = signal.getsignal(signum)
    finally:
        signal.signal(signum, saved)
    assert run.code == 130 and api.jobs == set()
    assert run.out.splitlines()[-1].startswith("interrupted: deleted Job helloworld/helloworld-dblogin-")
    assert outer == [] and handler_after is caller  # verify's own handler took it; the caller's is back


# ---------------------------------------------------------------- --wait bounds the whole verb


def test_wait_bounds_the_whole_verb_against_a_hung_api(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every Kubernetes call waits out its 0.2 s read limit; one round is about that (the checks run at once).
    # The deadline counts from the start: the first round uses up the 0.1 s and no second round starts. Nothing
    # answers here, so the read limit can be shorter than the file's (it is only ever waited out), as long as it
    # is longer than --wait.
    timeout = (REQUEST_TIMEOUT[0], 0.2)
    api = FakeApi(hang=lambda method, path: True)
    with kubernetes_api(api) as api_url, app() as app_url:
        run = run_verify(monkeypatch, capsys, api_url, app_url, "--wait", "0.1", "--interval", "0.05", timeout=timeout)
    assert run.code == 1
    assert "waiting (" not in run.out
    round_seconds = timeout[1] + sum(db_login.DELETE_TIMEOUT[1:])  # the login: create, then its delete
    assert run.seconds < 0.1 + round_seconds + 0.5  # --wait plus one round, with room for a slow machine
    assert run.rows["nodes"] == ("FAIL", "Kubernetes API: no answer within 0.2s")
    assert run.rows["database login"] == ("FAIL", "Kubernetes API: no answer within 0.2s")


# ---------------------------------------------------------------- each fault, as the operator meets it


PENDING = {"metadata": {"name": "p1"}, "status": {"phase": "Pending"}}
SCHEDULING_EVENT = {
    "metadata": {"name": "e1"},
    "involvedObject": {"name": "p1"},
    "reason": "FailedScheduling",
    "type": "Warning",
    "message": SCHEDULING,
    "lastTimestamp": "2026-11-27T22:00:00Z",
}
PSQL_FAILED = {
    "metadata": {"name": "p1"},
    "status": {
        "phase": "Failed",
        "initContainerStatuses": [container_status("iam-token", {"terminated": {"exitCode": 0}})],
        "containerStatuses": [container_status("psql", {"terminated": {"exitCode": 2}})],
    },
}


def test_a_login_job_never_scheduled_says_why_after_its_limit_and_is_deleted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api, ticker = FakeApi(job_status={"active": 1}, pod=PENDING, events=[SCHEDULING_EVENT]), FakeClock()
    with kubernetes_api(api) as api_url, app() as app_url:
        run = run_verify(monkeypatch, capsys, api_url, app_url, clock=ticker)
    assert (run.code, run.err) == (1, "error: 1 check(s) failed: database login\n")
    assert run.rows["database login"] == ("FAIL", f"no result within 90s: FailedScheduling: {SCHEDULING}")
    assert ticker.t == 90 and api.jobs == set()


def test_a_failed_login_job_gives_psqls_reason_and_is_deleted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeApi(job_status={"failed": 1}, pod=PSQL_FAILED, log=PAM + "\n")
    with kubernetes_api(api) as api_url, app() as app_url:
        run = run_verify(monkeypatch, capsys, api_url, app_url, clock=FakeClock())
    assert run.code == 1
    assert run.rows["database login"] == ("FAIL", f"psql could not log in to db.example:5432/app: {PAM}")
    assert api.jobs == set() and [m for m, _ in api.seen].count("DELETE") == 1


def test_a_refused_token_fails_each_cluster_row_with_the_fix_and_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # verify's AWS credentials work (STS answered), so a 401 means the cluster does not admit this identity: no
    # re-run changes that, and --wait must not poll it for its whole length.
    api, ticker = FakeApi(refuse_token=True), FakeClock()
    with kubernetes_api(api) as api_url, app() as app_url:
        run = run_verify(monkeypatch, capsys, api_url, app_url, "--wait", "600", clock=ticker)
    refused = (
        "FAIL",
        "HTTP 401 Unauthorized: the cluster refused the token of your AWS identity "
        "(see `aws eks list-access-entries --cluster-name foo`)",
    )
    cluster_rows = ["nodes", "kube-system pods", "workload rc/helloworld-1.0.0", "service helloworld", "database login"]
    assert {name: run.rows[name] for name in cluster_rows} == dict.fromkeys(cluster_rows, refused)
    assert run.rows["GET /"][0] == "PASS"
    assert run.code == 1 and "waiting (" not in run.out and ticker.sleeps == []


def test_a_name_that_does_not_resolve_fails_the_app_rows_in_the_same_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    guarded = socket.getaddrinfo  # the conftest's loopback guard

    def nxdomain(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "foo.example":  # a record not created yet, or a zone not delegated
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return guarded(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    with kubernetes_api(FakeApi()) as api_url:
        run = run_verify(monkeypatch, capsys, api_url, "https://foo.example", clock=FakeClock())
    assert run.rows["certificate"] == ("FAIL", "foo.example:443: DNS lookup failed")
    assert run.rows["GET /"] == ("FAIL", "https://foo.example: error: DNS lookup failed")
    assert run.err == "error: 3 check(s) failed: certificate, GET /, GET /dbz\n"
    assert run.rows["database login"][0] == "PASS"


def test_a_certificate_nobody_trusts_fails_the_app_rows(
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with kubernetes_api(FakeApi()) as api_url, app(tls=pki.good) as app_url:
        run = run_verify(monkeypatch, capsys, api_url, by_name(app_url), clock=FakeClock())
    failure = "TLS: certificate verify failed (unable to get local issuer certificate)"
    assert run.rows["certificate"] == ("FAIL", failure)
    assert run.rows["GET /"] == ("FAIL", f"{by_name(app_url)}: error: {failure}")
    assert run.rows["nodes"] == ("PASS", "2/2 Ready") and run.rows["database login"][0] == "PASS"
