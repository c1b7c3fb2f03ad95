"""Shared fixtures: the foo stack run once per session under mocks (runs are deterministic and read-only)."""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from harness import Run, shared_run, stack_config

# moto builds ~1,300 images per region for every EC2 backend it creates (0.3 s each, one per account and region a
# test touches: a quarter of the ops tests' time). Read at moto's import, so set before any test module imports it:
# the one image the tests launch (moto_env.MOTO_AMI), and no others.
os.environ.setdefault("MOTO_AMIS_PATH", os.path.join(os.path.dirname(__file__), "ops", "moto_amis.json"))

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


@pytest.hookimpl(wrapper=True)
def pytest_collection() -> Iterator[None]:
    """Importing every test module allocates hundreds of thousands of long-lived objects; collecting garbage
    meanwhile only rescans them (half the collection time). They are frozen once collected (see below)."""
    gc.disable()
    try:
        return (yield)
    finally:
        gc.freeze()
        gc.enable()


def pytest_runtest_logfinish() -> None:
    """Freeze what exists once a test is done. A full garbage collection scans every tracked object, and by the
    first program run that is ~800k (pulumi_aws's classes, botocore's models, moto's backends): ~0.2 s a pass, a
    third of the suite's CPU time. Frozen, they are never scanned again, so a pass sees only the running test's
    objects. The price: reference cycles a finished test left behind are never freed (~400 MB more per worker)."""
    gc.freeze()


@pytest.fixture(scope="session")
def foo() -> Run:
    return shared_run(stack_config("foo"))
