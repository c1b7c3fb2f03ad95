"""Messages the docs quote whole, produced here where no other test asserts all of them (issue 19 item 7).

Each test runs the code that prints the message for the case the docs describe and compares with the text the docs
show (tests/test_docs_quotes.py ties each quote to its test).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_pulumi_login import run as run_login_script

from infra.config import ConfigError
from infra.ops import report
from infra.ops.clients.http_probe import Answer
from infra.ops.clients.kube_model import Node, Pod, WorkloadRef, WorkloadStatus
from infra.ops.clients.tls import Certificate
from infra.ops.verify import checks
from tools import cost as cost_tool


def test_a_failing_whoami_names_the_backend_and_the_way_back(tmp_path: Path) -> None:
    done, calls = run_login_script(tmp_path, {"PULUMI_BACKEND_URL": "s3://team-state"})
    assert done.returncode == 1 and calls == ["whoami"]
    assert done.stderr.splitlines()[-1] == (
        "pulumi whoami failed for the backend you use (s3://team-state): log in to it again, e.g. 'pulumi login'"
        " (Pulumi Cloud) or 'pulumi login s3://<bucket>' (with AWS credentials); nothing was changed"
    )


def test_config_problems_come_in_one_error() -> None:
    problem = (
        "infra:cluster.nodes.desird: unknown key (did you mean 'desired'?) — allowed keys: instanceTypes, capacityType,"
        " diskSizeGb, desired, min, max, maxUnavailable"
    )
    assert str(ConfigError([problem])) == f"invalid stack config (1 problem(s)):\n  - {problem}"


def test_a_healthy_foo_verifies_as_the_docs_show() -> None:
    url, elb = "https://foo.cloud.weave.works", "a1b2c3d4-1234567890.us-west-2.elb.amazonaws.com"
    certificate = Certificate(
        "Amazon RSA 2048 M02 (Amazon)", datetime(2027, 1, 14, 23, 59, 59, tzinfo=UTC), ("foo.cloud.weave.works",)
    )
    rows = [
        checks.nodes_ready([Node("ip-10-0-1-1", True), Node("ip-10-0-33-1", True)], 2),
        checks.system_pods_ready([Pod(f"p{i}", "kube-system") for i in range(9)]),
        checks.workload_ready(WorkloadRef("rc", "helloworld-1.0.0"), WorkloadStatus(3, 3), 3),
        checks.service_hostname(elb, elb),
        checks.certificate(certificate, datetime(2026, 11, 27, tzinfo=UTC)),
        checks.greeting(url, Answer(200, "Hello world\n"), "Hello world"),
        checks.database(f"{url}/dbz", Answer(200, "ok\n")),
    ]
    assert report.table(rows).splitlines()[2:] == [
        "nodes                         PASS    2/2 Ready",
        "kube-system pods              PASS    9/9 ready",
        "workload rc/helloworld-1.0.0  PASS    3/3 ready",
        "service helloworld            PASS    a1b2c3d4-1234567890.us-west-2.elb.amazonaws.com",
        "certificate                   PASS    issuer Amazon RSA 2048 M02 (Amazon), valid until 2027-01-14 23:59 UTC,"
        " names foo.cloud.weave.works",
        "GET /                         PASS    https://foo.cloud.weave.works: 'Hello world'",
        "GET /dbz                      PASS    https://foo.cloud.weave.works/dbz: database reachable",
    ]
    assert report.table(rows).splitlines()[0].split() == ["check", "status", "detail"]


def test_foo_idle_cost_prints_as_the_readme_shows(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost_tool.main(["foo", "--graph", "tests/snapshots/foo.json"]) == 0
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]  # columns aside
    assert {
        "$73.00 EKS control plane infra-foo (standard support, Kubernetes 1.35) 1 cluster × $0.10/h",
        "$30.37 EKS nodes cluster-nodes: 2 × t3.small (ON_DEMAND) 2 × t3.small × $0.0208/h",
        "$32.85 NAT gateways (single) 1 NAT gateway × $0.045/h",
        "total at idle $184.00/month",
        "Against the reviewed snapshot tests/snapshots/foo.json: no change in the idle cost.",
    } <= set(lines)
