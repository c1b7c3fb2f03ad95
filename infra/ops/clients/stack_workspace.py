"""stack.py's Automation API workspace: it never selects a stack, and it passes Ctrl-C on to the pulumi CLI.

Imported only by infra.ops.clients.stack (lazily: the Automation API takes a while to load and `--help` needs none
of it).
"""

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from typing import IO

from pulumi import automation as auto
from pulumi.automation.errors import create_command_error

from infra.ops.interrupts import join_thread, leave_lost_terminal


class CancelledByOperatorError(Exception):
    """The operator pressed Ctrl-C; pulumi was told and has exited. Carries what it printed."""

    def __init__(self, result: auto.CommandResult) -> None:
        super().__init__(f"interrupted; pulumi exited with code {result.code}")
        self.result = result

    @property
    def completed(self) -> bool:
        """pulumi finished its command anyway (the interrupt came too late to cancel it): its work is done."""
        return self.result.code == 0


class ForwardingCommand(auto.PulumiCommand):
    """Runs the CLI like the Automation API does, except on SIGINT.

    The Automation API's own runner lets Ctrl-C raise in Python, which closes pulumi's pipes while the engine is
    still cancelling: pulumi dies on SIGPIPE before it writes its checkpoint (pending operations, a held lock).
    Here pulumi runs in its own process group, so only this process receives the terminal's Ctrl-C, and each one
    is passed on: the first asks pulumi to cancel cleanly, a second one makes it stop at once (pulumi's own rule).
    Its output keeps being read until it exits.
    """

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: auto.OnOutput | None = None,
        on_error: auto.OnOutput | None = None,
    ) -> auto.CommandResult:
        argv = [self.command, *([] if "--non-interactive" in args else ["--non-interactive"]), *args]
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        chunks: dict[str, list[str]] = {"out": [], "err": []}
        interrupts: list[int] = []
        started: list[subprocess.Popen[str]] = []

        def forward(signum: int, frame: object) -> None:
            if signum == signal.SIGHUP:  # what pulumi and the caller still print must not fail on the lost terminal
                leave_lost_terminal()
            interrupts.append(signum)
            if started:
                started[0].send_signal(signal.SIGINT)

        # Signal handlers can only be set from the main thread; elsewhere the default behaviour stays. A CI cancel,
        # `timeout` or a closed terminal (SIGTERM, SIGHUP) would otherwise kill only this process, and pulumi would
        # die on its next write without saving its checkpoint: pass them on as a cancel too. Set before pulumi
        # starts: an interrupt that arrives while it starts (its first line may already be on the screen) is
        # passed on once it runs, never handled by Python's default (a traceback, or death without a cancel).
        in_main = threading.current_thread() is threading.main_thread()
        previous = {sig: signal.signal(sig, forward) for sig in FORWARDED} if in_main else {}
        try:
            with subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                encoding="utf-8",
                errors="replace",  # one bad byte must not stop the reader (pulumi would then block on a full pipe)
                process_group=0,
            ) as process:
                started.append(process)
                if interrupts:  # arrived between the handler and the process
                    process.send_signal(signal.SIGINT)
                # One line at a time: both readers call back into the same printer, and a TextIOWrapper written
                # from two threads at once can lose lines (seen under load: a cancel's progress lines went missing).
                one_at_a_time = threading.Lock()
                readers = [
                    threading.Thread(
                        target=_consume, args=(process.stdout, on_output, chunks["out"], one_at_a_time), daemon=True
                    ),
                    threading.Thread(
                        target=_consume, args=(process.stderr, on_error, chunks["err"], one_at_a_time), daemon=True
                    ),
                ]
                for reader in readers:
                    reader.start()
                for reader in readers:
                    join_thread(reader)  # a signal that another thread received is passed on at once, too
                process.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        result = auto.CommandResult(
            stdout="\n".join(chunks["out"]), stderr="\n".join(chunks["err"]), code=process.returncode
        )
        if interrupts:
            raise CancelledByOperatorError(result)
        if result.code != 0:
            raise create_command_error(result)
        return result


def _consume(
    stream: IO[str] | None, callback: auto.OnOutput | None, chunks: list[str], one_at_a_time: threading.Lock
) -> None:
    assert stream is not None
    for line in iter(stream.readline, ""):
        stripped = line.rstrip()
        if callback:
            # A line that cannot be shown (the terminal hung up) must not stop the reading: pulumi would block on a
            # full pipe before writing its checkpoint.
            with one_at_a_time, contextlib.suppress(OSError):
                callback(stripped)
        chunks.append(stripped)
    stream.close()


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Workspace(auto.LocalWorkspace):
    """A LocalWorkspace whose stacks are named on every command (`--stack`) and never selected.

    `auto.select_stack` runs `pulumi stack select`, which changes the stack a later bare `pulumi up` targets.
    A missing stack still fails on the first command, with the CLI's own "no stack named ... found".
    """

    def select_stack(self, stack_name: str) -> None:
        return None


def open_stack(name: str, work_dir: str) -> auto.Stack:
    workspace = Workspace(work_dir=work_dir, pulumi_command=ForwardingCommand())
    return auto.Stack.select(name, workspace)
