"""`python -m infra.ops VERB ...`: argument parsing, wiring real clients, one-line errors."""

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra import contract
from infra.ops import outputs, stack
from infra.ops.errors import OpsError, one_line
from infra.ops.terminal import leave_lost_terminal as _leave_lost_terminal  # pulumi's runner uses it too
from infra.ops.waiting import Clock

if TYPE_CHECKING:
    from infra.ops.checks import CheckResult
    from infra.ops.db_login import LoginJobs
    from infra.ops.kube import Kube

# Verb modules are imported inside the commands: kubernetes, boto3 and pulumi take seconds
# to load, and `--help` should not wait for them.

REAL_CLOCK = Clock(time.monotonic, time.sleep)


def say(line: str) -> None:
    print(line, flush=True)


def make_kube(out: dict[str, Any]) -> "Kube":
    from infra.ops import kubeconfig
    from infra.ops.kube import Kube

    return Kube.from_kubeconfig(kubeconfig.as_dict(out))


def make_client(service: str, out: dict[str, Any]) -> Any:
    from infra.ops import aws

    return aws.client(service, outputs.text(out, "region"))


def check_credentials(out: dict[str, Any]) -> None:
    """The first AWS call of every verb that calls AWS: missing or expired credentials are one line naming the fix."""
    from infra.ops.aws import caller_identity

    caller_identity(make_client("sts", out))


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def not_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def stack_name(text: str) -> str:
    """`foo`, `org/foo` or `org/project/foo`, Pulumi's forms; a project other than this one is refused."""
    parts = text.split("/")
    if len(parts) > 3 or not all(part and part == part.strip() for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a stack name: use foo, org/foo or org/project/foo")
    if len(parts) == 3 and parts[1] != stack.project_name():
        raise argparse.ArgumentTypeError(
            f"{text!r} is a stack of project {parts[1]!r}; these verbs operate project {stack.project_name()!r}"
        )
    return text


def kubernetes_version(text: str) -> str:
    """`--to 1.NN`, refused before any call (upgrade_check is loaded only when the option is given)."""
    from infra.ops.upgrade_check import parse_version

    try:
        major, minor = parse_version(text)
    except OpsError as err:
        raise argparse.ArgumentTypeError(str(err)) from err
    return f"{major}.{minor}"


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    from infra.ops import kubeconfig

    path = Path(args.output or f"{contract.stack_short_name(args.stack)}.kubeconfig")
    kubeconfig.write_private(path, kubeconfig.as_text(stack.read_outputs(args.stack)), force=args.force)
    say(f"wrote {path} (mode 0600); use: KUBECONFIG={path} kubectl get nodes")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from infra.ops import db_login, http_probe, tls
    from infra.ops import verify as verify_ops
    from infra.ops.kubeconfig import ExecPluginError

    started = REAL_CLOCK.now()  # --wait bounds the whole verb, so it counts from here
    context = tls.client_context(args.ca_file)
    out = stack.read_outputs(args.stack)
    check_credentials(out)
    eks = make_client("eks", out)
    login_jobs = db_login.LoginJobs()
    try:
        kube = make_kube(out)
    except ExecPluginError as err:  # no token: one row says why, the app's own checks still run
        probes = verify_ops.build_probes(out, err, eks, http_probe.fetcher(context), context)
    else:
        probes = verify_ops.build_probes(
            out, kube, eks, http_probe.fetcher(context), context, login=lambda: database_login(out, kube, login_jobs)
        )
    with terminate_as_interrupt():
        try:
            results = verify_ops.run_checks(
                probes, wait=args.wait, interval=args.interval, clock=REAL_CLOCK, out=say, started=started
            )
        except KeyboardInterrupt:  # the checks run in worker threads: the login Job is deleted from here
            with interrupts_deferred():
                for line in login_jobs.interrupt():
                    say(line)
            raise
    say(verify_ops.report(results))
    failing = [r.name for r in results if not r.ok]
    if failing:
        raise OpsError(f"{len(failing)} check(s) failed: {', '.join(failing)}")
    return 0


LOGIN_TIMEOUT = 90.0  # the Job's pull, CSI mount and psql; Kubernetes itself stops it after 120 s


def database_login(out: dict[str, Any], kube: "Kube", started: "LoginJobs | None" = None) -> "CheckResult":
    """The `database login` row: the RDS CA bundle (fetched from AWS) as the Job's ConfigMap, then the Job."""
    import urllib3

    from infra.ops import db_login, rds_ca
    from infra.ops.kube import transport_problem

    pem, namespace = rds_ca.fetch_bundle(), outputs.text(out, "helloworldNamespace")
    try:
        rds_ca.ensure_configmap(kube.core, namespace, pem, kube.timeout)
    except urllib3.exceptions.HTTPError as err:  # the row says it in a few words, as the other Kubernetes rows do
        raise OpsError(f"Kubernetes API: {transport_problem(err, kube.timeout)}") from err
    jobs = db_login.batch_api(kube.core)
    return db_login.check_login(out, jobs, kube.core, timeout=LOGIN_TIMEOUT, clock=REAL_CLOCK, started=started)


def watch_url(target: str) -> str:
    if target.startswith(("http://", "https://")):
        return target
    return outputs.text(stack.read_outputs(target), "url")


# SIGTERM: `timeout`, a CI job cancelled. SIGHUP: the terminal or SSH session closed.
INTERRUPTS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: object) -> None:
    if signum == signal.SIGHUP:
        _leave_lost_terminal()
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
            _leave_lost_terminal()

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


