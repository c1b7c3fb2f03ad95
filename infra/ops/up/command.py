"""`python -m infra.ops up STACK [--watch]`: preview, confirm, update; with --watch the probe runs throughout and
the summary attributes each failure streak to the resources being changed then."""

import argparse
import os
import sys
from collections.abc import Callable

from infra.ops import live, probe
from infra.ops.clients import http_probe, stack, tls
from infra.ops.errors import OpsError
from infra.ops.interrupts import terminate_as_interrupt
from infra.ops.up import update
from infra.ops.up.progress import ResourcesInProgress


def run(args: argparse.Namespace) -> int:
    if args.error_budget is not None and not args.watch:
        raise OpsError("--error-budget needs --watch: without the probe no request is counted")
    url = _url(args.stack) if args.watch else None
    with terminate_as_interrupt():  # pulumi gets SIGTERM and SIGHUP passed on as a cancel, like Ctrl-C
        if not _skip_confirmation(args.yes):
            confirm(args.stack, interactive=sys.stdin.isatty(), ask=input)
        if url is None:
            update.update(args.stack, live.say)
            return 0
        fetch = http_probe.fetcher(tls.client_context(args.ca_file))
        watcher = probe.Probe(
            url, fetch=fetch, doing=(progress := ResourcesInProgress()).doing, interval=args.probe_interval
        )
        return watched_update(args.stack, watcher, progress, budget=args.error_budget or 0)


def watched_update(stack_name: str, watcher: probe.Probe, progress: ResourcesInProgress, *, budget: int) -> int:
    """The update with the probe beside it; the summary is printed whether the update succeeds or not."""
    live.say(f"probing {watcher.url} every {watcher.interval:g}s during the update (error budget {budget})")
    watcher.start()
    try:
        update.update(stack_name, live.say, progress.on_event)
    finally:
        summary = watcher.stop()
        for line in summary.lines():
            live.say(line)
    probe.check_budget(summary.failures, budget)
    return 0


def _url(stack_name: str) -> str | None:
    url = probe.url_to_watch(stack.read_outputs(stack_name))
    if url is None:
        live.say(f"stack {stack_name} has no url output yet (its first deploy): updating without the probe")
    return url


def _skip_confirmation(yes: bool) -> bool:
    """--yes, or the pulumi CLI's own PULUMI_SKIP_CONFIRMATIONS (CI sets it for `pulumi up`)."""
    return yes or os.environ.get("PULUMI_SKIP_CONFIRMATIONS", "").lower() in ("1", "true")


def confirm(stack_name: str, *, interactive: bool, ask: Callable[[str], str]) -> None:
    """The preview and the question `pulumi up` asks (the Automation API's up asks nothing)."""
    if not interactive:
        raise OpsError("refusing to update without --yes: no terminal to confirm on; nothing changed")
    update.preview(stack_name, live.say)
    try:
        answer = ask(f"Do you want to perform this update of stack {stack_name!r}? Type yes to confirm: ")
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        raise OpsError("not confirmed; nothing changed")
