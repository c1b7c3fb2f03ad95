"""Signals during a verb: SIGTERM and SIGHUP handled as Ctrl-C so the verb's own cleanup runs, cleanup that no
signal cuts short, and what to do when the terminal hangs up."""

import contextlib
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

# SIGTERM: `timeout`, a CI job cancelled. SIGHUP: the terminal or SSH session closed.
INTERRUPTS = (signal.SIGTERM, signal.SIGHUP)
# How often a waiting main thread wakes to run a signal handler it has not run yet (see wait_event).
HANDLER_CHECK_SECONDS = 0.1


def wait_event(event: threading.Event) -> None:
    """Wait in the main thread for `event`, running signal handlers within HANDLER_CHECK_SECONDS of the signal.

    Python runs a handler in the main thread when that thread next runs Python code, which an untimed wait does not
    do until it ends: when the kernel hands the signal (kill, `timeout`, a closed terminal) to another thread, or
    when it arrives just before the main thread blocks. Seen: verify's SIGTERM waited out a 20 s request."""
    while not event.wait(HANDLER_CHECK_SECONDS):
        pass


def join_thread(thread: threading.Thread) -> None:
    """thread.join(), with signal handlers run as in wait_event."""
    while thread.is_alive():
        thread.join(HANDLER_CHECK_SECONDS)


def sleep(seconds: float) -> None:
    """time.sleep(), with signal handlers run as in wait_event."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, HANDLER_CHECK_SECONDS))


def leave_lost_terminal() -> None:
    """Writing to a hung-up terminal fails (EIO), which would stop the cleanup at its first line: what is still
    printed goes to /dev/null instead. Output to a file or pipe (a log, `tee`) is kept."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):  # stdout, stderr
            # A terminal is a character device (os.isatty is False once it hung up); files and pipes are not.
            with contextlib.suppress(OSError):
                if stat.S_ISCHR(os.fstat(fd).st_mode):
                    os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _interrupt(signum: int, frame: object) -> None:
    if signum == signal.SIGHUP:
        leave_lost_terminal()
    raise KeyboardInterrupt


def terminate_as_interrupt() -> contextlib.AbstractContextManager[None]:
    """For the block's duration SIGTERM and SIGHUP are Ctrl-C, so the verb's own cleanup runs."""
    return _handling(INTERRUPTS, _interrupt)


def interrupts_deferred() -> contextlib.AbstractContextManager[None]:
    """For the block's duration Ctrl-C, SIGTERM and SIGHUP do not interrupt: cleanup that must not be cut short
    (each of its calls has a short timeout of its own). The verb is ending as interrupted already; a hangup still
    leaves the lost terminal."""

    def hold(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            leave_lost_terminal()

    return _handling((signal.SIGINT, *INTERRUPTS), hold)


@contextlib.contextmanager
def _handling(signals: tuple[signal.Signals, ...], handler: Callable[[int, Any], None]) -> Iterator[None]:
    """`handler` for `signals` during the block; the old handlers come back. A signal already ignored stays so (under
    `nohup` a hangup must not stop, and undo, the run). Only the main thread can set handlers: a verb run from
    another thread (a caller embedding the CLI) keeps the process's handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ignored = signal.SIG_IGN
    previous = {sig: signal.signal(sig, handler) for sig in signals if signal.getsignal(sig) is not ignored}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