def cmd_watch(args: argparse.Namespace) -> int:
    from infra.ops import http_probe, tls
    from infra.ops import watch as watch_ops

    fetch = http_probe.fetcher(tls.client_context(args.ca_file))

    # `timeout 600 python -m infra.ops watch ...` sends SIGTERM, a closed terminal SIGHUP: still print the summary.
    with terminate_as_interrupt():
        stats = watch_ops.watch(
            watch_url(args.target),
            interval=args.interval,
            duration=args.duration,
            timeout=args.timeout,
            fetch=fetch,
            out=say,
        )
    return 1 if stats.failures else 0


def cmd_swap_node(args: argparse.Namespace) -> int:
    from infra.ops import swap_node as swap_ops

    out = stack.read_outputs(args.stack)
    check_credentials(out)
    deps = swap_ops.SwapDeps(
        kube=make_kube(out),
        eks=make_client("eks", out),
        autoscaling=make_client("autoscaling", out),
        elb=make_client("elb", out),
        clock=REAL_CLOCK,
        out=say,
    )
    # SIGTERM and SIGHUP run the same undo, size restore and lock release as Ctrl-C.
    with terminate_as_interrupt():
        swap_ops.swap_node(
            out, args.node, timeout=args.timeout, deps=deps, force=args.force, break_lock=args.break_lock
        )
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from infra.ops import aws, preflight, state, sweep
    from infra.ops import destroy as destroy_ops
    from infra.ops import verify as verify_ops

    # Before destroying: the outputs and the state vanish after.
    out = stack.read_outputs(args.stack)
    facts = state.facts(stack.read_state(args.stack))
    destroy_ops.refuse_protected(args.stack, facts)
    destroy_ops.refuse_pending(args.stack, facts)
    region = env_region()
    target = destroy_ops.Target.locate(args.stack, stack.project_name(), out, facts, default_region=region)
    say(f"stack {args.stack}: cluster {target.cluster}, VPC {target.vpc_id or 'unknown'}, region {target.region}")
    located = {**out, "region": target.region}
    clients = destroy_ops.AwsClients(
        sweep=sweep.Clients(
            ec2=make_client("ec2", located), elb=make_client("elb", located), elbv2=make_client("elbv2", located)
        ),
        eks=make_client("eks", located),
        rds=make_client("rds", located),
        logs=make_client("logs", located),
        acm=make_client("acm", located),
        logs_last_try=aws.client("logs", target.region, aws.ONE_SHORT_TRY),
    )
    identity = preflight.check(
        make_client("sts", located), clients.sweep.ec2, stack=args.stack, vpc_id=target.vpc_id, region=target.region
    )
    say(f"AWS identity: {identity}")

    def destroyer(preview_only: bool) -> None:
        stack.destroy(args.stack, say, preview_only=preview_only)

    notices = destroy_ops.validation_record_rows(target, clients.acm)
    if args.dry_run:
        rows = destroy_ops.preview(target, destroyer, clients, notices=notices, clock=REAL_CLOCK, say=say)
        say(verify_ops.report(rows))
        return 0
    for notice in notices:  # before the confirmation: the operator may want to stop here
        say(f"{notice.status} {notice.name}: {notice.detail}")
    destroy_ops.require_confirmation(args.stack, yes=args.yes, interactive=sys.stdin.isatty(), ask=input)
    with terminate_as_interrupt():  # pulumi gets SIGTERM passed on; the steps after it then end as Ctrl-C does
        teardown = destroy_ops.destroy(target, destroyer, clients, notices=notices, clock=REAL_CLOCK, say=say)
    say(verify_ops.report(teardown.rows))
    if teardown.summary:
        print(f"error: {teardown.summary}", file=sys.stderr)
    return teardown.exit_code


