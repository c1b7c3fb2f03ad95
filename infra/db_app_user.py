"""The app's own PostgreSQL role, created by a Job the program runs as the master user (the only thing that does).

`helloworld_app` (contract.APP_DB_USER): LOGIN, member of `rds_iam` (IAM database authentication only; it has no
password), CONNECT on the app's database and USAGE+CREATE on a schema of its own name (first on its search_path);
no superuser, createdb or createrole. The SQL is idempotent: running it again changes nothing.

The Job runs as the ServiceAccount `helloworld-db-admin`, whose Pod Identity role may read exactly the master
secret, in a namespace of its own (`<helloworld.namespace>-db-admin`, contract.admin_namespace): any pod may name any
ServiceAccount of its namespace, so only those who may create pods there can read the master secret, and the stack
grants that to no one (no Role, no RoleBinding: cluster admins only). An AWS CLI init container fetches the master
credentials and AWS's RDS CA bundle (verified HTTPS) into an in-memory emptyDir; psql then connects with
sslmode=verify-full.

pulumi-kubernetes awaits a Job until its Complete condition and fails the update on Failed (provider/pkg/await/
job.go, 10 minutes by default). `.spec.template` forces replacement (provider/pkg/provider/diff.go), and a named Job
is replaced delete-before-create, so the Job runs again whenever its pod template changes: new SQL, a new host, or a
new instance (its DbiResourceId is a template annotation). A change of namespace (stacks that ran it in the app's
namespace) replaces it create-before-delete: it runs once more in its own, then the old one goes.
`pulumi.com/replaceUnready` runs a failed Job again on the next `up`. No ttlSecondsAfterFinished: a Job Kubernetes
deleted by itself would be recreated (run again) only after a `pulumi refresh`, which surprises more than a finished
Job kept in the namespace.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra import contract, db_pods

JOB_NAME = contract.ADMIN_SERVICE_ACCOUNT  # the Job is named after the account it runs as
RESOURCE_ID_ANNOTATION = "infra/db-resource-id"  # a new instance (new DbiResourceId) runs the Job again
BACKOFF_LIMIT = 2  # a few tries for what settles within seconds (DNS, the Pod Identity agent), then FAIL
DEADLINE_SECONDS = 300

# Init container: the master credentials (one JSON secret, split with jq) and the RDS CA bundle, into memory.
FETCH_SCRIPT = f"""set -eu
umask 077
secret="$(aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$MASTER_SECRET_ARN" \\
  --query SecretString --output text)"
printf '%s' "$secret" | jq -j -e .username > {db_pods.WORK_DIR}/username
printf '%s' "$secret" | jq -j -e .password > {db_pods.WORK_DIR}/password
curl --fail --silent --show-error --proto '=https' --tlsv1.2 --max-time 30 \\
  --output {db_pods.WORK_DIR}/global-bundle.pem "$CA_BUNDLE_URL"
grep -q -e '-----BEGIN CERTIFICATE-----' {db_pods.WORK_DIR}/global-bundle.pem
"""

# psql interpolates :'name' (a literal) and :"name" (an identifier) safely; \\gexec runs the generated CREATE ROLE
# only when the role is missing. PASSWORD NULL: the role can log in through IAM only. The schema stays the master's
# (creating one owned by the role would need the master to be a member of it, and so of rds_iam).
BOOTSTRAP_SQL = """\\set ON_ERROR_STOP on
SELECT set_config('infra.app_user', :'app_user', false) \\g /dev/null
DO $$ BEGIN
  IF current_setting('infra.app_user') = current_user THEN
    RAISE EXCEPTION 'the master user is named %: the app role needs another name', current_user;
  END IF;
