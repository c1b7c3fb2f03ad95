"""Data (issue: move an environment's database; credentials for pods) under mocks answering like RDS and IAM."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import ACCOUNT, Registration, Run, World, run_program, shared_run, with_changes
from test_policy import violations

from infra.config import ConfigError

SECRET_ARN = f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:rds!db-database-postgres"
INSTANCE = "aws:rds/instance:Instance"


def snap(instance: str, version: str = "16.4", created: str = "2026-11-20T10:00:00Z", **more: Any) -> dict[str, Any]:
    return {"instance": instance, "engineVersion": version, "created": created, **more}


def restored(restore: dict[str, Any], world: World | None = None) -> Registration:
    return run_program(with_changes({"infra:database.restoreFrom": restore}), world=world).one(INSTANCE)


# ---------------------------------------------------------------- restoreFrom


def test_restore_from_a_snapshot_id() -> None:
    world = World(snapshots={"infra-old-20261120": snap("infra-old")})
    inst = restored({"snapshot": "infra-old-20261120"}, world)
    assert inst.inputs["snapshotIdentifier"] == f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:infra-old-20261120"
    # The stack's own encryption, subnets, security group and parameter group, whatever the snapshot's were.
    assert inst.inputs["storageEncrypted"] is True
    assert inst.inputs["dbSubnetGroupName"] == "database-subnets-id"
    assert inst.inputs["vpcSecurityGroupIds"] == ["database-sg-id"]
    assert inst.inputs["parameterGroupName"] == "database-params-id"


def test_restore_from_a_stack_takes_its_newest_snapshot() -> None:
    world = World(
        snapshots={
            "infra-bar-20261101": snap("infra-bar", created="2026-11-01T00:00:00Z"),
            "infra-bar-final-1a2b3c4d": snap("infra-bar", created="2026-11-25T00:00:00Z"),
            "infra-baz-20261126": snap("infra-baz", created="2026-11-26T00:00:00Z"),
        }
    )
    inst = restored({"stack": "bar"}, world)
    assert inst.inputs["snapshotIdentifier"].endswith(":snapshot:infra-bar-final-1a2b3c4d")


def test_restore_from_a_stack_without_snapshots_is_the_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        restored({"stack": "bar"}, World())
    assert "infra:database.restoreFrom.stack: bar: no DB snapshot of instance infra-bar" in str(err.value)
    assert "make db-snapshot STACK=bar ARGS=--wait" in str(err.value)
    assert err.value.run.resources == []  # type: ignore[attr-defined]


def test_engine_older_than_the_snapshot_and_unencrypted_snapshots_are_refused() -> None:
    world = World(snapshots={"s17": snap("infra-old", "17.2"), "plain": snap("infra-old", encrypted=False)})
    with pytest.raises(ConfigError, match=r"engineVersion: 16 — older than .*snapshot s17 \(PostgreSQL 17\.2\)"):
        restored({"snapshot": "s17"}, world)
    with pytest.raises(ConfigError, match=r"snapshot plain is not encrypted.*aws rds copy-db-snapshot"):
        restored({"snapshot": "plain"}, world)


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("latest", {"sourceDbInstanceIdentifier": "infra-old", "useLatestRestorableTime": True}),
        ("2026-11-27T21:00:00Z", {"sourceDbInstanceIdentifier": "infra-old", "restoreTime": "2026-11-27T21:00:00Z"}),
    ],
)
def test_restore_to_a_point_in_time(time: str, expected: dict[str, Any]) -> None:
    inst = restored({"pointInTime": {"source": "infra-old", "time": time}}, World(db_instances={"infra-old": "16.4"}))
    assert inst.plain("restoreToPointInTime") == expected
    assert "snapshotIdentifier" not in inst.inputs


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"snapshot": "a", "stack": "b"},
        {"snapshot": "bad--id"},
        {"stack": "Bar"},
        {"pointInTime": {"source": "infra-old", "time": "yesterday"}},
    ],
)
def test_restore_from_is_validated(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"infra:database\.restoreFrom"):
        restored(bad)


def test_restore_from_never_replaces_the_database_after_creation() -> None:
    """terraform-aws-rds #270: a later change or removal of the restore source must not replace the instance."""
    first = restored({"snapshot": "s1"}, World(snapshots={"s1": snap("infra-old")}))
    running = World(db_instances={"infra-foo": "16.4"}, snapshots={"s1": snap("infra-old"), "s2": snap("infra-x")})
    for later in ({"snapshot": "s2"}, {"stack": "x"}, None):
        inst = run_program(with_changes({"infra:database.restoreFrom": later}), world=running).one(INSTANCE)
        assert inst.urn == first.urn
        assert "snapshotIdentifier" not in inst.inputs, "the restore source is read only when the instance is created"
        assert {"snapshotIdentifier", "restoreToPointInTime"} <= set(inst.ignore_changes)


