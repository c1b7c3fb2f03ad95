"""A boto3 session with the credentials the AWS provider is configured with, for the few account facts pulumi-aws
has no data source for (RDS's major-version catalogue)."""

from __future__ import annotations

import boto3
import pulumi


def provider_session() -> boto3.Session:
    """The credentials the AWS provider is configured with: `aws:profile`, or `aws:accessKey`/`secretKey`/`token`,
    then each of `aws:assumeRoles` (or `aws:assumeRole`) in turn; with none of them, the default chain, as the
    provider does."""
    aws_config = pulumi.Config("aws")
    session = boto3.Session(
        profile_name=aws_config.get("profile"),
        aws_access_key_id=aws_config.get("accessKey"),
        aws_secret_access_key=aws_config.get("secretKey"),
        aws_session_token=aws_config.get("token"),
    )
    one_role = aws_config.get_object("assumeRole")
    for role in aws_config.get_object("assumeRoles") or ([one_role] if one_role else []):
        if not isinstance(role, dict) or not role.get("roleArn"):
            continue
        extra = {"ExternalId": role["externalId"]} if role.get("externalId") else {}
        name = role.get("sessionName") or "infra-deploy-checks"
        keys = session.client("sts").assume_role(RoleArn=role["roleArn"], RoleSessionName=name, **extra)["Credentials"]
        session = boto3.Session(
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )
    return session
