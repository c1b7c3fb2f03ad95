"""One HTTP GET that never raises: every outcome becomes an Answer (for watch and verify)."""

import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

_MAX_BODY = 64 * 1024
_MAX_LABEL = 80


@dataclass(frozen=True)
class Answer:
    status: int | None  # None when no HTTP response arrived at all
    body: str = ""
    error: str | None = None  # connection-level failure, e.g. "connection refused"

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def label(self) -> str:
        """A short name for this answer, equal for equal answers (watch counts these)."""
        if self.error is not None:
            return f"error: {self.error}"
        if not self.ok:
            return f"HTTP {self.status}"
        body = self.body.strip() or "(empty body)"
        return body if len(body) <= _MAX_LABEL else body[: _MAX_LABEL - 3] + "..."


Fetch = Callable[[str, float], Answer]


def describe(err: BaseException | str) -> str:
    """A stable, short reason so equal failures are counted together."""
    if isinstance(err, str):
        return err
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, ConnectionResetError):
        return "connection reset"
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, socket.gaierror):
        return "DNS lookup failed"
    if isinstance(err, http.client.RemoteDisconnected):
        return "closed without response"
    return f"{type(err).__name__}: {err}".splitlines()[0]


def get(url: str, timeout: float) -> Answer:
    # A fresh connection each time (Connection: close) so a rolling update is seen per request.
    request = urllib.request.Request(url, headers={"Connection": "close", "User-Agent": "infra-ops"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, _decode(response.read(_MAX_BODY)))
    except urllib.error.HTTPError as err:  # non-2xx: still an HTTP answer
        try:
            body = _decode(err.read(_MAX_BODY))
        except (OSError, http.client.HTTPException):
            body = ""
        return Answer(err.code, body)
    except urllib.error.URLError as err:
        return Answer(None, error=describe(err.reason))
    except (OSError, http.client.HTTPException) as err:
        return Answer(None, error=describe(err))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
