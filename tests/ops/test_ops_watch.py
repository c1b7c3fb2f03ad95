"""watch: real local HTTP servers (127.0.0.1 only), an injected clock for interval/duration."""

import contextlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock, serving, watch_verb_on

from infra.ops import cli
from infra.ops import watch as watch_verb
from infra.ops.clients import http_probe, stack
from infra.ops.clients.http_probe import Answer
from infra.ops.watch import watch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment would send "local" requests elsewhere.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class State:
    def __init__(self, body: str = "Hello world\n", status: int = 200, hold: threading.Event | None = None) -> None:
        # hold: each answer waits until it is set (bounded), and the test sets it once its client gave up, so the
        # server's shutdown does not wait out a fixed delay
        self.body, self.status, self.hold = body, status, hold


@contextmanager
def serve(state: State) -> Iterator[tuple[str, ThreadingHTTPServer]]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if state.hold is not None:
                state.hold.wait(5)
            data = state.body.encode()
            try:
                self.send_response(state.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # a held answer: the client gave up, as the test wants
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with serving(server) as port:
        yield f"http://127.0.0.1:{port}/", server


def wall() -> datetime:
    return datetime(2030, 1, 1, 12, 0, 0)


def test_upgrade_transition_is_reported_once_with_no_failures() -> None:
    state = State()
    clock = FakeClock(start=100.0)
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 3:  # the rolling update lands mid-run
            state.body = "Foo bar\n"

    with serve(state) as (url, _):
        stats = watch(
            url, interval=0.5, duration=3.0, timeout=2.0, clock=clock.now, sleep=sleep, wall=wall, out=lines.append
        )

    assert stats.requests == 6  # t = 0, 0.5, ... 2.5
    assert stats.answers == {"Hello world": 3, "Foo bar": 3}
    assert (stats.successes, stats.failures, stats.changes) == (6, 0, 1)
    assert stats.elapsed == pytest.approx(3.0)
    changes = [ln for ln in lines if ln.startswith("12:00:00.000")]
    assert changes == ["12:00:00.000 +0.0s  Hello world", "12:00:00.000 +1.5s  Foo bar"]
    assert "--- 6 requests in 3.0s: 6 ok, 0 failed, 1 change(s)" in lines


def test_stopped_server_counts_failures_and_exits_non_zero(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server closes its listening socket before it answers the first request, so every later
    # request is refused: no timer racing the request schedule (the old version stopped the server
    # from a 0.25 s timer, and a loaded machine saw either no answer yet or no refusal yet).
    # The requests are real; the verb's schedule runs on a test clock (0.8 s of waiting took 0.8 s of wall time).
    watch_verb_on(FakeClock(start=100.0), monkeypatch)
    with serve_raw(lambda conn: conn.sendall(RESPONSE), connections=1) as url:
        code = cli.main(["watch", url, "--interval", "0.05", "--duration", "0.8", "--timeout", "0.5"])
    out = capsys.readouterr().out
    assert code == 1
    assert "  Hello world" in out
    assert "  error: connection refused" in out
    summary = next(ln for ln in out.splitlines() if ln.startswith("---"))
    assert re.fullmatch(r"--- (\d+) requests in [\d.]+s: 1 ok, (\d+) failed, 1 change\(s\)", summary), summary
    assert summary.startswith("--- 16 requests in 0.8s:")  # t = 0, 0.05, ... 0.75


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nHello world\n"


@contextmanager
def serve_raw(handle: Callable[[socket.socket], None], connections: int | None = None) -> Iterator[str]:
    """A bare TCP server on 127.0.0.1 for answers http.server cannot give (cut, dripped).

    Each connection's request is read, then `handle` writes the answer. With `connections`,
    the listening socket closes right after the last accept, before that answer is written.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.02)  # so the loop sees `stop` (closing a socket does not wake accept)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def run() -> None:
        served = 0
        while not stop.is_set() and (connections is None or served < connections):
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            served += 1
            if served == connections:
                listener.close()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        break
                    request += data
                with contextlib.suppress(OSError):  # the client hung up (its deadline cut the socket)
                    handle(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_truncated_body_is_a_failure() -> None:
    # Content-Length 12, five bytes, close: a pod killed mid-response.
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nHello"
    with serve_raw(lambda conn: conn.sendall(cut)) as url:
        answer = http_probe.get(url, 2.0)
        lines: list[str] = []
        stats = watch(url, interval=0.05, duration=0.1, timeout=2.0, out=lines.append)
    assert answer == Answer(200, "Hello", error="truncated")
    assert not answer.ok and answer.label() == "error: truncated"
    assert stats.failures == stats.requests >= 1 and stats.successes == 0
    assert stats.answers == {"error: truncated": stats.requests}


def test_truncated_chunked_body_is_a_failure() -> None:
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nc\r\nHello"
    with serve_raw(lambda conn: conn.sendall(cut)) as url:
        assert http_probe.get(url, 2.0).label() == "error: truncated"


def test_complete_body_without_content_length_is_ok() -> None:
    whole = b"HTTP/1.0 200 OK\r\n\r\nHello world\n"  # the body ends when the connection closes
    with serve_raw(lambda conn: conn.sendall(whole)) as url:
        assert http_probe.get(url, 2.0) == Answer(200, "Hello world\n")


def test_timeout_bounds_the_whole_request_not_each_read() -> None:
    # Each byte comes well within the timeout, the whole body does not: that is a failure, on time.
    gave_up = threading.Event()

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n")
        for byte in b"Hello world\n":
            if gave_up.wait(0.05):  # the client is gone: stop now, not a byte or two later, so the server stops sooner
                return
            conn.sendall(bytes([byte]))

    with serve_raw(drip) as url:
        begin = time.monotonic()
        answer = http_probe.get(url, 0.2)
        took = time.monotonic() - begin
        gave_up.set()
    assert answer.label() == "error: timed out" and not answer.ok
    assert 0.2 <= took < 0.45  # the dripped body would take 0.6 s


def test_watch_counts_non_2xx_answers_as_failures() -> None:
    # Real requests on a test clock: with the wall clock, a loaded machine whose first request took longer than
    # the duration saw one request, not the several this needs.
    clock = FakeClock(start=100.0)
    with serve(State("down\n", status=503)) as (url, _):
        stats = watch(
            url, interval=0.5, duration=1.5, timeout=1.0, clock=clock.now, sleep=clock.sleep, out=lambda _: None
        )
    assert stats.requests == 3  # t = 0, 0.5, 1.0
    assert (stats.successes, stats.failures) == (0, stats.requests)
    assert stats.answers == {"HTTP 503": stats.requests}


def test_non_2xx_and_timeouts_are_failures() -> None:
    with serve(State("down\n", status=503)) as (url, _):
        assert http_probe.get(url, 2.0) == Answer(503, "down\n")
    answered = threading.Event()
    with serve(State(hold=answered)) as (url, _):
        answer = http_probe.get(url, 0.1)
        answered.set()  # the late answer is sent now, after the client gave up
    assert answer.label() == "error: timed out"
    assert not answer.ok


def test_slow_requests_skip_missed_slots_and_duration_is_respected() -> None:
    clock = FakeClock(start=100.0)
    started: list[float] = []

    def slow_fetch(url: str, timeout: float) -> Answer:
        started.append(clock.t - 100.0)
        clock.t += 1.2  # each request takes longer than the interval
        return Answer(200, "Hello world\n")

    stats = watch(
        "http://x",
        interval=0.5,
        duration=5.0,
        timeout=2.0,
        fetch=slow_fetch,
        clock=clock.now,
        sleep=clock.sleep,
        out=lambda _: None,
    )
    assert started == pytest.approx([0.0, 1.5, 3.0, 4.5])  # no burst to catch up
    assert stats.requests == 4 and stats.failures == 0


def test_interval_schedule_without_drift() -> None:
    clock = FakeClock(start=100.0)
    stats = watch(
        "http://x",
        interval=0.25,
        duration=1.0,
        timeout=1.0,
        fetch=lambda u, t: Answer(200, "a"),
        clock=clock.now,
        sleep=clock.sleep,
        out=lambda _: None,
    )
    assert stats.requests == 4
    assert sum(clock.sleeps) == pytest.approx(1.0)


def test_ctrl_c_prints_summary() -> None:
    clock = FakeClock(start=100.0)
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 2:
            raise KeyboardInterrupt

    stats = watch(
        "http://x",
        interval=1.0,
        duration=None,
        timeout=1.0,
        fetch=lambda u, t: Answer(None, error="timed out"),
        clock=clock.now,
        sleep=sleep,
        out=lines.append,
    )
    assert stats.interrupted and stats.requests == 2 and stats.failures == 2
    assert lines[-2] == "--- 2 requests interrupted after 2.0s: 0 ok, 2 failed, 0 change(s)"
    assert lines[-1] == "  2  error: timed out"


def test_short_real_time_run() -> None:
    """The real clock ends the run and spaces the requests. How many fit depends on the machine's load (a slot
    missed while the CPU is busy is skipped, not made up), so only the schedule's bounds are asserted here; the
    exact counts are the fake-clock tests' (a lower bound of 3 failed 30 times in 40 with the cores busy)."""
    with serve(State()) as (url, _):
        begin = time.monotonic()
        stats = watch(url, interval=0.1, duration=0.3, timeout=1.0, out=lambda _: None)
        took = time.monotonic() - begin
    assert 0.3 <= took < 5.0  # ends on time, never hangs: the slack is for a loaded machine
    assert 1 <= stats.requests <= 4  # at most one per 0.1 s slot in 0.3 s, plus the first
    assert stats.failures == 0 and stats.answers == {"Hello world": stats.requests}


def test_labels_are_short_and_stable() -> None:
    assert Answer(200, "").label() == "(empty body)"
    assert len(Answer(200, "x" * 500).label()) == 80
    assert Answer(404, "nope").label() == "HTTP 404"
    assert http_probe.describe(ConnectionRefusedError()) == "connection refused"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_on_the_real_process_prints_the_summary(sig: signal.Signals) -> None:
    def default_sigint() -> None:  # a shell may start background jobs with SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    with serve(State()) as (url, _):
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.ops", "watch", url, "--interval", "0.05"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_sigint,
        )
        assert proc.stdout is not None
        assert "watching" in proc.stdout.readline()
        assert proc.stdout.readline().endswith("  Hello world\n")  # requests are flowing
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "requests interrupted after" in out and " 0 failed" in out


def test_watch_uses_the_stack_url(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_watch(url: str, **kwargs: Any) -> Any:
        seen.update(url=url, **kwargs)
        return type("Stats", (), {"failures": 0})()

    monkeypatch.setattr(stack, "read_outputs", lambda name: {"url": "http://foo.cloud.weave.works"})
    monkeypatch.setattr(watch_verb, "watch", fake_watch)
    assert cli.main(["watch", "foo", "--duration", "60"]) == 0
    assert seen["url"] == "http://foo.cloud.weave.works"
    assert (seen["interval"], seen["duration"], seen["timeout"]) == (0.5, 60.0, 2.0)
