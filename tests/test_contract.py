"""The names the program and the ops CLI share: each is derived in infra/contract.py and nowhere else.

Expected values come from AWS's and Kubernetes' own naming (the EKS and RDS user guides' log group names, the
cloud provider's cluster tag) and from the project's rule (`<project>-<stack>`, the runbook's `app=helloworld`).
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest
from harness import Run

from infra import contract

ROOT = Path(__file__).resolve().parent.parent
CODE = [ROOT / "__main__.py", *(ROOT / "infra").rglob("*.py"), *(ROOT / "policy").rglob("*.py")]
CODE += [p for p in (ROOT / "tools").rglob("*.py")]


@pytest.mark.parametrize("stack", ["foo", "acme/foo", "acme/infra/foo"])
def test_names_derive_from_project_and_the_short_stack_name(stack: str) -> None:
    assert contract.cluster_name("infra", stack) == "infra-foo"
    assert contract.resource_tags("infra", stack, "vpc") == {
        "Name": "infra-foo-vpc",
        "project": "infra",
        "stack": "foo",
    }
    assert contract.stack_tags("infra", stack) == {"project": "infra", "stack": "foo"}


def test_aws_names_are_the_ones_aws_uses() -> None:
    # EKS user guide, "Send control plane logs to CloudWatch Logs": /aws/eks/<cluster-name>/cluster.
    assert contract.eks_log_group("infra-foo") == "/aws/eks/infra-foo/cluster"
    # RDS user guide, "Publishing PostgreSQL logs to CloudWatch Logs": /aws/rds/instance/<id>/<log>.
    assert contract.rds_log_group("infra-foo", "postgresql") == "/aws/rds/instance/infra-foo/postgresql"
    assert set(contract.RDS_LOGS) == {"postgresql", "upgrade"}
    assert contract.kubernetes_cluster_tag("infra-foo") == "kubernetes.io/cluster/infra-foo"
    assert contract.db_identifier("infra-foo") == "infra-foo"
    assert contract.final_snapshot_prefix("infra-foo") == "infra-foo-final-"
    assert contract.ecr_repository("infra-foo") == "infra-foo/helloworld"


def test_the_app_names() -> None:
    assert contract.APP_LABELS == {"app": "helloworld"}  # the runbook's selector
    assert (contract.APP_SERVICE, contract.APP_SERVICE_ACCOUNT) == ("helloworld", "helloworld")
    assert contract.APP_DB_USER == "helloworld_app"
    assert contract.admin_namespace("helloworld") == "helloworld-db-admin"
    # The admin Job's and verify's pods must not carry the app's label: the Service would send them traffic.
    assert contract.ADMIN_LABELS["app"] != "helloworld" and contract.DB_LOGIN_LABELS["app"] != "helloworld"


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string literal in code (f-strings included), docstrings and comments left out."""
    found = []
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.STRING and previous not in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            found.append((token.start[0], token.string))
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token.type
    return found


# Literals that spell a contract name. Each pattern is searched in the literal's source text.
SPELLED_OUT = {
    "an EKS log group path": re.compile(r"/aws/eks/"),
    "an RDS log group path": re.compile(r"/aws/rds/instance"),
    "the cluster tag": re.compile(r"kubernetes\.io/cluster/"),
    "the final snapshot's prefix": re.compile(r"-final-"),
    "the project-stack rule": re.compile(r"\{[\w.]*project\}-\{"),
    "an app name": re.compile(r"""^[rfb]*["'](helloworld([-_/][\w-]*)?)["']$"""),
    "the app's label": re.compile(r"""["']app["']\s*:\s*["']helloworld"""),
}
# Same letters, other meanings, which ops never derives: the config section `infra:helloworld` and the namespace's
# default (ops reads the helloworldNamespace output), Pulumi's logical names (renaming one replaces the resource), the
# app's source directory and its program-only Secret.
NOT_THE_CONTRACT = {
    ("infra/config", '"helloworld"'),
    ("__main__.py", '"helloworld"'),
    ("__main__.py", '"helloworld-identity"'),
    ("infra/database.py", 'f"{name}-final-snapshot"'),
    ("infra/helloworld.py", '"apps/helloworld"'),
    ("infra/helloworld.py", '"helloworld-db"'),
}


def test_no_contract_name_is_spelled_out_anywhere_else() -> None:
    offenders = []
    for path in CODE:
        rel = path.relative_to(ROOT).as_posix()
        if rel == "infra/contract.py":
            continue
        for line, literal in _string_literals(path):
            if any(rel.startswith(where) and literal == what for where, what in NOT_THE_CONTRACT):
                continue
            offenders += [f"{rel}:{line}: {what}: {literal}" for what, p in SPELLED_OUT.items() if p.search(literal)]
    assert offenders == []


def test_the_scan_sees_a_spelled_out_name(tmp_path: Path) -> None:
    code = tmp_path / "x.py"
    code.write_text('"""/aws/eks/ in a docstring is prose."""\nGROUP = f"/aws/eks/{cluster}/cluster"  # /aws/eks/\n')
    assert _string_literals(code) == [(2, 'f"/aws/eks/{cluster}/cluster"')]


OUTPUT_READ = re.compile(r"""outputs\.\w+\(out, "(\w+)"|\bout(?:\.get\(|\[)"(\w+)"[\],)]""")
OPTIONAL_OUTPUTS = {"zoneNameServers"}  # only when the stack creates the zone


def test_every_output_ops_reads_is_one_the_program_exports(foo: Run) -> None:
    read = {a or b for path in (ROOT / "infra" / "ops").rglob("*.py") for a, b in OUTPUT_READ.findall(path.read_text())}
    assert {"clusterName", "helloworldNamespace", "nodeGroupName", "dbIdentifier"} <= read  # the scan finds reads
    assert read - set(foo.outputs) - OPTIONAL_OUTPUTS == set()