# ---------------------------------------------------------------- durable data settings


def test_storage_autoscaling_backups_and_insights(foo: Run) -> None:
    inst = foo.one(INSTANCE).inputs
    assert "maxAllocatedStorage" not in inst
    assert inst["deleteAutomatedBackups"] is True, "foo is ephemeral"
    assert inst["performanceInsightsEnabled"] is False, "db.t4g.micro has no Performance Insights"
    run = shared_run(
        with_changes(
            {
                "infra:database.ephemeral": False,
                "infra:database.maxStorageGb": 100,
                "infra:database.instanceClass": "db.m7g.large",
            }
        )
    )
    inst = run.one(INSTANCE).inputs
    assert inst["maxAllocatedStorage"] == 100
    assert inst["deleteAutomatedBackups"] is False, "a durable instance's backups outlive it"
    assert inst["performanceInsightsEnabled"] is True and inst["performanceInsightsRetentionPeriod"] == 7
    with pytest.raises(ConfigError, match=r"maxStorageGb: 20 — allowed: more than storageGb \(20\)"):
        shared_run(with_changes({"infra:database.maxStorageGb": 20}))


# ---------------------------------------------------------------- the app's database identity

DBUSER_ARN = f"arn:aws:rds-db:us-west-2:{ACCOUNT}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY2/helloworld_app"
POD_IDENTITY_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


def named(run: Run, typ: str, name: str) -> Registration:
    (found,) = [r for r in run.of_type(typ) if r.name == name]
    return found


@pytest.mark.parametrize(
    ("identity", "namespace", "service_account", "statement"),
    [
        (
            "helloworld-identity",
            "helloworld",
            "helloworld",
            {"Sid": "LogInAsTheAppUser", "Effect": "Allow", "Action": "rds-db:connect", "Resource": DBUSER_ARN},
        ),
        (
            "db-admin-identity",
            "helloworld-db-admin",  # its own namespace: a pod in the app's could name its ServiceAccount
            "helloworld-db-admin",
            {
                "Sid": "ReadTheMasterSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": SECRET_ARN,
            },
        ),
    ],
)
def test_each_service_account_may_do_exactly_one_thing(
    foo: Run, identity: str, namespace: str, service_account: str, statement: dict[str, Any]
) -> None:
    """The app's pods log in as helloworld_app on this instance only; only the bootstrap reads the master secret."""
    role = named(foo, "aws:iam/role:Role", f"{identity}-role")
    assert json.loads(role.inputs["assumeRolePolicy"]) == POD_IDENTITY_TRUST
    policy = named(foo, "aws:iam/rolePolicy:RolePolicy", f"{identity}-policy")
    assert policy.inputs["role"] == f"{identity}-role-id"
    assert json.loads(policy.plain("policy"))["Statement"] == [statement]
    association = named(foo, "aws:eks/podIdentityAssociation:PodIdentityAssociation", f"{identity}-association")
    assert association.inputs["clusterName"] == "infra-foo" and association.inputs["namespace"] == namespace
    assert association.inputs["serviceAccount"] == service_account
    assert association.inputs["roleArn"] == f"arn:aws:iam:us-west-2:123456789012:{identity}-role"
    assert policy.urn in association.dependencies, "pods get a role that is already allowed"


