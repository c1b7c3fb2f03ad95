"""Kube's Lease calls (swap-node's lock) through the real kubernetes client, against a fake API on loopback.

The fake answers as the API server does: 409 AlreadyExists for a second create, 404 for a missing Lease, 409 Conflict
when a delete's uid precondition names another object; it refuses a MicroTime without six fraction digits (400), as
the API server's parser (RFC 3339 with `.000000`) does.
"""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fakes import kubeconfig, send_json, serving

from infra.ops.clients.kube import Kube
from infra.ops.clients.kube_model import Lease
from infra.ops.errors import OpsError

PREFIX = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


class LeaseApi(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), LeaseHandler)
        self.leases: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.refuse_with: int | None = None  # e.g. 403: RBAC forbids leases
        self.uids = iter(f"uid-{n}" for n in range(1, 100))


class LeaseHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    server: LeaseApi

    def answer(self, status: int, body: dict[str, Any]) -> None:
        send_json(self, status, body)

    def failure(self, status: int, reason: str) -> None:
        self.answer(
            status, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": status}
        )

    def body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def handle_one(self, method: str) -> None:
        body = self.body()
        self.server.requests.append((method, self.path, body))
        if self.server.refuse_with:
            return self.failure(self.server.refuse_with, "Forbidden")
        leases, name = self.server.leases, self.path.removeprefix(PREFIX).strip("/")
        if method == "POST":
            name = body["metadata"]["name"]
            if name in leases:
                return self.failure(409, "AlreadyExists")
            if not MICRO_TIME.match(body["spec"]["acquireTime"]):
                return self.failure(400, "BadRequest")
            body["metadata"]["uid"] = next(self.server.uids)
            leases[name] = body
            return self.answer(201, body)
        if name not in leases:
            return self.failure(404, "NotFound")
        if method == "GET":
            return self.answer(200, leases[name])
        if method == "PATCH":  # a JSON merge patch; a metadata.uid that names another object is a 409 Conflict
            if self.headers["Content-Type"] != "application/merge-patch+json":
                return self.failure(415, "UnsupportedMediaType")
            if body["metadata"].get("uid") not in (None, leases[name]["metadata"]["uid"]):
                return self.failure(409, "Conflict")
            meta = leases[name]["metadata"]
            meta["annotations"] = {**meta.get("annotations", {}), **body["metadata"].get("annotations", {})}
            return self.answer(200, leases[name])
        wanted = ((body or {}).get("preconditions") or {}).get("uid")
        if wanted and wanted != leases[name]["metadata"]["uid"]:
            return self.failure(409, "Conflict")
        del leases[name]
        return self.answer(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

    def do_POST(self) -> None:
        self.handle_one("POST")

    def do_GET(self) -> None:
        self.handle_one("GET")

    def do_DELETE(self) -> None:
        self.handle_one("DELETE")

    def do_PATCH(self) -> None:
        self.handle_one("PATCH")


@pytest.fixture
def api() -> Iterator[LeaseApi]:
    server = LeaseApi()
    with serving(server):
        yield server


def kube_for(api: LeaseApi) -> Kube:
    return Kube.from_kubeconfig(kubeconfig(f"http://127.0.0.1:{api.server_address[1]}"), timeout=(1.0, 2.0))


ON_THE_SECOND = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)  # no microseconds: isoformat() would drop the fraction


def test_only_one_create_wins_and_the_loser_reads_who_holds_it(api: LeaseApi) -> None:
    kube = kube_for(api)

    uid = kube.create_lease("kube-system", "infra-swap-node", "ops@laptop pid 42", ON_THE_SECOND)
    assert uid == "uid-1"
    _, path, body = api.requests[0]
    assert path == PREFIX
    assert body["spec"] == {"holderIdentity": "ops@laptop pid 42", "acquireTime": "2026-11-27T10:00:00.000000+00:00"}

    assert kube.create_lease("kube-system", "infra-swap-node", "dev@ci pid 7", ON_THE_SECOND) is None
    assert kube.read_lease("kube-system", "infra-swap-node") == (
        Lease("uid-1", "ops@laptop pid 42", ON_THE_SECOND),
        {},
    )


def test_annotations_are_added_to_our_lease_only_and_read_back(api: LeaseApi) -> None:
    kube = kube_for(api)
    uid = kube.create_lease("kube-system", "infra-swap-node", "ops@laptop pid 42", ON_THE_SECOND)
    assert uid is not None

    kube.annotate_lease("kube-system", "infra-swap-node", uid, {"infra.ops/node": "ip-10-0-1-5"})
    kube.annotate_lease("kube-system", "infra-swap-node", uid, {"infra.ops/original-sizes": "--scaling-config x"})
    _, notes = kube.read_lease("kube-system", "infra-swap-node") or (None, None)
    assert notes == {"infra.ops/node": "ip-10-0-1-5", "infra.ops/original-sizes": "--scaling-config x"}

    with pytest.raises(OpsError, match=r"^annotating Lease kube-system/infra-swap-node failed: HTTP 409 Conflict$"):
        kube.annotate_lease("kube-system", "infra-swap-node", "uid-other", {"infra.ops/node": "ip-10-0-9-9"})
    assert api.leases["infra-swap-node"]["metadata"]["annotations"]["infra.ops/node"] == "ip-10-0-1-5"


def test_delete_removes_only_the_lease_with_our_uid(api: LeaseApi) -> None:
    kube = kube_for(api)
    uid = kube.create_lease("kube-system", "infra-swap-node", "ops@laptop pid 42", ON_THE_SECOND)
    assert uid is not None

    assert kube.delete_lease("kube-system", "infra-swap-node", "uid-other") is False  # someone else's now: kept
    assert "infra-swap-node" in api.leases
    assert api.requests[-1][2]["preconditions"] == {"uid": "uid-other"}

    assert kube.delete_lease("kube-system", "infra-swap-node", uid) is True
    assert api.leases == {}
    assert kube.delete_lease("kube-system", "infra-swap-node", uid) is False  # already gone
    assert kube.read_lease("kube-system", "infra-swap-node") is None


def test_lease_calls_the_api_refuses_are_one_line(api: LeaseApi) -> None:
    api.refuse_with = 403
    kube = kube_for(api)
    with pytest.raises(OpsError, match=r"^creating Lease kube-system/infra-swap-node failed: HTTP 403 Forbidden$"):
        kube.create_lease("kube-system", "infra-swap-node", "ops@laptop pid 42", ON_THE_SECOND)
    with pytest.raises(OpsError, match=r"^reading Lease kube-system/x failed: HTTP 403 Forbidden$"):
        kube.read_lease("kube-system", "x")
    with pytest.raises(OpsError, match=r"^deleting Lease kube-system/x failed: HTTP 403 Forbidden$"):
        kube.delete_lease("kube-system", "x", "uid-1")
