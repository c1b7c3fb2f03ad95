"""Shared fixtures: the foo stack run once per session under mocks (runs are deterministic and read-only)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from harness import Run, run_program, stack_config

_getaddrinfo = socket.getaddrinfo
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _loopback(host: Any) -> bool:
    if host is None or str(host) in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests talk to servers they start on this machine, never to anything outside it (no cloud, no internet):
    resolving any other host name fails the test at once instead of sending traffic."""

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            raise AssertionError(f"a test tried to reach {host!r}: tests may only use loopback addresses")
        return _getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield


@pytest.fixture(scope="session")
def foo() -> Run:
    return run_program(stack_config("foo"))
