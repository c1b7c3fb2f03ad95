"""SIGTERM and SIGHUP are Ctrl-C for watch and swap-node (interrupts.terminate_as_interrupt): same cleanup, same
summary.

Signals are sent by the process to itself (os.kill), so each arrives at a known point: no sleeps, no races.
swap-node's undo under each signal is in test_ops_swap_node.py.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakes import taken_by_another_thread

from infra.ops import cli, interrupts, live
from infra.ops.clients import http_probe
from infra.ops.clients.http_probe import Answer

ROOT = Path(__file__).resolve().parents[2]


def test_watch_prints_its_summary_on_sighup(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    requests: list[str] = []

    def fetch(url: str, timeout: float) -> Answer:
        requests.append(url)
        if len(requests) == 3:  # the SSH session drops during the third request
            os.kill(os.getpid(), signal.SIGHUP)
        return Answer(200, "Hello world")

    monkeypatch.setattr(http_probe, "fetcher", lambda context: fetch)
    outer: list[int] = []
    saved = signal.signal(signal.SIGHUP, lambda signum, frame: outer.append(signum))
    try:
        assert cli.main(["watch", "http://127.0.0.1:9/", "--interval", "0.01", "--duration", "5"]) == 0
        handler_after = signal.getsignal(signal.SIGHUP)
    finally:
        signal.signal(signal.SIGHUP, saved)

    out = capsys.readouterr().out
    assert "--- 2 requests interrupted after" in out and "2 ok, 0 failed, 0 change(s)" in out  # the 3rd never answered
    assert outer == [] and handler_after is not saved and callable(handler_after)  # the caller's handler is back


def test_an_ignored_hangup_stays_ignored_under_nohup() -> None:
    # `nohup python -m infra.ops swap-node ...`: the operator asked to survive the hangup, not to be undone by it.
    saved_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    saved_term = signal.getsignal(signal.SIGTERM)
    try:
        with interrupts.terminate_as_interrupt():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)  # nothing happens
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is saved_term
    finally:
        signal.signal(signal.SIGHUP, saved_hup)


CLEANUP_AFTER_HANGUP = """
import os, pty, signal, sys
from infra.ops import interrupts

terminal, tty = pty.openpty()
os.dup2(tty, 1)
os.dup2(tty, 2)
os.close(terminal)  # the SSH session is gone: writing to the terminal now fails with EIO
with interrupts.terminate_as_interrupt():
    try:
        os.kill(os.getpid(), signal.SIGHUP)
    except KeyboardInterrupt:
        for _ in range(50):  # the undo's lines, then its last API calls
            print("stopped: uncordoned it and removed its label ...", flush=True)
        with open(sys.argv[1], "w") as done:
            done.write("cleanup finished")
"""


def test_cleanup_after_a_hangup_is_not_stopped_by_the_lost_terminal(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(
        [sys.executable, "-c", CLEANUP_AFTER_HANGUP, str(marker)], cwd=ROOT, env=env, capture_output=True, timeout=30
    )
    assert finished.returncode == 0, finished.stderr
    assert marker.read_text() == "cleanup finished"


WAITS = [
    pytest.param(lambda thread, done: interrupts.wait_event(done), id="wait_event"),
    pytest.param(lambda thread, done: interrupts.join_thread(thread), id="join_thread"),
    pytest.param(lambda thread, done: live.REAL_CLOCK.sleep(10), id="real-clock-sleep"),  # the verbs' polls
]


@pytest.mark.parametrize("wait", WAITS)
def test_a_signal_another_thread_receives_interrupts_the_main_threads_wait_at_once(wait: Any) -> None:
    """What verify, the pulumi runner and the verbs' polls wait on in the main thread: a SIGTERM the kernel hands to
    another thread still interrupts the wait within a fraction of a second, not when it ends (10 s here)."""
    go, done, release = threading.Event(), threading.Event(), threading.Event()

    def worker() -> None:  # a check, or the reader of pulumi's output
        go.wait()
        time.sleep(0.2)  # the main thread is in its wait by now
        os.kill(os.getpid(), signal.SIGTERM)
        release.wait(10)
        done.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    with interrupts.terminate_as_interrupt(), taken_by_another_thread(signal.SIGTERM):
        began = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            go.set()
            wait(thread, done)
        waited = time.monotonic() - began
    release.set()
    assert waited < 2.0
