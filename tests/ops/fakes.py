"""Test doubles the ops tests share: a clock whose sleeps pass at once; kubeconfigs for a local API server, with a
token or with a stand-in `aws eks get-token`; serving a handler on loopback; a test CA and the servers it signs; AWS
refusals; and a signal that a thread other than the main one receives."""

from __future__ import annotations

import functools
import ipaddress
import json
import signal
import ssl
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.ops.waiting import Clock


class FakeClock:
    """Sleeps pass instantly and are recorded; time moves only when something sleeps."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    @property
    def clock(self) -> Clock:
        return Clock(self.now, self.sleep)


def watch_verb_on(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `watch` verb (cli.main) on `clock`: its requests stay real, its schedule (--interval, --duration) takes no
    wall time, so a run asks the same number of times however loaded the machine is."""
    from infra.ops import watch as watch_verb  # lazily: it loads the verb's clients

    real = watch_verb.watch
    monkeypatch.setattr(watch_verb, "watch", functools.partial(real, clock=clock.now, sleep=clock.sleep))


# Run in a child process (`python -c`) before the code under test, as taken_by_another_thread() does in this one;
# the processes it starts (the stand-in pulumi) inherit the mask: they are sent SIGINT, never SIGTERM.
TAKEN_BY_ANOTHER_THREAD_CHILD = """
import signal, threading
threading.Thread(target=threading.Event().wait, daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
"""


@contextmanager
def taken_by_another_thread(signum: int) -> Iterator[None]:
    """For the block, the process's `signum` goes to a thread other than the main one, as the kernel may choose for a
    kill, `timeout` or a closed terminal: the main thread blocks it, and a thread started first does not. That
    thread's C handler only flags the signal; Python runs the handler once the main thread runs Python code."""
    release = threading.Event()
    threading.Thread(target=release.wait, name="takes the signal", daemon=True).start()
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signum})  # threads started in the block inherit it
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
        release.set()


def kubeconfig(server: str) -> dict[str, Any]:
    """A token kubeconfig for a Kubernetes API server the test runs on loopback."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t0k"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }


@contextmanager
def serving(server: TCPServer) -> Iterator[int]:
    """Serve on a daemon thread while the block runs; yields the port. The loop looks for shutdown every 20 ms
    (serve_forever's default, 0.5 s, would add half a second to every test that stops a server)."""
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _Status:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


def refuse(client: Any, operation: str, code: str, message: str, status: int = 400) -> list[str]:
    """Make a boto3 client's `operation` (e.g. "DescribeLoadBalancers") answer with AWS's error `code`.

    The answer replaces the call before it is sent (moto included), and botocore raises it as the same ClientError
    a real refusal gives. Returns the list of refused operation names, one per call.
    """
    refused: list[str] = []

    def answer(model: Any, **_: Any) -> tuple[_Status, dict[str, Any]]:
        refused.append(model.name)
        return _Status(status), {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}

    client.meta.events.register(f"before-call.*.{operation}", answer)
    return refused


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Mapping[str, Any]) -> None:
    """A fake API server's answer: the JSON body with its length, as the Kubernetes API sends it."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


# A kubeconfig whose user runs `aws eks get-token`, a stand-in `aws` answering it, and an API server that wants its
# token.
TOKEN = "k8s-aws-v1.stand-in"

STAND_IN = """#!{python}
import json, pathlib, sys
here = pathlib.Path(__file__).parent
calls = here / "calls"
done = int(calls.read_text()) if calls.exists() else 0
calls.write_text(str(done + 1))
plan = json.loads((here / "plan.json").read_text())
step = plan[min(done, len(plan) - 1)]
if step["error"]:
    sys.stderr.write("\\n" + step["error"] + "\\n")
    sys.exit(255)
status = {{"token": "{token}", "expirationTimestamp": step["expires"]}}
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": status}}))
"""


def stand_in_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *plan: dict[str, str | None]) -> None:
    """`aws` on PATH answering each call with the next step of the plan (the last one repeats)."""
    script = tmp_path / "aws"
    script.write_text(STAND_IN.format(python=sys.executable, token=TOKEN))
    script.chmod(0o755)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    monkeypatch.setenv("PATH", f"{tmp_path}:{Path(sys.executable).parent}:/usr/bin:/bin")


@contextmanager
def kubernetes_api() -> Iterator[str]:
    """Lists no nodes for the stand-in's token, 401 for anything else (what EKS answers without a token)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            body = json.dumps({"kind": "NodeList", "apiVersion": "v1", "items": []} if ok else {"code": 401})
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        yield f"http://127.0.0.1:{port}"


