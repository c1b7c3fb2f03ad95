"""AppIdentity component: the app's AWS identity through EKS Pod Identity, allowed to read exactly one secret.

The IAM role is trusted only by EKS Pod Identity; its one policy reads the database's RDS-managed secret and nothing
else. The association binds it to the app's ServiceAccount; the Secrets Store CSI provider (on the node) uses it to
fetch the secret and mount username/password as files in the pod.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig

SERVICE_ACCOUNT = "helloworld"
SECRET_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")


def pod_identity_trust() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


def read_secret_policy(secret_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadTheDatabaseSecret",
                    "Effect": "Allow",
                    "Action": list(SECRET_ACTIONS),
                    "Resource": secret_arn,
                }
            ],
        }
    )


class AppIdentity(pulumi.ComponentResource):
    association: aws.eks.PodIdentityAssociation

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        cluster_name: pulumi.Input[str],
        secret_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("infra:index:AppIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=pod_identity_trust(),
            description=f"{cfg.cluster_name} helloworld pods: read the database secret",
            tags=cfg.tags("helloworld-pods"),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-read-db-secret",
            role=role.name,
            policy=pulumi.Output.from_input(secret_arn).apply(read_secret_policy),
            opts=child,
        )
        self.association = aws.eks.PodIdentityAssociation(
            f"{name}-association",
            cluster_name=cluster_name,
            namespace=cfg.helloworld.namespace,
            service_account=SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=cfg.tags("helloworld-pods"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),  # pods get a role that can already read
        )
        self.register_outputs({"roleArn": role.arn})
