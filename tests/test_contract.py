"""The names the program and the ops CLI share: each is derived in infra/contract.py and nowhere else.

Expected values come from AWS's and Kubernetes' own naming (the EKS and RDS user guides' log group names, the
cloud provider's cluster tag) and from the project's rule (`<project>-<stack>`, the runbook's `app=helloworld`).
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import botocore.session
import pytest
from harness import Run
from source_scan import string_literals

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


def test_the_values_the_policy_pack_reads() -> None:
    assert contract.PUBLIC_NAME_ANNOTATION == "infra/public-name"
    assert contract.EPHEMERAL_TAG == "Ephemeral"  # the runbook's tag on a throwaway stack's database
    assert contract.CREATOR_TAG == "infra/cluster-creator"
    assert contract.NONROOT_UID == 65532  # distroless's "nonroot" user and group


def test_the_database_component_and_its_log_groups_pulumi_names() -> None:
    assert (contract.DATABASE_TYPE, contract.DATABASE_COMPONENT) == ("infra:index:Database", "database")
    assert contract.log_group_resource("database", "postgresql") == "database-logs-postgresql"


def test_rds_lifecycle_names_are_the_ones_the_rds_api_uses() -> None:
    # botocore rds model: DescribeDBMajorEngineVersions' LifecycleSupportName and CreateDBInstance's
    # EngineLifecycleSupport.
    model = botocore.session.get_session().get_service_model("rds")
    lifecycle = model.shape_for("SupportedEngineLifecycle").members["LifecycleSupportName"]
    assert contract.RDS_STANDARD_SUPPORT == "open-source-rds-standard-support"
    assert contract.RDS_EXTENDED_SUPPORT == "open-source-rds-extended-support"
    assert {contract.RDS_STANDARD_SUPPORT, contract.RDS_EXTENDED_SUPPORT} <= set(lifecycle.enum)
    create = model.shape_for("CreateDBInstanceMessage").members["EngineLifecycleSupport"].documentation
    assert f"<code>{contract.RDS_EXTENDED_SUPPORT} | {contract.RDS_EXTENDED_SUPPORT_OFF}</code>" in create


# EKS CreateNodegroup amiType spells the CPU architecture x86_64 or ARM_64; OCI image platforms say amd64 or arm64.
OCI_ARCH = {"x86_64": "amd64", "ARM_64": "arm64"}


def test_the_nodes_run_the_architecture_the_image_is_built_for() -> None:
    ami_types = botocore.session.get_session().get_service_model("eks").shape_for("AMITypes").enum
    assert contract.NODE_AMI_TYPE in ami_types and contract.NODE_AMI_TYPE.startswith("AL2023_")
    ami_arch = re.fullmatch(r"AL2023_(x86_64|ARM_64)_STANDARD", contract.NODE_AMI_TYPE)
    assert ami_arch is not None
    image_arch = contract.IMAGE_PLATFORM.removeprefix("linux/")
    assert image_arch == OCI_ARCH[ami_arch.group(1)]


# Literals that spell a contract name. Each pattern is searched in the literal's source text.
SPELLED_OUT = {
    "an EKS log group path": re.compile(r"/aws/eks/"),
    "an RDS log group path": re.compile(r"/aws/rds/instance"),
    "the cluster tag": re.compile(r"kubernetes\.io/cluster/"),
    "the final snapshot's prefix": re.compile(r"-final-"),
    "the project-stack rule": re.compile(r"\{[\w.]*project\}-\{"),
    "an app name": re.compile(r"""^[rfb]*["'](helloworld([-_/][\w-]*)?)["']$"""),
    "the app's label": re.compile(r"""["']app["']\s*:\s*["']helloworld"""),
    # Values the policy pack reads off the program's resources: spelled twice, a drift makes its rule pass silently.
    "the public-name annotation": re.compile(r"infra/public-name"),
    "the Ephemeral tag": re.compile(r"""^["']Ephemeral["']$"""),
    "the creator tag": re.compile(r"infra/cluster-creator"),
    "the Database type token": re.compile(r"infra:index:Database"),
    "an RDS lifecycle name": re.compile(r"open-source-rds-"),
    "the nodes' AMI type": re.compile(r"AL2023_"),
    "the image's platform": re.compile(r"linux/(amd|arm)64"),
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
    # The offline world plays RDS: its DescribeDBMajorEngineVersions answer is AWS's spelling, not the program's.
    ("tools/offline/world.py", '"open-source-rds-standard-support"'),
    ("tools/offline/world.py", '"open-source-rds-extended-support"'),
}


def test_no_contract_name_is_spelled_out_anywhere_else() -> None:
    offenders = []
    for path in CODE:
        rel = path.relative_to(ROOT).as_posix()
        if rel == "infra/contract.py":
            continue
        for line, literal in string_literals(path):
            if any(rel.startswith(where) and literal == what for where, what in NOT_THE_CONTRACT):
                continue
            offenders += [f"{rel}:{line}: {what}: {literal}" for what, p in SPELLED_OUT.items() if p.search(literal)]
    assert offenders == []


def test_the_nonroot_uid_is_spelled_in_the_contract_only() -> None:
    """The app's and the login Job's containers run as one UID; a second copy could drift from it."""
    spelled = [
        f"{path.relative_to(ROOT).as_posix()}:{token.start[0]}"
        for path in CODE
        if path.relative_to(ROOT).as_posix() != "infra/contract.py"
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        if token.type == tokenize.NUMBER and token.string == "65532"
    ]
    assert spelled == []


def test_the_scan_sees_a_spelled_out_name(tmp_path: Path) -> None:
    code = tmp_path / "x.py"
    code.write_text('"""/aws/eks/ in a docstring is prose."""\nGROUP = f"/aws/eks/{cluster}/cluster"  # /aws/eks/\n')
    assert string_literals(code) == [(2, 'f"/aws/eks/{cluster}/cluster"')]


OUTPUT_READ = re.compile(r"""outputs\.\w+\(out, "(\w+)"|\bout(?:\.get\(|\[)"(\w+)"[\],)]""")
OPTIONAL_OUTPUTS = {"zoneNameServers"}  # only when the stack creates the zone


def test_every_output_ops_reads_is_one_the_program_exports(foo: Run) -> None:
    read = {a or b for path in (ROOT / "infra" / "ops").rglob("*.py") for a, b in OUTPUT_READ.findall(path.read_text())}
    assert {"clusterName", "helloworldNamespace", "nodeGroupName", "dbIdentifier"} <= read  # the scan finds reads
    assert read - set(foo.outputs) - OPTIONAL_OUTPUTS == set()