def eks_kubeconfig(server: str) -> dict[str, Any]:
    """The program's kubeconfig shape (infra/kubeconfig.py): its user runs `aws eks get-token`."""
    args = ["eks", "get-token", "--cluster-name", "infra-foo", "--region", "us-west-2", "--output", "json"]
    plugin = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws", "args": args}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "infra-foo", "cluster": {"server": server}}],
        "users": [{"name": "infra-foo", "user": {"exec": plugin}}],
        "contexts": [{"name": "infra-foo", "context": {"cluster": "infra-foo", "user": "infra-foo"}}],
        "current-context": "infra-foo",
    }


# A test CA, made once per module, and server contexts for each kind of certificate it signs.
NOW = datetime.now(UTC).replace(microsecond=0)
CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Infra Tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Infra Test CA"),
    ]
)
LOCAL = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate, PEM: what --ca-file takes
    good: ssl.SSLContext  # server contexts, one per kind of leaf certificate
    expiring: ssl.SSLContext
    expired: ssl.SSLContext
    wrong_name: ssl.SSLContext


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _server(
    folder: Path,
    name: str,
    ca_key: ec.EllipticCurvePrivateKey,
    sans: Sequence[x509.GeneralName],
    start: datetime,
    end: datetime,
) -> ssl.SSLContext:
    key = new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def ca_certificate(
    key: ec.EllipticCurvePrivateKey, name: x509.Name, start: datetime, end: datetime
) -> x509.Certificate:
    """A self-signed CA certificate, valid from `start` to `end`."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = new_key()
    ca = ca_certificate(ca_key, CA_NAME, NOW - timedelta(days=1), NOW + timedelta(days=3650))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    wrong = [x509.DNSName("www.example.com")]
    return Pki(
        ca=folder / "ca.pem",
        good=_server(folder, "good", ca_key, LOCAL, NOW - timedelta(days=1), NOW + timedelta(days=90)),
        expiring=_server(
            folder, "expiring", ca_key, LOCAL, NOW - timedelta(days=80), NOW + timedelta(days=10, hours=1)
        ),
        expired=_server(folder, "expired", ca_key, LOCAL, NOW - timedelta(days=90), NOW - timedelta(days=1)),
        wrong_name=_server(folder, "wrong", ca_key, wrong, NOW - timedelta(days=1), NOW + timedelta(days=90)),
    )


def by_name(url: str) -> str:
    """The same server by host name: a name, not an IP address, is what a wrong-name certificate fails on."""
    return url.replace("127.0.0.1", "localhost")


class SwitchableApp:
    """The app behind its URL, on loopback, for the probe: `Hello world` (200) while up, 503 while down, as an ELB
    answers with no healthy instance. It counts its answers, so a test holds an outage until the probe has seen it
    rather than guessing how long that takes on a loaded machine."""

    def __init__(self) -> None:
        self.down = False
        self.answered: dict[int, int] = {200: 0, 503: 0}
        self.changed = threading.Condition()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self.changed:
            status = 503 if self.down else 200
            self.answered[status] += 1
            self.changed.notify_all()
        body = b"Hello world\n" if status == 200 else b"no healthy instance\n"
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def wait_answers(self, status: int, more: int, timeout: float = 5.0) -> None:
        """Until `more` further answers with `status` have been sent."""
        with self.changed:
            target = self.answered[status] + more
            if not self.changed.wait_for(lambda: self.answered[status] >= target, timeout):
                raise AssertionError(f"the probe sent no {more} more request(s) answered {status} in {timeout} s")

    def outage(self, failures: int) -> None:
        """Down for `failures` requests, with a good answer just before and just after: every failed request was sent
        after this call began, and its answer was back (and recorded) before it returns, since the probe sends one
        request at a time."""
        self.wait_answers(200, 1)
        self.down = True
        try:
            self.wait_answers(503, failures)
        finally:
            self.down = False
        self.wait_answers(200, 1)


@contextmanager
def switchable_app() -> Iterator[tuple[SwitchableApp, str]]:
    """A SwitchableApp served on 127.0.0.1; yields it and its URL."""
    app = SwitchableApp()

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # the body would wait ~40 ms for the ACK of the headers (delayed ACK)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            app.answer(self)

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        yield app, f"http://127.0.0.1:{port}/"
