"""`python -m infra.ops VERB ...`: argument parsing, then the verb's `run(args)`; every error is one line.

Each verb's module is imported only when it runs: kubernetes, boto3 and pulumi take seconds to load, and `--help`
should not wait for them.
"""

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from infra import contract
from infra.ops.clients import stack
from infra.ops.errors import OpsError, one_line
from infra.ops.limits import (
    KUBE_TIMEOUT,
    PROBE_INTERVAL,
    PROBE_TIMEOUT,
    RENEWAL_WARNING,
    SWAP_LOCK_NAME,
    SWAP_LOCK_NAMESPACE,
)


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


def error_budget(text: str) -> int:
    """--error-budget N: how many failed requests the probe may see (0: none)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return int(text)


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
    """`--to 1.NN`, refused before any call."""
    from infra.ops.upgrade_check.check import parse_version  # only for --to: it loads boto3, which --help need not

    try:
        major, minor = parse_version(text)
    except OpsError as err:
        raise argparse.ArgumentTypeError(str(err)) from err
    return f"{major}.{minor}"


VERBS = {
    "up": (
        "pulumi up with the policy pack; --watch measures downtime",
        "Preview the update with the policy pack, ask to confirm (--yes, or PULUMI_SKIP_CONFIRMATIONS=true,\n"
        "skips the question and the second preview), then preview again and run pulumi up through the\n"
        "Automation API only if that preview makes the confirmed changes from unchanged config and code\n"
        "(else exit 1, nothing changed). A first preview that changes nothing ends it: no changes:\n"
        "nothing to do (exit 0). With --watch, GET the stack's\n"
        f"url output every {PROBE_INTERVAL:g} s (--probe-interval) throughout (a stack without one yet is updated\n"
        "without) and end with one line: requests, failures, longest failure streak, p50/p99\n"
        "latency, then each failure streak with the resources being changed when it happened\n"
        "(from the engine's events).\n"
        "Exits 1 if the update fails, or if more requests failed than --error-budget (default 0).\n"
        "Ctrl-C, SIGTERM or SIGHUP are passed to pulumi, which finishes cancelling.",
    ),
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
        f"certificate (trusted, naming the host; WARN {RENEWAL_WARNING.days} days before expiry), GET url (the\n"
        f"greeting) and GET url/dbz, all at once; each Kubernetes call gives up after {KUBE_TIMEOUT[1]:g} s. Prints a\n"
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
        f"Lease {SWAP_LOCK_NAMESPACE}/{SWAP_LOCK_NAME}). On a failure, Ctrl-C, SIGTERM or SIGHUP before the\n"
        "terminate it undoes what it changed on the node (a cordon or label there before stays),\n"
        "restores the sizes and releases the lock; it prints the commands when it cannot.\n"
        f"With --watch the stack's url is probed every {PROBE_INTERVAL:g} s (--probe-interval) throughout: once more\n"
        "requests failed than --error-budget (default 0), it stops before the next destructive step\n"
        "(cordon, evict, terminate) and undoes as above; the summary names each failure's step.",
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
WATCH_HELP = "probe the stack's url throughout (every --probe-interval seconds) and print the summary"
BUDGET_HELP = "failed requests allowed under --watch (default 0: any failed request fails the run)"


def watch_options(p: argparse.ArgumentParser) -> None:
    """--watch, --error-budget and the probe's --ca-file, for verbs that make a disruptive change."""
    p.add_argument("--watch", action="store_true", help=WATCH_HELP)
    p.add_argument("--error-budget", type=error_budget, metavar="N", help=BUDGET_HELP)
    p.add_argument(
        "--probe-interval",
        type=positive,
        default=PROBE_INTERVAL,
        metavar="SECONDS",
        help=f"seconds between requests (default {PROBE_INTERVAL:g})",
    )
    p.add_argument("--ca-file", metavar="PEM", help=CA_FILE_HELP)


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

    p = verb("up")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    watch_options(p)
    p.add_argument("--yes", action="store_true", help="no question: preview, then update (like pulumi up --yes)")
    p.set_defaults(command="infra.ops.up.command")

    p = verb("kubeconfig")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument("-o", "--output", help="file to write (default: STACK.kubeconfig)")
    p.add_argument(
        "--force", action="store_true", help="replace a file with other contents, or a symlink (never its target)"
    )
    p.set_defaults(command="infra.ops.kubeconfig")

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
    p.set_defaults(command="infra.ops.verify.command")

    p = verb("watch")
    p.add_argument("target", help="stack name (uses its url output) or an http(s) URL")
    p.add_argument(
        "--interval",
        type=positive,
        default=PROBE_INTERVAL,
        help=f"seconds between requests (default {PROBE_INTERVAL:g})",
    )
    p.add_argument("--duration", type=positive, help="stop after this many seconds (default: at Ctrl-C)")
    p.add_argument(
        "--timeout", type=positive, default=PROBE_TIMEOUT, help=f"seconds per request (default {PROBE_TIMEOUT:g})"
    )
    p.add_argument("--ca-file", metavar="PEM", help=CA_FILE_HELP)
    p.set_defaults(command="infra.ops.watch")

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
    watch_options(p)
    p.set_defaults(command="infra.ops.swap_node.command")

    p = verb("upgrade-check")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument(
        "--to", type=kubernetes_version, metavar="1.NN", help="target Kubernetes version (default: the next minor)"
    )
    p.set_defaults(command="infra.ops.upgrade_check.command")

    p = verb("snapshot")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument("--wait", action="store_true", help="wait until available, printing progress")
    p.add_argument("--timeout", type=positive, default=3600.0, help="seconds --wait allows (default 3600)")
    p.add_argument("--list", action="store_true", help="list the stack's available snapshots, newest first")
    p.set_defaults(command="infra.ops.snapshot")

    p = verb("destroy")
    p.add_argument("stack", type=stack_name, help=STACK_HELP)
    p.add_argument("--yes", action="store_true", help="do not ask to type the stack name")
    p.add_argument("--dry-run", action="store_true", help="preview and list leftovers; delete nothing")
    p.set_defaults(command="infra.ops.destroy.command")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = importlib.import_module(args.command).run(args)
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
