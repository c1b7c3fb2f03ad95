"""Every verb takes `foo`, `org/foo` and `org/project/foo`: names come from outputs, else the program's one rule."""

import json
from pathlib import Path
from typing import Any

import pytest
from moto_env import REGION, db_instance, moto_account, own_account

from infra import contract
from infra.config import ClusterConfig, DatabaseConfig, HelloWorldConfig, NetworkConfig, StackConfig
from infra.ops import cli, watch
from infra.ops.clients import aws, stack
from infra.ops.clients.stack import StackError
from infra.ops.destroy.target import Target

__all__ = ["moto_account", "own_account"]  # fixtures: pytest finds them here by name

FORMS = ["foo", "acme/foo", "acme/infra/foo"]  # Pulumi's short, org-qualified and fully qualified stack names


@pytest.mark.parametrize("name", FORMS)
def test_the_program_and_destroy_name_the_cluster_infra_foo(name: str) -> None:
    program = StackConfig(
        "infra", name, REGION, NetworkConfig(), ClusterConfig(), HelloWorldConfig(), DatabaseConfig(), None
    )
    target = Target.locate(name, "infra", {"region": REGION})
    assert contract.cluster_name("infra", name) == program.cluster_name == "infra-foo"
    assert (target.cluster, target.db_identifier) == ("infra-foo", "infra-foo")


@pytest.mark.parametrize("name", FORMS)
@pytest.mark.parametrize(
    "argv", [["verify"], ["swap-node", "{}", "n1"], ["upgrade-check"], ["snapshot"], ["destroy"], ["kubeconfig"]]
)
def test_each_verb_reads_the_stack_it_was_given(
    name: str, argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    read: list[str] = []

    def outputs(asked: str) -> dict[str, Any]:
        read.append(asked)
        raise StackError(f"cannot read outputs of stack {asked!r}: stop here")

    monkeypatch.setattr(stack, "read_outputs", outputs)
    command = [argv[0], name, *argv[2:]]
    assert cli.main(command) == 1
    assert read == [name]


@pytest.mark.parametrize("name", FORMS)
def test_watch_reads_the_url_of_the_stack_it_was_given(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "read_outputs", lambda asked: {"url": f"http://{asked}.example"})
    assert watch.watch_url(name) == f"http://{name}.example"


@pytest.mark.parametrize("name", FORMS)
def test_kubeconfig_file_is_named_after_the_stack(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stack, "read_outputs", lambda asked: {"kubeconfig": json.dumps({"kind": "Config"})})
    assert cli.main(["kubeconfig", name]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["foo.kubeconfig"]


@pytest.mark.parametrize("bad", ["", "acme//foo", "a/b/c/d", "acme/other/foo", "acme/ foo"])
def test_what_is_not_a_stack_of_this_project_stops_before_any_call(
    bad: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stack, "read_outputs", lambda asked: pytest.fail("no stack may be read"))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", bad])
    assert exit_info.value.code == 2
    assert "argument stack: " in capsys.readouterr().err


# ---- snapshot against moto: the RDS instance infra-foo and its snapshots exist ----


def instance_with_snapshot(instance: str, snapshot: str) -> None:
    rds = aws.client("rds", REGION)
    db_instance(rds, instance)
    rds.create_db_snapshot(DBSnapshotIdentifier=snapshot, DBInstanceIdentifier=instance)


@pytest.mark.parametrize("name", FORMS)
@pytest.mark.parametrize("out", [{}, {"region": REGION, "dbIdentifier": "infra-foo"}], ids=["destroyed", "deployed"])
def test_snapshot_list_finds_the_stacks_snapshots(
    name: str,
    out: dict[str, Any],
    own_account: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    instance_with_snapshot("infra-foo", "infra-foo-20261127-221530")
    instance_with_snapshot("infra-bar", "infra-bar-20261127-221530")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setattr(stack, "read_outputs", lambda asked: dict(out))
    assert cli.main(["snapshot", name, "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()[2:]
    assert [line.split()[0] for line in listed] == ["infra-foo-20261127-221530"]


def test_snapshot_of_a_qualified_stack_is_tagged_with_the_stack_as_the_program_tags(
    own_account: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_with_snapshot("infra-foo", "infra-foo-older")
    monkeypatch.setattr(stack, "read_outputs", lambda asked: {"region": REGION, "dbIdentifier": "infra-foo"})
    assert cli.main(["snapshot", "acme/infra/foo"]) == 0
    taken = capsys.readouterr().out.splitlines()[-2].removeprefix("snapshot id: ")
    found = aws.client("rds", REGION).describe_db_snapshots(DBSnapshotIdentifier=taken)["DBSnapshots"][0]
    assert {t["Key"]: t["Value"] for t in found["TagList"]} == {"project": "infra", "stack": "foo"}
