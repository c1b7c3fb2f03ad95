"""An API server that accepts connections and never answers must not hang a verb.

A real socket on 127.0.0.1 (ephemeral port) accepts and holds every connection; the real
kubernetes client talks to it through Kube with a short timeout.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakes import kubeconfig

from infra.ops import cli, live
from infra.ops.clients import stack
from infra.ops.clients.kube import Kube
from infra.ops.errors import OpsError
from infra.ops.verify import rds_ca

TIMEOUT = (0.5, 0.1)  # connect, read: only ever waited out against the silent server, never to be answered


@dataclass
class Silent:
    url: str
    accepted: list[socket.socket] = field(default_factory=list)


@contextmanager
def silent_server() -> Iterator[Silent]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.02)
    server = Silent(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            server.accepted.append(conn)  # held open, never answered

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in server.accepted:  # a client still waiting (a broken timeout) gets EOF and ends
            conn.close()
        listener.close()


def bounded(call: Any, limit: float = 3.0) -> tuple[Any, float]:
    """Run call in a thread so a missing timeout fails the test instead of hanging it."""
    outcome: list[Any] = []
    begin = time.monotonic()
    thread = threading.Thread(target=lambda: outcome.append(_capture(call)), daemon=True)
    thread.start()
    thread.join(limit)
    assert outcome, f"no answer after {limit}s: the call has no timeout"
    return outcome[0], time.monotonic() - begin


def _capture(call: Any) -> Any:
    try:
        return call()
    except Exception as err:
        return err


def test_every_call_times_out_once_without_transport_retries() -> None:
    with silent_server() as server:
        kube = Kube.from_kubeconfig(kubeconfig(server.url), timeout=TIMEOUT)
        for call in (kube.nodes, lambda: kube.pods(namespace="kube-system"), lambda: kube.cordon("n1")):
            before = len(server.accepted)
            err, took = bounded(call)
            assert isinstance(err, OpsError)
            assert str(err) == "Kubernetes API: no answer within 0.1s"
            assert len(server.accepted) - before == 1  # no retry: the verbs' waits retry, visibly
            assert took < 1.0


def test_refused_connection_is_one_short_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    kube = Kube.from_kubeconfig(kubeconfig(f"http://127.0.0.1:{port}"), timeout=TIMEOUT)
    with pytest.raises(OpsError, match=r"^Kubernetes API: connection refused$"):
        kube.nodes()


def test_verify_against_a_silent_api_fails_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from test_ops_verify import FakeEks, FakeSts, app, outputs

    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with silent_server() as server, app(200) as url:
        monkeypatch.setattr(stack, "read_outputs", lambda name: outputs(url))
        monkeypatch.setattr(live, "cluster", lambda out: Kube.from_kubeconfig(kubeconfig(server.url), timeout=TIMEOUT))
        clients = {"eks": FakeEks(), "sts": FakeSts()}
        monkeypatch.setattr(live, "aws_client", lambda service, out: clients[service])
        monkeypatch.setattr(rds_ca, "fetch_bundle", lambda: "-----BEGIN CERTIFICATE-----")  # never AWS's host
        code, took = bounded(lambda: cli.main(["verify", "foo"]))
    out, err = capfd.readouterr()
    assert code == 1 and took < 2.0
    rows = [ln for ln in out.splitlines() if "no answer within 0.1s" in ln]
    assert len(rows) == 5 and all(" FAIL " in row for row in rows)  # nodes, pods, workload, service, login
    assert err == (
        "error: 5 check(s) failed: nodes, kube-system pods, workload rc/helloworld-1.0.0, service helloworld,"
        " database login\n"
    )
