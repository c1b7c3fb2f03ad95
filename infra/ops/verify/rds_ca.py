"""The RDS certificate bundle for `sslmode=verify-full`, as the ConfigMap the `database login` Job mounts.

Fetched from AWS at check time (over verified HTTPS, on the operator's machine), not vendored: AWS rotates its RDS
CAs, and a stale copy would make a good database fail verification. The pod itself needs no internet access.
"""

from __future__ import annotations

import ssl
import urllib.request
from typing import Any, Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from infra.contract import DB_LOGIN_LABELS
from infra.db_pods import RDS_CA_BUNDLE_URL
from infra.ops.clients.kube import Timeout
from infra.ops.errors import OpsError

CONFIGMAP = "rds-ca-bundle"
KEY = "global-bundle.pem"
PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


class ConfigMapsApi(Protocol):
    def create_namespaced_config_map(self, namespace: str, body: Any, *, _request_timeout: Timeout) -> Any: ...
    def replace_namespaced_config_map(
        self, name: str, namespace: str, body: Any, *, _request_timeout: Timeout
    ) -> Any: ...


def fetch_bundle(url: str = RDS_CA_BUNDLE_URL, timeout: float = 20.0, context: ssl.SSLContext | None = None) -> str:
    """AWS's bundle, checked to be PEM certificates (a captive portal's HTML must not become a CA)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context or ssl.create_default_context()) as answer:
            text = str(answer.read().decode("ascii"))
    except (OSError, UnicodeDecodeError) as err:
        raise OpsError(f"cannot fetch the RDS CA bundle from {url}: {err}") from err
    try:
        if PEM_BEGIN not in text:
            raise ssl.SSLError("no PEM certificate")
        ssl.create_default_context().load_verify_locations(cadata=text)  # parses every certificate in it
    except ssl.SSLError as err:
        raise OpsError(
            f"{url} did not answer with PEM certificates ({err}); the database login check needs AWS's RDS CAs"
        ) from err
    return text


def configmap(pem: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=CONFIGMAP, labels=DB_LOGIN_LABELS), data={KEY: pem})


def ensure_configmap(api: ConfigMapsApi, namespace: str, pem: str, request_timeout: Timeout) -> None:
    """Create the ConfigMap, or replace it with the current bundle."""
    body = configmap(pem)
    try:
        api.create_namespaced_config_map(namespace, body, _request_timeout=request_timeout)
    except ApiException as err:
        if err.status != 409:
            raise
        api.replace_namespaced_config_map(CONFIGMAP, namespace, body, _request_timeout=request_timeout)