def test_no_wildcard_resources_rule_both_ways(foo: Run) -> None:
    policy = named(foo, "aws:iam/rolePolicy:RolePolicy", "helloworld-identity-policy")
    assert [
        v for v in violations(policy.type, {"policy": policy.plain("policy")}) if v[0] == "iam-no-wildcard-resources"
    ] == []
    star = json.loads(policy.plain("policy"))
    star["Statement"][0]["Resource"] = f"arn:aws:rds-db:us-west-2:{ACCOUNT}:dbuser:*/*"
    found = violations(policy.type, {"policy": json.dumps(star)})
    assert [p for p, _ in found] == ["iam-no-wildcard-resources"]
    star["Statement"][0]["Resource"] = ["*"]
    assert [p for p, _ in violations("aws:iam/policy:Policy", {"policy": star})] == ["iam-no-wildcard-resources"]
    star["Statement"][0]["Effect"] = "Deny"
    assert violations("aws:iam/policy:Policy", {"policy": star}) == []


def test_pods_hold_no_credentials_only_where_and_as_whom(foo: Run) -> None:
    rc = foo.one("kubernetes:core/v1:ReplicationController")
    pod = rc.plain("spec")["template"]["spec"]
    assert pod["serviceAccountName"] == "helloworld"
    assert "volumes" not in pod, "nothing is mounted: the app signs IAM auth tokens with its Pod Identity role"
    (container,) = pod["containers"]
    assert "volumeMounts" not in container
    from_secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "valueFrom" in e and e["name"][:3] == "DB_"
    }
    assert from_secret == {
        "DB_HOST": {"name": "helloworld-db", "key": "host"},
        "DB_PORT": {"name": "helloworld-db", "key": "port"},
        "DB_NAME": {"name": "helloworld-db", "key": "dbname"},
        "DB_USER": {"name": "helloworld-db", "key": "username"},
    }
    secret = named(foo, "kubernetes:core/v1:Secret", "helloworld-db")
    assert secret.plain("stringData") == {
        "host": "infra-foo.abc.us-west-2.rds.amazonaws.com",
        "port": "5432",
        "dbname": "app",
        "username": "helloworld_app",
    }
    sa = named(foo, "kubernetes:core/v1:ServiceAccount", "helloworld-sa")
    assert sa.plain("metadata")["name"] == "helloworld" and sa.inputs["automountServiceAccountToken"] is False
    for needed in (
        sa,
        named(foo, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "helloworld-identity-association"),
        foo.one("kubernetes:batch/v1:Job"),
    ):
        assert foo.depends_on(rc, needed), f"pods would start before {needed.name}"


def test_no_secrets_store_csi_driver_is_installed(foo: Run) -> None:
    assert foo.of_type("kubernetes:helm.sh/v3:Release") == []
    assert not [r for r in foo.resources if "secrets-store" in r.type], "nothing mounts secrets any more"


def test_database_login_job_network_policy(foo: Run) -> None:
    (policy,) = [
        n for n in foo.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if n.name == "helloworld-dblogin-netpol"
    ]
    spec = policy.plain("spec")
    assert spec["podSelector"] == {"matchLabels": {"app": "helloworld-dblogin"}}
    assert spec["ingress"] == []
    assert spec["egress"][1:] == [
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]},
        {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]},
    ]


def test_point_in_time_from_an_instance_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"pointInTime\.source: infra-old — no such DB instance.*final snapshot"):
        restored({"pointInTime": {"source": "infra-old", "time": "latest"}})


def test_a_missing_snapshot_id_is_the_config_error_in_the_providers_words() -> None:
    with pytest.raises(ConfigError, match=r"restoreFrom\.snapshot: gone: no DB snapshot of that name"):
        restored({"snapshot": "gone"}, World())


@pytest.mark.parametrize(
    ("snapshot", "problem"),
    [
        (snap("infra-old", status="creating"), "snapshot s1 is creating, not available yet"),
        (snap("infra-old", allocatedStorage=100), "infra:database.storageGb: 20 — smaller than"),
    ],
)
def test_snapshots_rds_cannot_restore_here_are_refused(snapshot: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        restored({"snapshot": "s1"}, World(snapshots={"s1": snapshot}))
