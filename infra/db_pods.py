"""The short-lived pods that log in to PostgreSQL, and the container settings every pod of the stack shares.

The program (the role bootstrap Job in infra/db_app_user.py, the app's pods) and `verify`'s `database login` Job
(infra/ops/verify/db_login.py) build their pods from the same pieces. Who logs in as what (the ServiceAccounts, the
app's database role, the admin namespace) is in infra/contract.py. Pure Python: ops imports it.
"""

from __future__ import annotations

from typing import Any

from infra import contract

POD_IDENTITY_AGENT = "169.254.170.23/32"  # EKS Pod Identity agent's link-local address (IPv4), port 80
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
# AWS CLI v2 reads Pod Identity credentials (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) since 2.15.0 (EKS user guide,
# "Use pod identity with the AWS SDK"); its image is Amazon Linux 2023 with curl and jq since 2.28.0.
# Both pinned by digest (the tag says which release): a tag re-pointed upstream never changes what runs. The digests
# are the published multi-arch indexes of those tags; `docker buildx imagetools inspect <image>` shows them.
AWS_CLI_IMAGE = (
    "public.ecr.aws/aws-cli/aws-cli:2.36.15@sha256:310813a7eae8fd88da1cc9c37970e3500b0ff3984479e1012f0a6fd44e453f63"
)
# Docker Hub's official image through AWS's public mirror (same digests): no anonymous pull limit shared by every
# node behind the NAT. psql 18: the default server major (a newer psql talks to every older server).
PSQL_IMAGE = (
    "public.ecr.aws/docker/library/postgres:18-alpine"
    "@sha256:9a8afca54e7861fd90fab5fdf4c42477a6b1cb7d293595148e674e0a3181de15"
)
# One UID for both containers (they share the files in WORK_DIR), the app's (contract.NONROOT_UID). Neither client
# needs a passwd entry: HOME points at WORK_DIR.
WORK_DIR = "/work"  # the pod's in-memory emptyDir: what the AWS CLI hands to psql (a password, a token, the CA)
WORK_VOLUME = "work"

# Pod Security `restricted`, read-only root filesystem: every container the stack runs (the app's too) carries it.
HARDENED_CONTAINER: dict[str, Any] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
RESTRICTED_POD: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
# No pager in a pod.
AWS_CLI_ENV = [{"name": "AWS_PAGER", "value": ""}]


def container(
    name: str, image: str, script: str, env: list[dict[str, Any]], memory: str, mounts: list[dict[str, Any]]
) -> dict[str, Any]:
    """A `sh -c` container (values arrive as environment variables, so nothing from the stack is parsed as shell),
    HOME on the emptyDir (the root filesystem is read-only), bounded in CPU and memory."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "Always",  # a tag re-pointed upstream is noticed at the next run
        "command": ["sh", "-c", script],  # replaces the image's own entrypoint
        "env": [{"name": "HOME", "value": WORK_DIR}, *env],
        "resources": {"requests": {"cpu": "50m", "memory": memory}, "limits": {"cpu": "250m", "memory": memory}},
        "securityContext": {
            **HARDENED_CONTAINER,
            "runAsUser": contract.NONROOT_UID,
            "runAsGroup": contract.NONROOT_UID,
        },
        "volumeMounts": [{"name": WORK_VOLUME, "mountPath": WORK_DIR}, *mounts],
    }


def aws_cli(name: str, script: str, env: list[dict[str, Any]]) -> dict[str, Any]:
    return container(name, AWS_CLI_IMAGE, script, [*AWS_CLI_ENV, *env], "256Mi", [])


def psql(script: str, env: list[dict[str, Any]], mounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return container("psql", PSQL_IMAGE, script, env, "64Mi", mounts or [])


def pod(
    service_account: str, init: dict[str, Any], main: dict[str, Any], volumes: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One try: the AWS CLI prepares in `init`, psql runs in `main`; secrets live in memory only."""
    return {
        "serviceAccountName": service_account,
        # Pod Identity injects its own token volume; neither container calls the Kubernetes API.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Never",
        "securityContext": RESTRICTED_POD,
        "initContainers": [init],
        "containers": [main],
        "volumes": [{"name": WORK_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}}, *(volumes or [])],
    }


def env(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": key, "value": value} for key, value in values.items()]