def cmd_upgrade_check(args: argparse.Namespace) -> int:
    from infra.ops import kubeconfig
    from infra.ops import upgrade_check as upgrade_ops
    from infra.ops import verify as verify_ops
    from infra.ops.kube_pdbs import BudgetReader, KubeBudgets

    out = stack.read_outputs(args.stack)
    check_credentials(out)
    budgets: BudgetReader
    try:
        budgets = KubeBudgets.from_kubeconfig(kubeconfig.as_dict(out))
    except kubeconfig.ExecPluginError as err:  # the PodDisruptionBudgets row says why; the AWS rows still run
        budgets = upgrade_ops.UnreadableBudgets(err)
    deps = upgrade_ops.UpgradeCheckDeps(
        eks=make_client("eks", out),
        autoscaling=make_client("autoscaling", out),
        budgets=budgets,
        ec2=make_client("ec2", out),
        quotas=make_client("service-quotas", out),
    )
    results = upgrade_ops.run_upgrade_check(out, args.to, deps)
    say(verify_ops.report(results))
    failing = [r.name for r in results if not r.ok]
    if failing:
        raise OpsError(f"{len(failing)} check(s) failed: {', '.join(failing)}")
    return 0


def env_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def cmd_snapshot(args: argparse.Namespace) -> int:
    from infra.ops import db_snapshot
    from infra.ops.table import render

    out = dict(stack.read_outputs(args.stack))
    if not out.get("region"):  # a destroyed stack has no outputs; its snapshots are still there
        region = env_region()
        if not region:
            raise OpsError(f"stack {args.stack!r} has no outputs (destroyed?): set AWS_REGION to its region")
        out["region"] = region
    check_credentials(out)
    rds = make_client("rds", out)
    if args.list:  # a destroyed stack has no dbIdentifier output: the program's naming rule gives it
        instance = out.get("dbIdentifier") or contract.cluster_name(stack.project_name(), args.stack)
        found = db_snapshot.available_snapshots(rds, str(instance))
        rows = [(s.identifier, f"{s.created:%Y-%m-%d %H:%M}" if s.created else "") for s in found]
        say(render(("snapshot", "created (UTC)"), rows))
        return 0
    db_snapshot.take_snapshot(
        out,
        args.stack,
        rds,
        project=stack.project_name(),
        wait=args.wait,
        timeout=args.timeout,
        clock=REAL_CLOCK,
        say=say,
    )
    return 0


VERBS = {
    "kubeconfig": (
        "write the stack's kubeconfig (mode 0600)",
        "Write the kubeconfig stack output to a file only you can read (atomically). Its user\n"
        "runs `aws eks get-token`, so it holds no credential. An existing file with other\n"
        "contents, or a symlink, is replaced only with --force (a symlink's target never is).",
    ),
    "verify": (
        "check nodes, pods, workload, ELB, app and database",
        "First checks that the AWS credentials work (else one line: `aws sso login` or\n"
        "`aws configure`). Then checks the node group's Ready nodes against its desired size,\n"
        "kube-system pods, the helloworld workload, the Service's ELB, the https:// url's\n"
        "certificate (trusted, naming the host; WARN 30 days before expiry), GET url (the\n"
        "greeting) and GET url/dbz, all at once; each Kubernetes call gives up after 20 s. Prints a\n"
        "PASS/FAIL table; exits 0 only if every check passes. --wait re-runs the failing\n"
        "checks, e.g. while new nodes join after scaling, until that long after the start.\n"
        "Ctrl-C, SIGTERM or SIGHUP stop it at once; it deletes the database login Job first.",
    ),
    "watch": (
        "poll the app and report every change of answer",
        "GET the URL every --interval seconds; print each change of answer with a timestamp,\n"
        "and at the end (--duration or Ctrl-C) the counts per answer. Exits 1 if any request\n"
        "failed (connection error, TLS failure, non-2xx such as the 308 an http:// URL of a\n"
        "TLS stack answers, a body cut short, or no complete answer within --timeout): run it\n"
        "across an upgrade to prove zero downtime. https:// is verified (--ca-file: a private CA).",
    ),
    "swap-node": (
        "drain one node and replace its EC2 instance",
        "Replace one node of the managed node group: cordon it, exclude it from external load\n"
        "balancers, evict its pods (honouring PodDisruptionBudgets; DaemonSet and mirror pods\n"
        "stay), wait for the ELB to finish draining it, terminate the instance in its ASG\n"
        "keeping the desired capacity, then wait for a Ready replacement and the workload.\n"
        "With no other Ready node in the group, it first grows the group by one and restores\n"
        "its sizes afterwards. Refuses pods no controller recreates or with emptyDir data\n"
        "unless --force. One run per cluster: a second one names the holder of the lock (a\n"
        "Lease kube-system/infra-swap-node). On a failure, Ctrl-C, SIGTERM or SIGHUP before the\n"
        "terminate it undoes what it changed on the node (a cordon or label there before stays),\n"
        "restores the sizes and releases the lock; it prints the commands when it cannot.",
    ),
    "upgrade-check": (
        "check the cluster is ready for the next Kubernetes minor",
        "PASS/WARN/FAIL table before a cluster.version bump: the version step, its support dates,\n"
        "EKS upgrade insights, node group versions, add-on versions for the target,\n"
        "PodDisruptionBudgets that would stall the node roll, surge room. Exits 1 on any FAIL.",
    ),
    "snapshot": (
        "take a manual snapshot of the stack's database",
        "Snapshot the stack's RDS instance as <instance>-<UTC timestamp>, tagged with the stack;\n"
        "--wait follows it until available. Prints its id and the restoreFrom line that starts\n"
        "a new stack from it. --list shows the available snapshots (the final one included).",
    ),
    "destroy": (
        "pulumi destroy, sweep leftovers, report",
        "Refuse a stack with protected resources, and check the AWS credentials, before\n"
        "anything is deleted. Run pulumi destroy (Ctrl-C is passed to pulumi, which finishes\n"
        "cancelling), then delete what Kubernetes' cloud provider left in the stack's VPC\n"
        f"tagged {contract.kubernetes_cluster_tag('<cluster>')}: owned (ELBs, target groups, security groups,\n"
        "unattached ENIs); after a DependencyViolation, sweep and retry once. Then delete the\n"
        "log groups EKS and RDS re-create on their own. Reports leftovers, the final DB\n"
        "snapshot, that the cluster (and so every pod) is gone, and the log groups.",
    ),
}


