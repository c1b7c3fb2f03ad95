"""tools/cost.py: the idle cost table, the delta against the reviewed snapshot or a deployed stack, docs/cost.md."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from infra.cost import SupportDates, estimate
from infra.cost.render import table
from tools import cost

ROOT = Path(__file__).resolve().parent.parent
FOO_FILE = ROOT / "tests" / "snapshots" / "foo.json"


def test_docs_cost_md_is_generated_from_the_reviewed_snapshot() -> None:
    assert (ROOT / "docs" / "cost.md").read_text() == cost.docs_text(), (
        "docs/cost.md is stale: venv/bin/python tools/cost.py foo --write-docs"
    )


def test_docs_show_every_line_with_price_date_and_source_and_the_settings_notes() -> None:
    text = cost.docs_text()
    assert "| EKS control plane infra-foo (standard support, Kubernetes 1.35) | 1 cluster × $0.10/h | $73.00 |" in text
    # 2 × 730 × $0.0208 = $30.37 for foo's t3.small nodes; issue 21: at or below $200 with every default on
    assert "| EKS nodes cluster-nodes: 2 × t3.small (ON_DEMAND) | 2 × t3.small × $0.0208/h | $30.37 |" in text
    assert "| **total at idle** | | **$184.00** | | |" in text
    # us-west-2: $0.045 NAT + $0.005 Elastic IP per hour, 730 h; the standby doubles $11.68 + $2.30.
    assert "`natGateways: one-per-az` adds $36.50/month per AZ beyond the first" in text
    assert (
        "`database.multiAz: true` doubles the RDS instance and its storage (the standby is billed too): +$13.98" in text
    )
    assert "costs $365.00 more a month" in text
    # NLB: $0.0225 × 730 = $16.425 against the Classic ELB's $0.025 × 730 = $18.25, NLCUs by use
    assert "An NLB instead of the Classic ELB costs $16.43/month instead of $18.25, plus $0.006/h for each NLCU" in text
    assert "`spec.loadBalancerClass: service.k8s.aws/nlb` need the AWS Load Balancer Controller" in text


def test_plan_prints_the_table_and_no_change_against_its_own_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["foo", "--graph", str(FOO_FILE)]) == 0
    out = capsys.readouterr().out
    assert "$184.00/month" in out and "total at idle" in out
    assert "Against the reviewed snapshot tests/snapshots/foo.json: no change in the idle cost." in out
    assert "\033[" not in out  # not a terminal: no colour codes


def test_deployed_state_is_priced_and_the_change_against_it_grouped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed = copy.deepcopy(json.loads(FOO_FILE.read_text()))
    for resource in deployed["resources"]:
        if resource["type"] == "aws:eks/nodeGroup:NodeGroup":
            resource["inputs"]["scalingConfig"]["desiredSize"] = 3
    export = {"deployment": {"resources": [{**r, "id": "x"} for r in deployed["resources"]]}}
    state = tmp_path / "export.json"
    state.write_text(json.dumps(export))
    assert cost.main(["foo", "--graph", str(FOO_FILE), "--state", str(state)]) == 0
    out = capsys.readouterr().out
    # one node less: 730 × $0.0208 + its 20 GB gp3 root volume × $0.08 = 15.184 + 1.60
    assert "The planned change against what runs: -$16.78/month at idle" in out
    assert "-$16.78/month: nodes.desired 3 → 2 (EKS nodes cluster-nodes: 3 × t3.small → 2 × t3.small;" in out


def test_extended_support_is_red_on_a_terminal() -> None:
    graph = json.loads(FOO_FILE.read_text())
    for resource in graph["resources"]:
        if resource["type"] == "aws:eks/cluster:Cluster":
            resource["inputs"]["upgradePolicy"]["supportType"] = "EXTENDED"
    priced = estimate(graph, support=SupportDates(eks_standard_end=dt.date(2026, 7, 29)), today=dt.date(2026, 12, 6))
    lines = table("foo", priced, color=True)
    assert (
        "  \033[31mEXTENDED SUPPORT: +$365.00/month since 2026-07-29 (EKS infra-foo, Kubernetes 1.35)\033[0m" in lines
    )
    assert not any("\033[" in line for line in table("foo", priced, color=False))
