"""`python -m infra.ops swap-node STACK NODE`: wire the real clients into the swap; signals end it as Ctrl-C does.
With --watch the probe runs from before the first step to the end, and its summary is printed however the run ends.
"""

import argparse

from infra.ops import live, probe
from infra.ops.clients import http_probe, stack, tls
from infra.ops.interrupts import terminate_as_interrupt
from infra.ops.swap_node.steps import SwapDeps
from infra.ops.swap_node.swap import swap_node

BEFORE_THE_STEPS = "checks before 1/6 (nothing changed yet)"


def run(args: argparse.Namespace) -> int:
    probe.refuse_budget_without_watch(args.error_budget, args.watch)
    out = stack.read_outputs(args.stack)
    live.check_credentials(out)
    watched = _watched(out, args) if args.watch else None
    deps = SwapDeps(
        kube=live.cluster(out),
        eks=live.aws_client("eks", out),
        autoscaling=live.aws_client("autoscaling", out),
        elb=live.aws_client("elb", out),
        clock=live.REAL_CLOCK,
        out=live.say,
        watched=watched,
    )
    # SIGTERM and SIGHUP run the same undo, size restore and lock release as Ctrl-C.
    with terminate_as_interrupt():
        if watched is None:
            swap_node(out, args.node, timeout=args.timeout, deps=deps, force=args.force, break_lock=args.break_lock)
            return 0
        watched.probe.start()
        try:
            swap_node(out, args.node, timeout=args.timeout, deps=deps, force=args.force, break_lock=args.break_lock)
        finally:
            summary = watched.probe.stop()
            for line in summary.lines():
                live.say(line)
    probe.check_budget(
        summary.failures, watched.budget, stopping="seen after the last destructive step; the node was replaced"
    )
    return 0


def _watched(out: dict[str, object], args: argparse.Namespace) -> probe.Watched | None:
    url = probe.url_to_watch(out)
    if url is None:
        live.say(f"stack {args.stack} has no url output: swapping without the probe")
        return None
    activity = probe.Activity(BEFORE_THE_STEPS)
    fetch = http_probe.fetcher(tls.client_context(args.ca_file))
    budget = args.error_budget or 0
    live.say(f"probing {url} every {args.probe_interval:g}s during the swap (error budget {budget})")
    return probe.Watched(probe.Probe(url, fetch=fetch, doing=activity, interval=args.probe_interval), activity, budget)
