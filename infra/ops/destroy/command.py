"""`python -m infra.ops destroy STACK`: read the stack before it goes, refuse what must not be destroyed, then
destroy (or preview) and report."""

import argparse
import sys

from infra.ops import live, report
from infra.ops.clients import aws, stack, state
from infra.ops.destroy import precheck, sweep, teardown
from infra.ops.destroy.target import AwsClients, Target
from infra.ops.destroy.validation_records import validation_record_rows
from infra.ops.interrupts import terminate_as_interrupt


def run(args: argparse.Namespace) -> int:
    # Before destroying: the outputs and the state vanish after.
    out = stack.read_outputs(args.stack)
    facts = state.facts(stack.read_state(args.stack))
    precheck.refuse_protected(args.stack, facts)
    precheck.refuse_pending(args.stack, facts)
    target = Target.locate(args.stack, stack.project_name(), out, facts, default_region=live.env_region())
    live.say(f"stack {args.stack}: cluster {target.cluster}, VPC {target.vpc_id or 'unknown'}, region {target.region}")
    located = {**out, "region": target.region}
    clients = AwsClients(
        sweep=sweep.Clients(
            ec2=live.aws_client("ec2", located),
            elb=live.aws_client("elb", located),
            elbv2=live.aws_client("elbv2", located),
        ),
        eks=live.aws_client("eks", located),
        rds=live.aws_client("rds", located),
        logs=live.aws_client("logs", located),
        acm=live.aws_client("acm", located),
        logs_last_try=aws.client("logs", target.region, aws.ONE_SHORT_TRY),
    )
    identity = precheck.check_access(
        live.aws_client("sts", located), clients.sweep.ec2, stack=args.stack, vpc_id=target.vpc_id, region=target.region
    )
    live.say(f"AWS identity: {identity}")

    def destroyer(preview_only: bool) -> None:
        stack.destroy(args.stack, live.say, preview_only=preview_only)

    notices = validation_record_rows(target, clients.acm)
    if args.dry_run:
        rows = teardown.preview(target, destroyer, clients, notices=notices, clock=live.REAL_CLOCK, say=live.say)
        return report.finish(rows, live.say, error=None, code=0)
    for notice in notices:  # before the confirmation: the operator may want to stop here
        live.say(f"{notice.status} {notice.name}: {notice.detail}")
    precheck.require_confirmation(args.stack, yes=args.yes, interactive=sys.stdin.isatty(), ask=input)
    with terminate_as_interrupt():  # pulumi gets SIGTERM passed on; the steps after it then end as Ctrl-C does
        done = teardown.destroy(target, destroyer, clients, notices=notices, clock=live.REAL_CLOCK, say=live.say)
    return report.finish(done.rows, live.say, error=done.summary, code=done.exit_code)
