"""`python -m infra.ops swap-node STACK NODE`: wire the real clients into the swap; signals end it as Ctrl-C does."""

import argparse

from infra.ops import live
from infra.ops.clients import stack
from infra.ops.interrupts import terminate_as_interrupt
from infra.ops.swap_node.steps import SwapDeps
from infra.ops.swap_node.swap import swap_node


def run(args: argparse.Namespace) -> int:
    out = stack.read_outputs(args.stack)
    live.check_credentials(out)
    deps = SwapDeps(
        kube=live.cluster(out),
        eks=live.aws_client("eks", out),
        autoscaling=live.aws_client("autoscaling", out),
        elb=live.aws_client("elb", out),
        clock=live.REAL_CLOCK,
        out=live.say,
    )
    # SIGTERM and SIGHUP run the same undo, size restore and lock release as Ctrl-C.
    with terminate_as_interrupt():
        swap_node(out, args.node, timeout=args.timeout, deps=deps, force=args.force, break_lock=args.break_lock)
    return 0
