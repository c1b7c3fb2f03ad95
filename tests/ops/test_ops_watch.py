"""watch: real local HTTP servers (127.0.0.1 only), an injected clock for interval/duration."""

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra.ops import cli, http_probe
from infra.ops.http_probe import Answer
from infra.ops.watch import watch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment would send "local" requests elsewhere.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class State:
    def __init__(self, body: str = "Hello world\n", status: int = 200, delay: float = 0.0) -> None:
        self.body, self.status, self.delay = body, status, delay


@contextmanager
def serve(state: State) -> Iterator[tuple[str, ThreadingHTTPServer]]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(state.delay)
            data = state.body.encode()
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", server
    finally:
        server.shutdown()
        server.server_close()


class FakeClock:
    """Time only moves when watch sleeps (or a fake request takes time)."""

    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def wall() -> datetime:
    return datetime(2030, 1, 1, 12, 0, 0)


def test_upgrade_transition_is_reported_once_with_no_failures() -> None:
    state = State()
    clock = FakeClock()
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


def test_stopped_server_counts_failures_and_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(State()) as (url, server):

        def stop() -> None:
            server.shutdown()
            server.server_close()  # close the listening socket: later requests are refused

        stopper = threading.Timer(0.25, stop)
        stopper.start()
        code = cli.main(["watch", url, "--interval", "0.1", "--duration", "0.8", "--timeout", "0.5"])
        stopper.join()
    out = capsys.readouterr().out
    assert code == 1
    assert "Hello world" in out
    assert "error: connection refused" in out
    summary = next(ln for ln in out.splitlines() if ln.startswith("---"))
    assert " 0 failed" not in summary


def test_non_2xx_and_timeouts_are_failures() -> None:
    with serve(State("down\n", status=503)) as (url, _):
        assert http_probe.get(url, 2.0) == Answer(503, "down\n")
    with serve(State(delay=0.4)) as (url, _):
        answer = http_probe.get(url, 0.1)
    assert answer.label() == "error: timed out"
    assert not answer.ok


def test_slow_requests_skip_missed_slots_and_duration_is_respected() -> None:
    clock = FakeClock()
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
    clock = FakeClock()
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
    clock = FakeClock()
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
    with serve(State()) as (url, _):
        begin = time.monotonic()
        stats = watch(url, interval=0.1, duration=0.5, timeout=1.0, out=lambda _: None)
        took = time.monotonic() - begin
    assert 0.5 <= took < 1.5
    assert 3 <= stats.requests <= 6
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
