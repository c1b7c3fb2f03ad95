"""`python -m infra.ops upgrade-check STACK [--to 1.NN]`: wire the real clients into the rows, print the table."""

import argparse

from infra.ops import live, report
from infra.ops.clients import outputs, stack
from infra.ops.clients.exec_plugin import ExecPluginError
from infra.ops.upgrade_check import check
from infra.ops.upgrade_check.budgets import BudgetReader, KubeBudgets


def run(args: argparse.Namespace) -> int:
    out = stack.read_outputs(args.stack)
    live.check_credentials(out)
    budgets: BudgetReader
    try:
        budgets = KubeBudgets.from_kubeconfig(outputs.mapping(out, "kubeconfig"))
    except ExecPluginError as err:  # the PodDisruptionBudgets row says why; the AWS rows still run
        budgets = check.UnreadableBudgets(err)
    deps = check.UpgradeCheckDeps(
        eks=live.aws_client("eks", out),
        autoscaling=live.aws_client("autoscaling", out),
        budgets=budgets,
        ec2=live.aws_client("ec2", out),
        quotas=live.aws_client("service-quotas", out),
    )
    return report.finish_checks(check.run_upgrade_check(out, args.to, deps), live.say)
