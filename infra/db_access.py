"""The Kubernetes side of the app's database access: no credentials in pods, only where and as whom to log in.

The app's pods run as the ServiceAccount `helloworld`, whose Pod Identity role may `rds-db:connect` as
`helloworld_app` only (infra/app_identity.py); they get DB_HOST, DB_PORT, DB_NAME and DB_USER from the Secret
`helloworld-db` and make a 15-minute IAM auth token when they connect. Here: that ServiceAccount, the NetworkPolicy of
`verify`'s `database login` Job, and the Job that creates the role in its own namespace (infra/db_app_user.py).

Part of the HelloWorld component (its children); the AWS side (roles, policies, associations) is infra/app_identity.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import contract, db_app_user, db_pods


@dataclass(frozen=True)
class DatabaseEndpoint:
    """How the app reaches the database, and what the role bootstrap needs (the master secret's ARN, the
    instance's DbiResourceId). No password: the app logs in with IAM tokens."""

    host: pulumi.Input[str]
    port: pulumi.Input[int]
    name: str
    secret_arn: pulumi.Input[str]
    resource_id: pulumi.Input[str]


@dataclass(frozen=True)
class DatabaseAccess:
    """What must exist before a pod logs in: the Pod Identity associations (app and bootstrap) and the database's
    ingress rule from the cluster."""

    associations: list[pulumi.Resource]
    reachable: pulumi.Resource


def create(
    name: str,
    namespace: pulumi.Input[str],
    admin_namespace: str,
    region: str,
    vpc_cidr: str,
    database: DatabaseEndpoint,
    access: DatabaseAccess,
    nodes: list[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> list[pulumi.Resource]:
    """The Kubernetes objects the app's pods need before they start: their ServiceAccount (in the app's `namespace`)
    and their role (made by the Job in `admin_namespace`)."""
    account = k8s.core.v1.ServiceAccount(
        f"{name}-sa",
        metadata={"namespace": namespace, "name": contract.APP_SERVICE_ACCOUNT, "labels": contract.APP_LABELS},
        automount_service_account_token=False,  # the app never calls the Kubernetes API
        opts=opts,
    )
    login_policy = k8s.networking.v1.NetworkPolicy(
        f"{name}-dblogin-netpol",
        metadata={"namespace": namespace, "name": contract.DB_LOGIN_LABELS["app"], "labels": contract.DB_LOGIN_LABELS},
        spec={
            "podSelector": {"matchLabels": contract.DB_LOGIN_LABELS},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": [{"protocol": "TCP", "port": 5432}]},
                # the token is signed locally with the role's credentials: the agent is the only AWS endpoint
                {
                    "to": [{"ipBlock": {"cidr": db_pods.POD_IDENTITY_AGENT}}],
                    "ports": [{"protocol": "TCP", "port": 80}],
                },
            ],
        },
        opts=opts,
    )
    spec = db_app_user.job_spec(
        region,
        database.secret_arn,
        database.host,
        pulumi.Output.from_input(database.port).apply(str),
        database.name,
        database.resource_id,
    )
    role = db_app_user.create(
        name, admin_namespace, vpc_cidr, spec, needs=[*nodes, *access.associations, access.reachable], opts=opts
    )
    return [account, login_policy, role]
