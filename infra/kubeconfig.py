"""Cluster facts → kubeconfig (a plain dict). No Pulumi here, so it is tested as a plain function.

The user entry execs `aws eks get-token`, so the file holds no credential: whoever uses it authenticates as
their own AWS identity (or the configured role/profile), which an EKS access entry must admit.
"""

from __future__ import annotations

from typing import Any

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def build_kubeconfig(
    *,
    cluster_name: str,
    endpoint: str,
    ca_data: str,
    region: str,
    role_arn: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    env = [{"name": "AWS_PROFILE", "value": profile}] if profile else None
    user: dict[str, Any] = {
        "exec": {
            "apiVersion": EXEC_API_VERSION,
            "command": "aws",
            "args": args,
            "env": env,
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "preferences": {},
    }
