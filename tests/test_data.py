"""Data (issue: move an environment's database; credentials for pods) under mocks answering like RDS and IAM."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml
from harness import ACCOUNT, Registration, Run, World, run_program, with_changes
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
    assert "python -m infra.ops snapshot bar" in str(err.value)
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
    run = run_program(
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
        run_program(with_changes({"infra:database.maxStorageGb": 20}))


# ---------------------------------------------------------------- credentials for pods


def test_pod_identity_role_reads_exactly_the_database_secret(foo: Run) -> None:
    (role,) = [r for r in foo.of_type("aws:iam/role:Role") if r.name == "helloworld-identity-role"]
    assert json.loads(role.inputs["assumeRolePolicy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    policy = foo.one("aws:iam/rolePolicy:RolePolicy")
    assert policy.inputs["role"] == "helloworld-identity-role-id"
    assert json.loads(policy.plain("policy"))["Statement"] == [
        {
            "Sid": "ReadTheDatabaseSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": SECRET_ARN,
        }
    ]
    association = foo.one("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert association.inputs["clusterName"] == "infra-foo"
    assert association.inputs["namespace"] == "helloworld" and association.inputs["serviceAccount"] == "helloworld"
    assert association.inputs["roleArn"] == "arn:aws:iam:us-west-2:123456789012:helloworld-identity-role"
    assert policy.urn in association.dependencies, "pods get a role that can already read the secret"


def test_no_wildcard_resources_rule_both_ways(foo: Run) -> None:
    policy = foo.one("aws:iam/rolePolicy:RolePolicy")
    assert [
        v for v in violations(policy.type, {"policy": policy.plain("policy")}) if v[0] == "iam-no-wildcard-resources"
    ] == []
    star = json.loads(policy.plain("policy"))
    star["Statement"][0]["Resource"] = "arn:aws:secretsmanager:us-west-2:123456789012:secret:*"
    found = violations(policy.type, {"policy": json.dumps(star)})
    assert [p for p, _ in found] == ["iam-no-wildcard-resources"]
    star["Statement"][0]["Resource"] = ["*"]
    assert [p for p, _ in violations("aws:iam/policy:Policy", {"policy": star})] == ["iam-no-wildcard-resources"]
    star["Statement"][0]["Effect"] = "Deny"
    assert violations("aws:iam/policy:Policy", {"policy": star}) == []


# The SecretProviderClass CRD (kubernetes-sigs/secrets-store-csi-driver, secrets-store.csi.x-k8s.io/v1,
# openAPIV3Schema of config/crd/bases): spec.provider a string, spec.parameters a map of strings; kubernetes-validate
# has no schema for it, so this is checked here, strictly (no other spec fields).
SECRET_PROVIDER_CLASS_SPEC = {
    "type": "object",
    "additionalProperties": False,
    "required": ["provider"],
    "properties": {
        "provider": {"type": "string"},
        "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
        "secretObjects": {"type": "array"},
    },
}


def test_secret_provider_class_mounts_username_and_password_with_pod_identity(foo: Run) -> None:
    spc = foo.one("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass")
    assert spc.inputs["apiVersion"] == "secrets-store.csi.x-k8s.io/v1" and spc.inputs["kind"] == "SecretProviderClass"
    assert spc.plain("metadata")["name"] == "helloworld-db" and spc.plain("metadata")["namespace"] == "helloworld"
    spec = spc.plain("spec")
    jsonschema.validate(spec, SECRET_PROVIDER_CLASS_SPEC)
    assert spec["provider"] == "aws"
    assert spec["parameters"]["usePodIdentity"] == "true" and spec["parameters"]["region"] == "us-west-2"
    assert yaml.safe_load(spec["parameters"]["objects"]) == [
        {
            "objectName": SECRET_ARN,
            "objectType": "secretsmanager",
            "jmesPath": [
                {"path": "username", "objectAlias": "username"},
                {"path": "password", "objectAlias": "password"},
            ],
        }
    ]
    assert foo.depends_on(spc, foo.one("kubernetes:helm.sh/v3:Release")), "its CRD comes with the chart"


def test_pods_mount_the_credentials_read_only_as_the_apps_service_account(foo: Run) -> None:
    rc = foo.one("kubernetes:core/v1:ReplicationController")
    pod = rc.plain("spec")["template"]["spec"]
    assert pod["serviceAccountName"] == "helloworld"
    assert pod["volumes"] == [
        {
            "name": "db-credentials",
            "csi": {
                "driver": "secrets-store.csi.k8s.io",
                "readOnly": True,
                "volumeAttributes": {"secretProviderClass": "helloworld-db"},
            },
        }
    ]
    (container,) = pod["containers"]
    assert container["volumeMounts"] == [{"name": "db-credentials", "mountPath": "/mnt/db", "readOnly": True}]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DB_PASSWORD_FILE"] == "/mnt/db/password" and env["DB_USERNAME_FILE"] == "/mnt/db/username"
    assert "DB_PASSWORD" not in env, "a rotated password must be read from the file"
    sa = foo.one("kubernetes:core/v1:ServiceAccount")
    assert sa.plain("metadata")["name"] == "helloworld" and sa.inputs["automountServiceAccountToken"] is False
    for needed in (
        sa,
        foo.one("aws:eks/podIdentityAssociation:PodIdentityAssociation"),
        foo.one("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass"),
    ):
        assert foo.depends_on(rc, needed), f"pods would start before {needed.name}"


def test_csi_driver_chart_is_pinned_with_rotation(foo: Run) -> None:
    release = foo.one("kubernetes:helm.sh/v3:Release")
    assert release.inputs["chart"] == "secrets-store-csi-driver-provider-aws"
    assert release.inputs["version"] == "3.1.1"
    assert release.plain("repositoryOpts") == {"repo": "https://aws.github.io/secrets-store-csi-driver-provider-aws"}
    assert release.inputs["namespace"] == "kube-system"
    driver = release.plain("values")["secrets-store-csi-driver"]
    assert driver["enableSecretRotation"] is True and driver["rotationPollInterval"] == "3600s"
    assert driver["syncSecret"] == {"enabled": False}
    assert foo.depends_on(release, foo.one("aws:eks/nodeGroup:NodeGroup")), "DaemonSets need nodes to be ready"


def test_database_login_job_network_policy(foo: Run) -> None:
    (policy,) = [
        n for n in foo.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if n.name == "helloworld-dblogin-netpol"
    ]
    spec = policy.plain("spec")
    assert spec["podSelector"] == {"matchLabels": {"app": "helloworld-dblogin"}}
    assert spec["ingress"] == []
    assert spec["egress"][1] == {
        "to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    }


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
