"""The Job that creates the app's PostgreSQL role: what the program registers (under mocks), and its two scripts run
by a real shell with the AWS CLI, curl and psql stood in (jq is the real one when installed)."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from harness import Registration, Run, run_program, with_changes

from infra import db_app_user

MASTER_SECRET = "arn:aws:secretsmanager:us-west-2:123456789012:secret:rds!db-database-postgres"
ADMIN_NAMESPACE = "helloworld-db-admin"  # `<helloworld.namespace>-db-admin`, foo's app namespace being `helloworld`
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


def job(foo: Run) -> Registration:
    return foo.one("kubernetes:batch/v1:Job")


def admin_association(run: Run) -> Registration:
    (found,) = [r for r in run.of_type(ASSOCIATION) if r.inputs["serviceAccount"] == "helloworld-db-admin"]
    return found


def test_job_runs_as_the_admin_service_account_and_keeps_secrets_in_memory(foo: Run) -> None:
    found = job(foo)
    assert found.plain("metadata")["name"] == "helloworld-db-admin"
    assert found.plain("metadata")["namespace"] == ADMIN_NAMESPACE
    assert found.plain("metadata")["annotations"] == {"pulumi.com/replaceUnready": "true"}  # a failed run runs again
    spec = found.plain("spec")
    assert "ttlSecondsAfterFinished" not in spec, "a Job Kubernetes deletes would run again after a refresh only"
    template = spec["template"]
    # A new instance (restore, replacement) has a new DbiResourceId: the template changes and the Job runs again.
    assert template["metadata"]["annotations"] == {"infra/db-resource-id": "db-ABCDEFGHIJKLMNOPQRSTUVWXY2"}
    pod = template["spec"]
    assert pod["serviceAccountName"] == "helloworld-db-admin" and pod["restartPolicy"] == "Never"
    assert pod["volumes"] == [{"name": "work", "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}}]
    ((fetch,), (psql,)) = pod["initContainers"], pod["containers"]
    assert fetch["image"] == (
        "public.ecr.aws/aws-cli/aws-cli:2.36.15@sha256:310813a7eae8fd88da1cc9c37970e3500b0ff3984479e1012f0a6fd44e453f63"
    )
    assert psql["image"] == (
        "public.ecr.aws/docker/library/postgres:18-alpine"
        "@sha256:9a8afca54e7861fd90fab5fdf4c42477a6b1cb7d293595148e674e0a3181de15"
    )
    fetch_env = {e["name"]: e["value"] for e in fetch["env"]}
    assert fetch_env["MASTER_SECRET_ARN"] == MASTER_SECRET and fetch_env["AWS_REGION"] == "us-west-2"
    assert fetch_env["CA_BUNDLE_URL"] == "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    assert {e["name"]: e["value"] for e in psql["env"]} == {
        "HOME": "/work",
        "DB_HOST": "infra-foo.abc.us-west-2.rds.amazonaws.com",
        "DB_PORT": "5432",
        "DB_NAME": "app",
        "APP_USER": "helloworld_app",
    }
    app = foo.one("kubernetes:core/v1:ReplicationController").plain("spec")["template"]["spec"]["containers"][0]
    for container in (fetch, psql):
        assert {k: v for k, v in container["securityContext"].items() if not k.startswith("runAs")} == {
            k: v for k, v in app["securityContext"].items() if not k.startswith("runAs")
        }, "the app's hardened block"


def test_job_waits_for_its_identity_and_the_database_path(foo: Run) -> None:
    (rule,) = foo.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    (account,) = [r for r in foo.of_type(SERVICE_ACCOUNT) if r.plain("metadata")["name"] == "helloworld-db-admin"]
    (home,) = [r for r in foo.of_type(NAMESPACE) if r.plain("metadata")["name"] == ADMIN_NAMESPACE]
    for needed in (admin_association(foo), rule, account, home, foo.one("aws:eks/nodeGroup:NodeGroup")):
        assert foo.depends_on(job(foo), needed), f"the Job's pod would start before {needed.name}"


def in_namespace(run: Run, namespace: str) -> set[str]:
    """`<kind>/<name>` of every namespaced Kubernetes object the stack puts in `namespace`."""
    return {
        f"{r.type.rsplit(':', 1)[1]}/{r.plain('metadata')['name']}"
        for r in run.resources
        if r.type.startswith("kubernetes:") and r.plain("metadata").get("namespace") == namespace
    }


def test_only_cluster_admins_can_run_a_pod_that_reads_the_master_secret(foo: Run) -> None:
    """Kubernetes lets a pod use any ServiceAccount of its namespace, so the master secret's ServiceAccount lives in
    a namespace of its own, the one its Pod Identity association names, with no RBAC grant in it: creating pods
    there takes cluster admin. The app's objects stay in the app's namespace."""
    (home,) = [r for r in foo.of_type(NAMESPACE) if r.plain("metadata")["name"] == ADMIN_NAMESPACE]
    assert home.plain("metadata")["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    association = admin_association(foo)
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        ADMIN_NAMESPACE,
        "helloworld-db-admin",
    )
    assert in_namespace(foo, ADMIN_NAMESPACE) == {
        "ServiceAccount/helloworld-db-admin",
        "NetworkPolicy/helloworld-db-admin",
        "Job/helloworld-db-admin",
    }
    assert in_namespace(foo, "helloworld") == {
        "Secret/helloworld-db",
        "ServiceAccount/helloworld",
        "NetworkPolicy/helloworld",
        "NetworkPolicy/helloworld-dblogin",
        "ReplicationController/helloworld-1.0.0",
        "PodDisruptionBudget/helloworld",
        "Service/helloworld",
    }
    assert [r.name for r in foo.resources if r.type.startswith("kubernetes:rbac.authorization.k8s.io/")] == []


def test_admin_namespace_follows_the_apps_namespace() -> None:
    run = run_program(with_changes({"infra:helloworld.namespace": "shop"}))
    assert {r.plain("metadata")["name"] for r in run.of_type(NAMESPACE)} == {"shop", "shop-db-admin"}
    assert job(run).plain("metadata")["namespace"] == "shop-db-admin"
    assert admin_association(run).inputs["namespace"] == "shop-db-admin"


def test_network_policy_allows_only_dns_postgres_https_and_the_pod_identity_agent(foo: Run) -> None:
    (policy,) = [r for r in foo.of_type(NETWORK_POLICY) if r.plain("metadata")["name"] == "helloworld-db-admin"]
    assert policy.plain("metadata")["namespace"] == ADMIN_NAMESPACE
    assert policy.plain("spec") == {
        "podSelector": {"matchLabels": {"app": "helloworld-db-admin"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [
            {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            {"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]},
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
            {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]},
        ],
    }


# ---------------------------------------------------------------- the scripts, run by a real shell

SECRET_STRING = '{"username":"app","password":"p\\"a:s$(x)w\\\\d"}'  # JSON-escaped " and \\ as RDS would store them
FAKE_AWS = f"""#!/bin/sh
printf '%s\\n' "$@" > "$RECORD.aws"
printf '%s\\n' '{SECRET_STRING}'
"""
FAKE_CURL = """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD.curl"
while [ "$1" != --output ]; do shift; done
printf -- '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n' > "$2"
"""
FAKE_PSQL = """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD.psql"
printf '%s|%s' "$PGUSER" "$PGPASSWORD" > "$RECORD.login"
cat > "$RECORD.sql"
"""


def run(tmp_path: Path, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    for name, text in (("aws", FAKE_AWS), ("curl", FAKE_CURL), ("psql", FAKE_PSQL)):
        tool = bin_dir / name
        tool.write_text(text)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    path = f"{bin_dir}:/usr/bin:/bin"
    full = {"PATH": path, "RECORD": str(tmp_path / "rec"), **env}
    return subprocess.run(["sh", "-c", script.replace("/work/", f"{work}/")], env=full, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("jq") is None, reason="no jq here (the AWS CLI image has it)")
def test_fetch_script_splits_the_master_secret_and_fetches_the_ca_over_https(tmp_path: Path) -> None:
    env = {"AWS_REGION": "us-west-2", "MASTER_SECRET_ARN": MASTER_SECRET, "CA_BUNDLE_URL": "https://ca.example/b.pem"}
    done = run(tmp_path, db_app_user.FETCH_SCRIPT, env)
    assert done.returncode == 0, done.stderr
    work = tmp_path / "work"
    assert (work / "username").read_text() == "app"
    assert (work / "password").read_text() == 'p"a:s$(x)w\\d'  # JSON unescaped, verbatim, no newline
    assert stat.S_IMODE((work / "password").stat().st_mode) == 0o600
    aws = (tmp_path / "rec.aws").read_text().splitlines()
    assert aws[:2] == ["secretsmanager", "get-secret-value"] and aws[aws.index("--secret-id") + 1] == MASTER_SECRET
    curl = (tmp_path / "rec.curl").read_text().splitlines()
    assert {"--fail", "--proto", "=https"} <= set(curl) and "--insecure" not in curl and "-k" not in curl


def test_bootstrap_script_logs_in_as_the_master_with_verified_tls(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "username").write_text("app")
    (tmp_path / "work" / "password").write_text("pw$(touch pwned)")
    env = {"DB_HOST": "db.example", "DB_PORT": "5432", "DB_NAME": "app", "APP_USER": "helloworld_app"}
    done = run(tmp_path, db_app_user.BOOTSTRAP_SCRIPT, env)
    assert done.returncode == 0, done.stderr
    argv = (tmp_path / "rec.psql").read_text().splitlines()
    assert "app_user=helloworld_app" in argv and "db_name=app" in argv
    conninfo = next(a for a in argv if a.startswith("host="))
    assert "sslmode=verify-full" in conninfo and "global-bundle.pem" in conninfo
    assert (tmp_path / "rec.login").read_text() == "app|pw$(touch pwned)" and not (tmp_path / "pwned").exists()
    assert (tmp_path / "rec.sql").read_text().strip() == db_app_user.BOOTSTRAP_SQL.strip()


def test_sql_is_idempotent_and_least_privilege() -> None:
    sql: list[Any] = db_app_user.BOOTSTRAP_SQL.splitlines()
    assert sql[0] == "\\set ON_ERROR_STOP on"
    create = next(i for i, line in enumerate(sql) if "CREATE ROLE" in line)
    assert "WHERE NOT EXISTS" in sql[create + 1] and sql[create + 1].endswith("\\gexec"), "created only when missing"
    assert 'ALTER ROLE :"app_user" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD NULL;' in sql, "no password exists"
    assert 'GRANT rds_iam TO :"app_user";' in sql
    assert 'CREATE SCHEMA IF NOT EXISTS :"app_user";' in sql
    assert not [line for line in sql if line.startswith("CREATE ") and "IF NOT EXISTS" not in line]
    assert "SUPERUSER" not in db_app_user.BOOTSTRAP_SQL.replace("NOSUPERUSER", "")
