"""RDS under mocks: private, encrypted, managed password, protected unless ephemeral, wired to the app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from harness import Run, run_program, with_changes
from pulumi.runtime import rpc

DB = "aws:rds/instance:Instance"


@pytest.fixture(scope="module")
def durable() -> Run:
    """foo's config without `ephemeral`: what every stack whose data matters gets."""
    return run_program(with_changes({"infra:database.ephemeral": None}))


def test_in_private_subnets_only(foo: Run) -> None:
    group = foo.one("aws:rds/subnetGroup:SubnetGroup")
    assert group.inputs["subnetIds"] == foo.outputs["privateSubnetIds"]
    assert foo.one(DB).inputs["dbSubnetGroupName"] == "database-subnets-id"


def test_security_group_admits_5432_only_from_the_cluster(foo: Run) -> None:
    sg = foo.one("aws:ec2/securityGroup:SecurityGroup")
    assert "ingress" not in sg.inputs, "no inline rules: the one rule is its own resource"
    rules = foo.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert [r.inputs for r in rules] == [
        {
            "securityGroupId": "database-sg-id",
            "referencedSecurityGroupId": "sg-cluster",  # the EKS cluster SG, which managed nodes carry
            "ipProtocol": "tcp",
            "fromPort": 5432,
            "toPort": 5432,
            "description": "PostgreSQL from the EKS cluster security group",
        }
    ]
    assert not any("cidrIpv4" in r.inputs or "cidrIpv6" in r.inputs for r in rules)
    assert foo.one(DB).inputs["vpcSecurityGroupIds"] == ["database-sg-id"]


def test_encrypted_private_gp3_tls_managed_password(foo: Run) -> None:
    db = foo.one(DB).inputs
    assert db["storageEncrypted"] is True and db["publiclyAccessible"] is False
    assert db["storageType"] == "gp3" and db["autoMinorVersionUpgrade"] is True
    assert db["manageMasterUserPassword"] is True and "password" not in db
    assert db["engine"] == "postgres" and db["engineVersion"] == "16"
    params = foo.one("aws:rds/parameterGroup:ParameterGroup").inputs
    assert params["family"] == "postgres16"
    assert params["parameters"] == [{"name": "rds.force_ssl", "value": "1"}]
    assert db["parameterGroupName"] == "database-params-id"


def walk(value: Any, path: str = "") -> list[tuple[str, Any, bool]]:
    """(path, value, is_secret) for every leaf."""
    if rpc.is_rpc_secret(value):
        return [(path, rpc.unwrap_rpc_secret(value), True)]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in walk(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in walk(v, f"{path}[{i}]")]
    return [(path, value, False)]


PASSWORD_LIKE = re.compile(r"^(password|\w*Password|token|authToken|\w*AuthToken|secretString|privateKey)$")


def test_no_plain_password_like_input_anywhere(foo: Run) -> None:
    leaks = [
        (r.type, r.name, path)
        for r in foo.resources
        for path, value, secret in walk(r.inputs)
        if PASSWORD_LIKE.search(path.rsplit(".", 1)[-1]) and not secret and not isinstance(value, bool)
    ]
    assert leaks == []
    assert not any("masterPassword" in str(r.inputs) or '"password"' in str(r.inputs) for r in foo.of_type(DB))


def test_ephemeral_stack_is_unprotected_but_keeps_its_final_snapshot(foo: Run) -> None:
    db = foo.one(DB)
    assert db.protect is False and db.inputs["deletionProtection"] is False
    assert db.inputs["skipFinalSnapshot"] is False
    assert db.inputs["finalSnapshotIdentifier"] == "infra-foo-final-1a2b3c4d"
    assert db.inputs["tags"]["Ephemeral"] == "true"
    assert foo.outputs["dbFinalSnapshotIdentifier"] == "infra-foo-final-1a2b3c4d"


def test_durable_by_default(durable: Run) -> None:
    db = durable.one(DB)
    assert db.protect is True and db.inputs["deletionProtection"] is True
    assert db.inputs["skipFinalSnapshot"] is False
    assert db.inputs["tags"]["Ephemeral"] == "false"
    assert durable.outputs["dbEphemeral"] is False


def test_skip_final_snapshot_when_ephemeral_says_so() -> None:
    run = run_program(with_changes({"infra:database.skipFinalSnapshot": True}))
    assert run.one(DB).inputs["skipFinalSnapshot"] is True
    assert run.outputs["dbFinalSnapshotIdentifier"] == ""


def test_app_secret_carries_the_connection_facts(foo: Run) -> None:
    secret = foo.one("kubernetes:core/v1:Secret")
    assert secret.plain("metadata")["namespace"] == "helloworld"
    assert secret.plain("stringData") == {
        "host": "infra-foo.abc.us-west-2.rds.amazonaws.com",
        "port": "5432",
        "dbname": "app",
        "username": "helloworld_app",  # the app's own IAM-authenticated role, never the master user
    }
    env = foo.one("kubernetes:core/v1:ReplicationController").plain("spec")["template"]["spec"]["containers"][0]["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    assert refs == {
        "DB_HOST": {"name": "helloworld-db", "key": "host"},
        "DB_PORT": {"name": "helloworld-db", "key": "port"},
        "DB_NAME": {"name": "helloworld-db", "key": "dbname"},
        "DB_USER": {"name": "helloworld-db", "key": "username"},
    }


def test_outputs(foo: Run) -> None:
    assert foo.outputs["dbEndpoint"] == "infra-foo.abc.us-west-2.rds.amazonaws.com"
    assert foo.outputs["dbPort"] == 5432 and foo.outputs["dbName"] == "app"
    assert foo.outputs["dbSecretArn"].startswith("arn:aws:secretsmanager:")


def test_app_and_node_changes_do_not_touch_database_inputs(foo: Run) -> None:
    run = run_program(with_changes({"infra:helloworld.version": "2.0.0", "infra:cluster.nodes.desired": 3}))
    before = {r.urn: r.inputs for r in foo.resources if r.type.startswith(("aws:rds", "random:"))}
    after = {r.urn: r.inputs for r in run.resources if r.type.startswith(("aws:rds", "random:"))}
    assert before == after and len(before) == 4
    changed = {r.name for r in run.resources if r.inputs != foo.by_urn()[r.urn].inputs}
    assert changed == {"helloworld-image", "helloworld-rc", "cluster-nodes"}