END $$;
SELECT format('CREATE ROLE %I', :'app_user')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'app_user') \\gexec
ALTER ROLE :"app_user" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD NULL;
GRANT rds_iam TO :"app_user";
GRANT CONNECT ON DATABASE :"db_name" TO :"app_user";
CREATE SCHEMA IF NOT EXISTS :"app_user";
GRANT USAGE, CREATE ON SCHEMA :"app_user" TO :"app_user";
"""

BOOTSTRAP_SCRIPT = f"""set -eu
PGUSER="$(cat {db_pods.WORK_DIR}/username)"
PGPASSWORD="$(cat {db_pods.WORK_DIR}/password)"
export PGUSER PGPASSWORD
exec psql -X -q -v app_user="$APP_USER" -v db_name="$DB_NAME" \\
  "host=$DB_HOST port=$DB_PORT dbname=$DB_NAME connect_timeout=10 sslmode=verify-full \\
sslrootcert={db_pods.WORK_DIR}/global-bundle.pem" <<'SQL'
{BOOTSTRAP_SQL}SQL
"""


def job_spec(
    region: str,
    secret_arn: pulumi.Input[str],
    host: pulumi.Input[str],
    port: pulumi.Input[str],
    db_name: str,
    resource_id: pulumi.Input[str],
) -> dict[str, Any]:
    fetch = db_pods.aws_cli(
        "master-credentials",
        FETCH_SCRIPT,
        db_pods.env(
            {"AWS_REGION": region, "MASTER_SECRET_ARN": secret_arn, "CA_BUNDLE_URL": db_pods.RDS_CA_BUNDLE_URL}
        ),
    )
    bootstrap = db_pods.psql(
        BOOTSTRAP_SCRIPT,
        db_pods.env({"DB_HOST": host, "DB_PORT": port, "DB_NAME": db_name, "APP_USER": contract.APP_DB_USER}),
    )
    return {
        "backoffLimit": BACKOFF_LIMIT,
        "activeDeadlineSeconds": DEADLINE_SECONDS,
        "template": {
            "metadata": {"labels": contract.ADMIN_LABELS, "annotations": {RESOURCE_ID_ANNOTATION: resource_id}},
            "spec": db_pods.pod(contract.ADMIN_SERVICE_ACCOUNT, fetch, bootstrap),
        },
    }


def network_policy_spec(vpc_cidr: str) -> dict[str, Any]:
    """Out only to DNS, PostgreSQL in the VPC, HTTPS (Secrets Manager, STS, the RDS truststore) and the Pod Identity
    agent; nothing in."""
    return {
        "podSelector": {"matchLabels": contract.ADMIN_LABELS},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [
            {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            {"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": [{"protocol": "TCP", "port": 5432}]},
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
            {"to": [{"ipBlock": {"cidr": db_pods.POD_IDENTITY_AGENT}}], "ports": [{"protocol": "TCP", "port": 80}]},
        ],
    }


def create(
    name: str,
    namespace: str,
    vpc_cidr: str,
    spec: dict[str, Any],
    needs: list[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> k8s.batch.v1.Job:
    """The admin namespace, its ServiceAccount, NetworkPolicy and Job; `needs`: what must exist before its pod
    starts."""
    home = k8s.core.v1.Namespace(
        f"{name}-db-admin-ns",
        metadata={
            "name": namespace,
            # The pods that hold the master password never run privileged, whoever creates them.
            "labels": {**contract.ADMIN_LABELS, "pod-security.kubernetes.io/enforce": "restricted"},
        },
        opts=opts,
    )
    meta = {"namespace": home.metadata.name, "labels": contract.ADMIN_LABELS}
    account = k8s.core.v1.ServiceAccount(
        f"{name}-db-admin-sa",
        metadata={**meta, "name": contract.ADMIN_SERVICE_ACCOUNT},
        automount_service_account_token=False,
        opts=opts,
    )
    policy = k8s.networking.v1.NetworkPolicy(
        f"{name}-db-admin-netpol",
        metadata={**meta, "name": JOB_NAME},
        spec=network_policy_spec(vpc_cidr),
        opts=opts,
    )
    return k8s.batch.v1.Job(
        f"{name}-db-app-user",
        metadata={**meta, "name": JOB_NAME, "annotations": {"pulumi.com/replaceUnready": "true"}},
        spec=spec,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[account, policy, *needs])),
    )
