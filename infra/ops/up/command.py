"""`python -m infra.ops up STACK [--watch]`: preview, confirm, check that a second preview is still what was
confirmed (confirmed.py), update; with --yes a preview without the question, then the update (the Automation API's
up never previews). A preview that changes nothing ends the verb. With --watch the probe runs throughout and the
summary attributes each failure streak to the resources being changed then."""

import argparse
import os
import sys
from collections.abc import Callable

from infra.ops import live, probe
from infra.ops.clients import http_probe, stack, tls
from infra.ops.errors import OpsError
from infra.ops.interrupts import terminate_as_interrupt
from infra.ops.up.confirmed import Confirmed, StepRecorder, changes_something, fingerprint
from infra.ops.up.progress import ResourcesInProgress


def run(args: argparse.Namespace) -> int:
    probe.refuse_budget_without_watch(args.error_budget, args.watch)
    url = _url(args.stack) if args.watch else None
    with terminate_as_interrupt():  # pulumi gets SIGTERM and SIGHUP passed on as a cancel, like Ctrl-C
        if _skip_confirmation(args.yes):
            if not preview_unasked(args.stack):
                return 0
        else:
            confirmed = confirm(args.stack, interactive=sys.stdin.isatty(), ask=input)
            if confirmed is None:
                return 0
            refuse_unless_still_confirmed(args.stack, confirmed)
        if url is None:
            stack.update(args.stack, live.say)
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
        stack.update(stack_name, live.say, progress.on_event)
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


NOTHING_TO_DO = "no changes: nothing to do"


def preview_unasked(stack_name: str) -> bool:
    """--yes: the preview `pulumi up --yes` runs first, so that a policy violation or an error a preview finds stops
    the verb before anything changes; whether the update has anything to do."""
    summary = stack.preview(stack_name, live.say, (recorder := StepRecorder()).on_event)
    if changes_something(summary, recorder):
        return True
    live.say(NOTHING_TO_DO)
    return False


def confirm(stack_name: str, *, interactive: bool, ask: Callable[[str], str]) -> Confirmed | None:
    """The preview and the question `pulumi up` asks (the Automation API's up asks nothing); what was confirmed, or
    None when the preview changes nothing (no question: there is nothing to update, nor to watch)."""
    if not interactive:
        raise OpsError("refusing to update without --yes: no terminal to confirm on; nothing changed")
    inputs = fingerprint(stack_name, stack.REPO_ROOT)
    summary = stack.preview(stack_name, live.say, (recorder := StepRecorder()).on_event)
    _refuse_unread(stack_name, recorder, summary, "nothing changed")
    if not changes_something(summary, recorder):
        live.say(NOTHING_TO_DO)
        return None
    try:
        answer = ask(f"Do you want to perform this update of stack {stack_name!r}? Type yes to confirm: ")
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        raise OpsError("not confirmed; nothing changed")
    return Confirmed(frozenset(recorder.steps), inputs)


def refuse_unless_still_confirmed(stack_name: str, confirmed: Confirmed) -> None:
    """The config, the code, the state or the account may have changed while the question waited: preview again,
    and update only if it computes the confirmed steps, with the same values, from the same inputs."""
    live.say(f"previewing stack {stack_name} again: the update runs only if it still makes the confirmed changes")
    summary = stack.preview(stack_name, live.say, (recorder := StepRecorder()).on_event)
    again = f"nothing changed; run make up STACK={stack_name} again to preview and confirm what it would do now"
    _refuse_unread(stack_name, recorder, summary, again)
    departures = confirmed.departures(recorder.steps)
    if departures is not None:
        raise OpsError(f"stack {stack_name!r} would not make the changes you confirmed ({departures}): {again}")
    changed = confirmed.changed_inputs(fingerprint(stack_name, stack.REPO_ROOT))
    if changed:
        raise OpsError(f"{', '.join(changed)} changed since the preview you confirmed: {again}")


def _refuse_unread(stack_name: str, recorder: StepRecorder, summary: dict[str, int], then: str) -> None:
    """Steps the engine counted but whose events did not arrive could not be compared: refuse rather than miss them."""
    unread = recorder.unread(summary)
    if unread is not None:
        raise OpsError(
            f"the preview of stack {stack_name!r} counts steps whose events did not arrive ({unread}), so they "
            f"cannot be checked: {then}"
        )
