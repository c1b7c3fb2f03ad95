"""SecretsStoreCsi component: the Secrets Store CSI driver and AWS's provider for it (ASCP), from AWS's Helm chart.

Why Helm: the chart is what aws/secrets-store-csi-driver-provider-aws documents (it installs the driver as a
dependency and passes its values through), and its rotation settings are documented values. The chart version is
pinned; bump it deliberately. Rotation is on: RDS rotates the managed master password (every 7 days by default)
and the mounted files follow within the poll interval — so apps read the password file on each new connection.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import StackConfig

CHART = "secrets-store-csi-driver-provider-aws"
CHART_VERSION = "3.1.1"
CHART_REPO = "https://aws.github.io/secrets-store-csi-driver-provider-aws"
ROTATION_POLL = "3600s"  # AWS's recommended default: each poll is a GetSecretValue per mounted pod


class SecretsStoreCsi(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        provider: k8s.Provider,
        nodes: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("infra:index:SecretsStoreCsi", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="secrets-store-csi",
            chart=CHART,
            version=CHART_VERSION,
            repository_opts={"repo": CHART_REPO},
            namespace="kube-system",
            values={
                "awsRegion": cfg.region,
                "secrets-store-csi-driver": {
                    "install": True,
                    "enableSecretRotation": True,
                    "rotationPollInterval": ROTATION_POLL,
                    "syncSecret": {"enabled": False},  # files only: no copy in a Kubernetes Secret
                },
            },
            atomic=True,  # a failed install or upgrade rolls back instead of leaving half a driver
            timeout=600,
            # DaemonSets: they become ready only on nodes.
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=nodes),
        )
        self.register_outputs({"chartVersion": CHART_VERSION})
