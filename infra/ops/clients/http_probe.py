"""One HTTP GET that never raises: every outcome becomes an Answer (for watch and verify).

An https:// URL is verified (trusted issuer, matching name, not expired); a TLS failure is a failed
answer with a short reason. Redirects are not followed: a 308 from the http:// URL of a TLS stack is
not the app answering, so it is not ok. The timeout bounds the whole request (connect, TLS handshake,
headers and body), not each socket read: a body dripped one byte at a time must not pass as a fast,
healthy answer. A body shorter than its Content-Length is what a pod killed mid-response looks like,
so it is a failure too.
"""

import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from infra.ops.clients import tls

_MAX_BODY = 64 * 1024
_MAX_LABEL = 80
TRUNCATED = "truncated"
TIMED_OUT = "timed out"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None when no HTTP response arrived at all
    body: str = ""
    error: str | None = None  # e.g. "connection refused", or "truncated" with a status
    location: str | None = None  # where a redirect points

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def label(self) -> str:
        """A short name for this answer, equal for equal answers (watch counts these)."""
        if self.error is not None:
            return f"error: {self.error}"
        if not self.ok:
            return f"HTTP {self.status}" + (f" -> {self.location}" if self.location else "")
        body = self.body.strip() or "(empty body)"
        return body if len(body) <= _MAX_LABEL else body[: _MAX_LABEL - 3] + "..."


Fetch = Callable[[str, float], Answer]


def describe(err: BaseException | str) -> str:
    """A stable, short reason so equal failures are counted together."""
    if isinstance(err, str):
        return err
    if isinstance(err, ssl.SSLError):  # before OSError's subclasses: TLS errors are OSErrors too
        return tls.reason(err)
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, ConnectionResetError):
        return "connection reset"
    if isinstance(err, TimeoutError):
        return TIMED_OUT
    if isinstance(err, socket.gaierror):
        return "DNS lookup failed"
    if isinstance(err, http.client.RemoteDisconnected):
        return "closed without response"
    if isinstance(err, http.client.IncompleteRead):
        return TRUNCATED
    return f"{type(err).__name__}: {err}".splitlines()[0]


def fetcher(context: ssl.SSLContext) -> Fetch:
    """get() verifying https:// with one context (see tls.client_context) for all its requests."""
    return functools.partial(get, context=context)


def get(url: str, timeout: float, context: ssl.SSLContext | None = None) -> Answer:
    """GET url with a fresh connection (Connection: close), so a rolling update is seen per request."""
    try:
        conn = _connection(url, timeout, context or tls.client_context())
    except ValueError as err:
        return Answer(None, error=f"bad URL: {err}")
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    watchdog: threading.Timer | None = None
    try:
        conn.connect()  # bounded by the socket timeout
        # From here a timer cuts the socket at the deadline, however slowly the bytes arrive.
        watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), _cut, (conn.sock,))
        watchdog.daemon = True
        watchdog.start()
        conn.request("GET", target, headers={"Connection": "close", "User-Agent": "infra-ops"})
        response = conn.getresponse()
        raw, complete = _read_body(response)
    except (OSError, http.client.HTTPException) as err:
        late = time.monotonic() >= deadline
        return Answer(None, error=TIMED_OUT if late else describe(err))
    finally:
        if watchdog is not None:
            watchdog.cancel()
        conn.close()
    if time.monotonic() >= deadline:
        return Answer(None, error=TIMED_OUT)
    body = raw.decode("utf-8", errors="replace")
    location = response.getheader("Location") if 300 <= response.status < 400 else None
    return Answer(response.status, body, error=None if complete else TRUNCATED, location=location)


def _connection(url: str, timeout: float, context: ssl.SSLContext) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def _cut(sock: socket.socket | None) -> None:
    # The plain socket's shutdown (also for TLS): a blocked read returns at once, nothing is torn down mid-read.
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: the request finished
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _read_body(response: http.client.HTTPResponse) -> tuple[bytes, bool]:
    """The body (up to _MAX_BODY) and whether it is complete (a cut chunked body raises IncompleteRead)."""
    chunks: list[bytes] = []
    size = 0
    while size < _MAX_BODY:
        chunk = response.read(min(16 * 1024, _MAX_BODY - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    declared = response.getheader("Content-Length", "")
    complete = size >= _MAX_BODY or not declared.isdigit() or size >= int(declared)
    return b"".join(chunks), complete
