"""AppIdentity component: one ServiceAccount's AWS identity through EKS Pod Identity, with one inline policy.

The IAM role is trusted only by EKS Pod Identity; the association binds it to a ServiceAccount of a namespace. The
stack has two: the app's pods (`rds-db:connect` as exactly `helloworld_app` on exactly this instance, in the app's
namespace) and the role bootstrap Job (`secretsmanager:GetSecretValue` on exactly the master secret, in its own
namespace, contract.admin_namespace, where only cluster admins create pods). Nothing else can read the master secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.tagging import Tagger


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


def _allow(sid: str, action: str, resource: str) -> str:
    statement = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def read_secret_policy(secret_arn: str) -> str:
    return _allow("ReadTheMasterSecret", "secretsmanager:GetSecretValue", secret_arn)


def dbuser_arn(instance_arn: str, resource_id: str, user: str) -> str:
    """`arn:<partition>:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>` (RDS user guide, "Creating and
    using an IAM policy for IAM database access"); partition, region and account from the instance's own ARN."""
    _, partition, _, region, account, *_ = instance_arn.split(":")
    return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{user}"


def connect_policy(instance_arn: pulumi.Input[str], resource_id: pulumi.Input[str], user: str) -> pulumi.Output[str]:
    """`rds-db:connect` as exactly `user` on exactly this instance."""
    return pulumi.Output.all(instance_arn, resource_id).apply(
        lambda known: _allow("LogInAsTheAppUser", "rds-db:connect", dbuser_arn(known[0], known[1], user))
    )


@dataclass(frozen=True)
class AppIdentityArgs:
    cluster_name: str  # the stack's resource prefix, said in the role's description
    eks_cluster: pulumi.Input[str]  # the EKS cluster's name as its output: the association waits for the cluster
    namespace: str
    service_account: str
    purpose: str  # said in the role's description
    policy: pulumi.Input[str]  # what the role may do
    tags: Tagger


class AppIdentity(pulumi.ComponentResource):
    association: aws.eks.PodIdentityAssociation

    def __init__(
        self,
        name: str,
        args: AppIdentityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("infra:index:AppIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        service_account = args.service_account
        tags = args.tags(f"{service_account}-pods")
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=pod_identity_trust(),
            description=f"{args.cluster_name} {service_account} pods: {args.purpose}",
            tags=tags,
            opts=child,
        )
        allowed = aws.iam.RolePolicy(f"{name}-policy", role=role.name, policy=args.policy, opts=child)
        self.association = aws.eks.PodIdentityAssociation(
            f"{name}-association",
            cluster_name=args.eks_cluster,
            namespace=args.namespace,
            service_account=service_account,
            role_arn=role.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[allowed]),  # pods get a role already allowed
        )
        self.register_outputs({"roleArn": role.arn})
