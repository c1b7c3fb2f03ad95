"""TLS for watch and verify: the client context, short failure reasons, and the peer certificate's facts."""

import functools
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.ops.errors import OpsError


class TlsError(OpsError):
    """The TLS handshake failed: the reason is short and stable (watch counts equal reasons together)."""


def client_context(cafile: str | None = None) -> ssl.SSLContext:
    """Verifying context: the system trust store, or only `cafile` (a private CA); the name must match the host."""
    if cafile is None:
        return _system_context()
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as err:  # a missing file, or one that holds no PEM certificate
        raise OpsError(f"cannot load CA file {cafile}: {err.strerror or err}") from err


@functools.cache
def _system_context() -> ssl.SSLContext:
    """One per process: loading the system trust store takes ~20 ms of CPU, and nothing changes a context once made."""
    return ssl.create_default_context()


def reason(err: ssl.SSLError) -> str:
    """e.g. `TLS: certificate verify failed (hostname mismatch)`, `TLS: wrong version number`."""
    if isinstance(err, ssl.SSLCertVerificationError):
        # OpenSSL's words: "certificate has expired", "unable to get local issuer certificate",
        # "Hostname mismatch, certificate is not valid for 'x'." (the name is in the URL already).
        why = str(err.verify_message or err.reason).split(",")[0].rstrip(".").lower()
        return f"TLS: certificate verify failed ({why})"
    if err.reason:
        return f"TLS: {err.reason.replace('_', ' ').lower()}"
    return f"TLS: {str(err).splitlines()[0]}"


@dataclass(frozen=True)
class Certificate:
    issuer: str  # "CN (O)"
    not_after: datetime  # UTC
    names: tuple[str, ...]  # subjectAltName values, DNS names and IP addresses


def peer_certificate(host: str, port: int, context: ssl.SSLContext, timeout: float) -> Certificate:
    """The certificate host:port presents, read through a verifying handshake (issuer trusted, name matching)."""
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            peer = tls.getpeercert()
    except ssl.SSLError as err:
        raise TlsError(reason(err)) from err
    if not peer:  # only without verification, which the context above never disables
        raise TlsError("TLS: no certificate")
    return parse(peer)


def parse(peer: Mapping[str, Any]) -> Certificate:
    """The facts of ssl's getpeercert() dict."""
    issuer = {key: value for rdn in peer.get("issuer", ()) for key, value in rdn}
    common, org = issuer.get("commonName"), issuer.get("organizationName")
    label = f"{common} ({org})" if common and org else common or org or "unknown"
    not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(peer["notAfter"])), UTC)
    return Certificate(label, not_after, tuple(str(value) for _, value in peer.get("subjectAltName", ())))