STACK_HELP = "stack name: foo, org/foo or org/project/foo"
CA_FILE_HELP = "trust only these CA certificates for https:// (a private CA; default: the system trust store)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m infra.ops", description="Operate the infra stacks (one per environment)."
    )
    verbs = top.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str) -> argparse.ArgumentParser:
        summary, description = VERBS[name]
        return verbs.add_parser(
            name, help=summary, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
        )

    p = verb("kubeconfig")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument("-o", "--output", help="file to write (default: STACK.kubeconfig)")
    p.add_argument(
        "--force", action="store_true", help="replace a file with other contents, or a symlink (never its target)"
    )
    p.set_defaults(run=cmd_kubeconfig)

    p = verb("verify")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument(
        "--wait",
        type=not_negative,
        default=0.0,
        metavar="SECONDS",
        help="re-run failing checks until SECONDS after the start (default 0)",
    )
    p.add_argument("--interval", type=positive, default=10.0, help="seconds between re-runs (default 10)")
    p.add_argument("--ca-file", metavar="PEM", help=CA_FILE_HELP)
    p.set_defaults(run=cmd_verify)

    p = verb("watch")
    p.add_argument("target", help="stack name (uses its url output) or an http(s) URL")
    p.add_argument("--interval", type=positive, default=0.5, help="seconds between requests (default 0.5)")
    p.add_argument("--duration", type=positive, help="stop after this many seconds (default: at Ctrl-C)")
    p.add_argument("--timeout", type=positive, default=2.0, help="seconds per request (default 2)")
    p.add_argument("--ca-file", metavar="PEM", help=CA_FILE_HELP)
    p.set_defaults(run=cmd_watch)

    p = verb("swap-node")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument("node", help="node name, or its EC2 instance id")
    p.add_argument("--timeout", type=positive, default=900.0, help="seconds allowed for each wait (default 900)")
    p.add_argument(
        "--force", action="store_true", help="also evict pods no controller recreates, and pods with emptyDir data"
    )
    p.add_argument(
        "--break-lock", action="store_true", help="clear the lock of a swap-node that is gone (killed, machine lost)"
    )
    p.set_defaults(run=cmd_swap_node)

    p = verb("upgrade-check")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument(
        "--to", type=kubernetes_version, metavar="1.NN", help="target Kubernetes version (default: the next minor)"
    )
    p.set_defaults(run=cmd_upgrade_check)

    p = verb("snapshot")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument("--wait", action="store_true", help="wait until available, printing progress")
    p.add_argument("--timeout", type=positive, default=3600.0, help="seconds --wait allows (default 3600)")
    p.add_argument("--list", action="store_true", help="list the stack's available snapshots, newest first")
    p.set_defaults(run=cmd_snapshot)

    p = verb("destroy")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument("--yes", action="store_true", help="do not ask to type the stack name")
    p.add_argument("--dry-run", action="store_true", help="preview and list leftovers; delete nothing")
    p.set_defaults(run=cmd_destroy)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except OpsError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 130 if isinstance(err, stack.StackError) and err.interrupted else 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # AWS/Kubernetes/network errors: one line, unless debugging
        if os.environ.get("INFRA_OPS_DEBUG"):
            raise
        print(f"error: {one_line(err)} (INFRA_OPS_DEBUG=1 shows a traceback)", file=sys.stderr)
        return 1
    return code
