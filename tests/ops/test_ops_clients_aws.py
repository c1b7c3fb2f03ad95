"""Every AWS call has a short limit: an endpoint that accepts and never answers cannot hold a verb for minutes.

The endpoint is a loopback socket that accepts each connection and says nothing (no moto here: its mock answers
before any socket is opened).
"""

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from botocore.retries import standard

from infra.ops.clients import aws

REGION = "eu-north-1"  # a session no other test module has made (sessions are cached per region)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys in the environment: no credential lookup reaches for the instance metadata service."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def silent_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[socket.socket]]:
    """AWS_ENDPOINT_URL points at a server that accepts and never answers; yields the connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    try:
        yield accepted
    finally:
        listener.close()
        for connection in accepted:
            connection.close()


def test_every_client_gives_up_within_seconds_not_minutes() -> None:
    config = aws.client("sts", REGION).meta.config
    # botocore's defaults are a 60 s read timeout, retried: a hung STS took 180 s
    assert (config.connect_timeout, config.read_timeout) == (5, 20)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_a_hung_endpoint_is_tried_the_allowed_number_of_times_then_one_line(
    silent_endpoint: list[socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore's random backoff between the attempts (0 to 1 s) is idle time this test does not measure.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    # The read limit is only ever waited out (the endpoint never answers), so a short one costs no stability.
    limits = aws.CallLimits(connect_timeout=0.2, read_timeout=0.1, attempts=2)
    started = time.monotonic()

    with pytest.raises(aws.CredentialsError) as caught:
        aws.caller_identity(aws.client("sts", REGION, limits))

    assert time.monotonic() - started < 2.0  # 2 attempts of 0.1 s, with room for a slow machine
    assert len(silent_endpoint) == 2
    assert caught.value.problem.startswith("cannot check the AWS credentials (ReadTimeoutError: Read timeout on")
    assert caught.value.fix is None  # logging in again would not help


def test_the_last_try_after_an_interrupt_is_one_short_attempt() -> None:
    config = aws.client("logs", REGION, aws.ONE_SHORT_TRY).meta.config
    assert (config.connect_timeout, config.read_timeout, config.retries) == (
        2,
        5,
        {"mode": "standard", "total_max_attempts": 1},
    )
