"""The app's database credentials as files: its ServiceAccount, the SecretProviderClass that mounts the RDS-managed
secret's username and password (read-only, rotated with it), and the NetworkPolicy of the `database login` check.

Part of the HelloWorld component (its children); the AWS side (role, policy, association) is infra/app_identity.py.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from infra.app_identity import SERVICE_ACCOUNT

PROVIDER_CLASS = "helloworld-db"
CSI_DRIVER = "secrets-store.csi.k8s.io"
MOUNT_PATH = "/mnt/db"  # files: username, password
VOLUME = "db-credentials"
POD_IDENTITY_AGENT = "169.254.170.23/32"  # EKS Pod Identity agent's link-local address (IPv4), port 80
DB_LOGIN_LABELS = {"app": "helloworld-dblogin"}  # the verify Job's pods: not selected by the app's Service or PDB


def provider_objects(secret_arn: str) -> str:
    """ASCP's `objects` parameter: the secret by ARN, its JSON keys as two files."""
    return yaml.safe_dump(
        [
            {
                "objectName": secret_arn,
                "objectType": "secretsmanager",
                "jmesPath": [
                    {"path": "username", "objectAlias": "username"},
                    {"path": "password", "objectAlias": "password"},
                ],
            }
        ],
        sort_keys=False,
    )


def pod_volume() -> dict[str, Any]:
    return {
        "name": VOLUME,
        "csi": {"driver": CSI_DRIVER, "readOnly": True, "volumeAttributes": {"secretProviderClass": PROVIDER_CLASS}},
    }


def container_mount() -> dict[str, Any]:
    return {"name": VOLUME, "mountPath": MOUNT_PATH, "readOnly": True}


def container_env() -> list[dict[str, str]]:
    """Where the files are. Apps read them on every new connection: RDS rotates the password and the driver
    rewrites the files; an environment variable would keep the old one until the pod restarts."""
    return [
        {"name": "DB_USERNAME_FILE", "value": f"{MOUNT_PATH}/username"},
        {"name": "DB_PASSWORD_FILE", "value": f"{MOUNT_PATH}/password"},
    ]


def create(
    name: str,
    namespace: pulumi.Input[str],
    region: str,
    vpc_cidr: str,
    secret_arn: pulumi.Input[str],
    csi: pulumi.Resource,
    opts: pulumi.ResourceOptions,
) -> list[pulumi.Resource]:
    """The Kubernetes objects the app's pods need before they can start."""
    account = k8s.core.v1.ServiceAccount(
        f"{name}-sa",
        metadata={"namespace": namespace, "name": SERVICE_ACCOUNT, "labels": {"app": "helloworld"}},
        automount_service_account_token=False,  # the app never calls the Kubernetes API; the CSI driver asks itself
        opts=opts,
    )
    provider_class = k8s.apiextensions.CustomResource(
        f"{name}-db-files",
        api_version="secrets-store.csi.x-k8s.io/v1",
        kind="SecretProviderClass",
        metadata={"namespace": namespace, "name": PROVIDER_CLASS, "labels": {"app": "helloworld"}},
        spec={
            "provider": "aws",
            "parameters": {
                "objects": pulumi.Output.from_input(secret_arn).apply(provider_objects),
                "usePodIdentity": "true",
                "region": region,
            },
        },
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[csi])
        ),  # its CRD comes with the chart
    )
    login_policy = k8s.networking.v1.NetworkPolicy(
        f"{name}-dblogin-netpol",
        metadata={"namespace": namespace, "name": "helloworld-dblogin", "labels": DB_LOGIN_LABELS},
        spec={
            "podSelector": {"matchLabels": DB_LOGIN_LABELS},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": [{"protocol": "TCP", "port": 5432}]},
            ],
        },
        opts=opts,
    )
    return [account, provider_class, login_policy]
