"""Test doubles the ops tests share: a clock whose sleeps pass at once, a kubeconfig for a local API server, and a
way to serve one on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from socketserver import TCPServer
from typing import Any

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
