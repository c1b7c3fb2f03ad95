"""The RDS CA bundle ConfigMap: fetched over verified HTTPS, checked to be PEM, created or replaced."""

from __future__ import annotations

import http.server
import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from fakes import ca_certificate, new_key, serving
from kubernetes.client.exceptions import ApiException

from infra.ops.errors import OpsError
from infra.ops.verify import rds_ca


def _self_signed() -> str:
    """A real (throwaway) CA certificate, as AWS's bundle holds: the fetch parses what it gets."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test RDS Root CA")])
    now = datetime.now(UTC)
    return (
        ca_certificate(new_key(), name, now, now + timedelta(days=1)).public_bytes(serialization.Encoding.PEM).decode()
    )


PEM = _self_signed()


class FakeConfigMaps:
    def __init__(self, exists: bool = False) -> None:
        self.exists = exists
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []

    def create_namespaced_config_map(self, namespace: str, body: Any, *, _request_timeout: Any) -> None:
        self.calls.append(("create", namespace, body.data, _request_timeout))
        if self.exists:
            raise ApiException(status=409, reason="AlreadyExists")

    def replace_namespaced_config_map(self, name: str, namespace: str, body: Any, *, _request_timeout: Any) -> None:
        assert name == "rds-ca-bundle"
        self.calls.append(("replace", namespace, body.data, _request_timeout))


def test_configmap_is_created_with_the_key_the_job_mounts() -> None:
    api = FakeConfigMaps()
    rds_ca.ensure_configmap(api, "helloworld", PEM, (5, 20))
    assert api.calls == [("create", "helloworld", {"global-bundle.pem": PEM}, (5, 20))]


def test_an_existing_configmap_is_replaced_with_the_current_bundle() -> None:
    api = FakeConfigMaps(exists=True)
    rds_ca.ensure_configmap(api, "helloworld", PEM, (5, 20))
    assert [c[0] for c in api.calls] == ["create", "replace"]
    assert api.calls[1][2] == {"global-bundle.pem": PEM}


def test_other_api_errors_are_not_swallowed() -> None:
    class Forbidden(FakeConfigMaps):
        def create_namespaced_config_map(self, namespace: str, body: Any, *, _request_timeout: Any) -> None:
            raise ApiException(status=403, reason="Forbidden")

    with pytest.raises(ApiException):
        rds_ca.ensure_configmap(Forbidden(), "helloworld", PEM, (5, 20))


@pytest.fixture
def server() -> Iterator[tuple[str, list[bytes]]]:
    answers: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = answers.pop(0)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(http.server.HTTPServer(("127.0.0.1", 0), Handler)) as port:
        yield f"http://127.0.0.1:{port}/global-bundle.pem", answers


def test_fetch_returns_pem(server: tuple[str, list[bytes]]) -> None:
    url, answers = server
    answers.append(PEM.encode())
    assert rds_ca.fetch_bundle(url, timeout=5) == PEM


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Sign in to the hotel wifi</html>",
        b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    ],
)
def test_fetch_refuses_what_is_not_a_certificate(server: tuple[str, list[bytes]], body: bytes) -> None:
    url, answers = server
    answers.append(body)
    with pytest.raises(OpsError, match="did not answer with PEM certificates"):
        rds_ca.fetch_bundle(url, timeout=5)


def test_fetch_failure_is_one_line() -> None:
    with pytest.raises(OpsError, match=r"cannot fetch the RDS CA bundle from http://127\.0\.0\.1:9/"):
        rds_ca.fetch_bundle("http://127.0.0.1:9/x.pem", timeout=2)


def test_the_bundle_is_fetched_from_aws_over_https() -> None:
    url = inspect.signature(rds_ca.fetch_bundle).parameters["url"].default
    assert url == "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
