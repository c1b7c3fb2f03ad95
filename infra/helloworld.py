"""HelloWorld component: the image (ECR or Docker Hub), the workload (RC or Deployment), a PDB, the ELB Service.

Zero-downtime upgrade with a ReplicationController (what the old `kubectl rolling-update` did):
the RC's `metadata.name` carries the version, and pulumi-kubernetes replaces a resource whose name changes
create-before-delete. Its RC await blocks until `status.availableReplicas == spec.replicas` (a pod counts as
available after being Ready for `minReadySeconds`), and only then is the old RC deleted. The Service selects
`app=helloworld` only, so both versions serve while the new one comes up, then only the new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from infra import db_credentials, image_source
from infra.app_identity import SERVICE_ACCOUNT
from infra.config import HelloWorldConfig, StackConfig
from infra.preflight import ecr_repository_name

APP_DIR = "apps/helloworld"  # relative to the project, where `pulumi up` runs
PROJECT_DIR = Path(__file__).resolve().parent.parent
PLATFORM = "linux/amd64"
PORT = 8080
UID = 65532  # distroless "nonroot"
PRESTOP_SECONDS = 10  # time for endpoints and the ELB to stop sending new requests to a terminating pod
SHUTDOWN_SECONDS = 15  # the app's graceful-shutdown budget after SIGTERM
GRACE_SECONDS = PRESTOP_SECONDS + SHUTDOWN_SECONDS + 5
DB_SECRET_NAME = "helloworld-db"
KEEP_LAST_20_IMAGES = {
    "rulePriority": 1,
    "description": "keep the last 20 images",
    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20},
    "action": {"type": "expire"},
}
AWAIT_TIMEOUT = "900"  # pulumi.com/timeoutSeconds: a new version must be available within 15 minutes


def selector_labels() -> dict[str, str]:
    """What the Service and the PDB select: every version, every track."""
    return {"app": "helloworld"}


def pod_labels(version: str) -> dict[str, str]:
    """The runbook's RC labels: `kubectl get rc` shows SELECTOR app=helloworld,track=stable,version=<version>."""
    return {**selector_labels(), "track": "stable", "version": version}


# A Classic ELB speaks at most TLS 1.2; this predefined policy allows nothing older.
TLS_POLICY = "ELBSecurityPolicy-TLS-1-2-2017-01"
PUBLIC_NAME_ANNOTATION = "infra/public-name"  # what the policy pack reads: this Service answers a public name


@dataclass(frozen=True)
class PublicName:
    """The public name the ELB answers, and its issued certificate (None: plain HTTP)."""

    fqdn: str
    certificate_arn: pulumi.Input[str] | None


def tls_annotations(certificate_arn: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """The cloud provider's Classic ELB listeners: 443 terminates TLS with the certificate, both listeners speak
    HTTP to the pods (so the ELB sets X-Forwarded-Proto, which the app uses to redirect port 80)."""
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    return {
        f"{prefix}ssl-cert": certificate_arn,
        f"{prefix}ssl-ports": "https",
        f"{prefix}backend-protocol": "http",
        f"{prefix}ssl-negotiation-policy": TLS_POLICY,
    }


@dataclass(frozen=True)
class DatabaseAccess:
    """What the pods' credential files need: the CSI driver installed and the Pod Identity association."""

    csi: pulumi.Resource
    association: pulumi.Resource


@dataclass(frozen=True)
class DatabaseFacts:
    """How the app reaches the database; the password stays in Secrets Manager."""

    host: pulumi.Input[str]
    port: pulumi.Input[int]
    name: str
    username: str
    secret_arn: pulumi.Input[str]


def build_args(h: HelloWorldConfig) -> dict[str, str]:
    return {"GREETING": h.greeting, "VERSION": h.version}


def https_redirect(cfg: StackConfig) -> bool:
    """The ELB terminates TLS for the public name (a certificate exists), so port 80 redirects."""
    return cfg.dns is not None and cfg.dns.tls


def image_tag(cfg: StackConfig) -> str:
    """`<version>_<hash of what the build reads>`: a rebuild from other sources gets another tag, never the same.
    With a ReplicationController the pod template counts too: an RC patched in place never replaces its pods, so
    any template change must come with a new version (a new RC)."""
    h = cfg.helloworld
    template = pod_spec("<image>", https_redirect(cfg)) if h.workload == "ReplicationController" else None
    return image_source.image_tag(
        h.version, image_source.source_hash(PROJECT_DIR / APP_DIR, build_args(h), PLATFORM, extra=template)
    )


def pod_spec(image: pulumi.Input[str], https_redirect: bool = False) -> dict[str, Any]:
    """The app's pods: locked down, probed, draining on shutdown, database credentials as read-only files."""
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    db_env = [
        {"name": env, "valueFrom": {"secretKeyRef": {"name": DB_SECRET_NAME, "key": key}}}
        for env, key in (("DB_HOST", "host"), ("DB_PORT", "port"))
    ]
    return {
        "serviceAccountName": SERVICE_ACCOUNT,  # Pod Identity: may read the database secret, nothing else
        "automountServiceAccountToken": False,  # the app never calls the Kubernetes API
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "helloworld",
                "image": image,
                "imagePullPolicy": "Always",  # cheap with a digest reference, and never a stale tag
                "ports": [{"name": "http", "containerPort": PORT}],
                "env": [
                    {"name": "PORT", "value": str(PORT)},
                    {"name": "SHUTDOWN_TIMEOUT", "value": str(SHUTDOWN_SECONDS)},
                    {"name": "HTTPS_REDIRECT", "value": "true" if https_redirect else "false"},
                    *db_env,
                    *db_credentials.container_env(),
                ],
                "volumeMounts": [db_credentials.container_mount()],
                "readinessProbe": {**probe, "periodSeconds": 2, "failureThreshold": 2},
                "livenessProbe": {**probe, "initialDelaySeconds": 3, "periodSeconds": 10, "failureThreshold": 3},
                "resources": {
                    "requests": {"cpu": "50m", "memory": "32Mi"},
                    "limits": {"cpu": "250m", "memory": "64Mi"},
                },
                "securityContext": {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                # The image has no shell, so the pause is the kubelet's own sleep action (Kubernetes >= 1.30).
                "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
            }
        ],
        "volumes": [db_credentials.pod_volume()],
    }


class HelloWorld(pulumi.ComponentResource):
    image_ref: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    workload: str

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        provider: k8s.Provider,
        nodes: list[pulumi.Resource],
        database: DatabaseFacts,
        tag: str,
        access: DatabaseAccess,
        public: PublicName | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("infra:index:HelloWorld", name, None, opts)
        h = cfg.helloworld
        self.image_ref = self._image(name, cfg, tag)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=provider)

        ns = k8s.core.v1.Namespace(
            f"{name}-ns", metadata={"name": h.namespace, "labels": selector_labels()}, opts=k8s_opts
        )
        meta = {"namespace": ns.metadata.name}
        db_secret = k8s.core.v1.Secret(
            f"{name}-db",
            metadata={**meta, "name": DB_SECRET_NAME, "labels": selector_labels()},
            type="Opaque",
            string_data={
                "host": database.host,
                "port": pulumi.Output.from_input(database.port).apply(str),
                "dbname": database.name,
                "username": database.username,
                "passwordSecretArn": database.secret_arn,
            },
            opts=k8s_opts,
        )
        needed = db_credentials.create(
            name, ns.metadata.name, cfg.region, cfg.network.cidr, database.secret_arn, access.csi, k8s_opts
        )
        # Pods need nodes to become available, and to start: the DB secret, the credentials' files and the
        # AWS identity the CSI provider fetches them with.
        workload_opts = pulumi.ResourceOptions.merge(
            k8s_opts, pulumi.ResourceOptions(depends_on=[*nodes, db_secret, *needed, access.association])
        )
        labels = pod_labels(h.version)
        tls = https_redirect(cfg)
        template = {"metadata": {"labels": labels}, "spec": pod_spec(self.image_ref, https_redirect=tls)}
        annotations = {"pulumi.com/timeoutSeconds": AWAIT_TIMEOUT}
        if h.workload == "ReplicationController":
            rc_name = f"helloworld-{h.version}"
            k8s.core.v1.ReplicationController(
                f"{name}-rc",  # a stable URN: a version change is a replacement of this resource...
                metadata={**meta, "name": rc_name, "labels": labels, "annotations": annotations},
                spec={
                    "replicas": h.replicas,
                    "selector": labels,
                    "minReadySeconds": h.update_period_seconds,
                    "template": template,
                },
                # ...and a replacement creates the new RC, awaits it, then deletes the old one. Never the reverse.
                opts=pulumi.ResourceOptions.merge(workload_opts, pulumi.ResourceOptions(delete_before_replace=False)),
            )
            self.workload = f"rc/{rc_name}"
        else:
            k8s.apps.v1.Deployment(
                f"{name}-deployment",
                metadata={**meta, "name": "helloworld", "labels": labels, "annotations": annotations},
                spec={
                    "replicas": h.replicas,
                    # The selector is immutable, so it leaves out the version; the template carries it.
                    "selector": {"matchLabels": {"app": "helloworld", "track": "stable"}},
                    "minReadySeconds": h.update_period_seconds,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                    "template": template,
                },
                opts=workload_opts,
            )
            self.workload = "deployment/helloworld"

        # Voluntary disruptions (drains, node upgrades, swap-node) take at most one pod at a time.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={**meta, "name": "helloworld", "labels": selector_labels()},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector_labels()}},
            opts=k8s_opts,
        )
        # Least privilege on the network too (enforced once the VPC CNI's network policy agent is on): HTTP in
        # from anywhere (the ELB reaches pods through node ports), out only to DNS, PostgreSQL in the VPC and the
        # Pod Identity agent (for an AWS SDK in the app). Fetching the secret over HTTPS is the CSI provider's job:
        # its pods run in kube-system, which no NetworkPolicy selects, so nothing here blocks them.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={**meta, "name": "helloworld", "labels": selector_labels()},
            spec={
                "podSelector": {"matchLabels": selector_labels()},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}],
                "egress": [
                    {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                    {"to": [{"ipBlock": {"cidr": cfg.network.cidr}}], "ports": [{"protocol": "TCP", "port": 5432}]},
                    {
                        "to": [{"ipBlock": {"cidr": db_credentials.POD_IDENTITY_AGENT}}],
                        "ports": [{"protocol": "TCP", "port": 80}],
                    },
                ],
            },
            opts=k8s_opts,
        )
        service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata={
                **meta,
                "name": "helloworld",
                "labels": selector_labels(),
                "annotations": {
                    # A Classic ELB keeps in-flight requests to a deregistered node for as long as a pod may drain.
                    "service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled": "true",
                    "service.beta.kubernetes.io/aws-load-balancer-connection-draining-timeout": str(GRACE_SECONDS),
                    "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
                    **({PUBLIC_NAME_ANNOTATION: public.fqdn} if public else {}),
                    **(tls_annotations(public.certificate_arn) if public and public.certificate_arn else {}),
                },
            },
            spec={
                "type": "LoadBalancer",
                "selector": selector_labels(),
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                    *([{"name": "https", "port": 443, "targetPort": "http", "protocol": "TCP"}] if tls else []),
                ],
            },
            opts=k8s_opts,
        )
        self.endpoint = service.status.apply(_ingress_hostname)
        self.register_outputs({"endpoint": self.endpoint, "image": self.image_ref, "workload": self.workload})

    def _image(self, name: str, cfg: StackConfig, tag: str) -> pulumi.Output[str]:
        """Build apps/helloworld for linux/amd64 and push it; returns the pushed digest reference."""
        h = cfg.helloworld
        child = pulumi.ResourceOptions(parent=self)
        if h.registry == "dockerhub":
            repository: pulumi.Input[str] = f"docker.io/{h.dockerhub_username}/helloworld"
            registry = docker.RegistryArgs(
                server="docker.io", username=h.dockerhub_username, password=cfg.dockerhub_token
            )
        else:
            repo = aws.ecr.Repository(
                f"{name}-repo",
                name=ecr_repository_name(cfg),  # known before it exists: the deploy-time image check reads it
                image_scanning_configuration={"scan_on_push": True},
                image_tag_mutability="IMMUTABLE",  # one tag, one image, for ever: what pods run never changes
                force_delete=True,  # teardown must not fail on pushed images
                tags=cfg.tags("helloworld"),
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-repo",
                repository=repo.name,
                policy=json.dumps({"rules": [KEEP_LAST_20_IMAGES]}),
                opts=child,
            )
            token = aws.ecr.get_authorization_token_output(registry_id=repo.registry_id)
            repository = repo.repository_url
            registry = docker.RegistryArgs(
                server=repo.repository_url, username=token.user_name, password=pulumi.Output.secret(token.password)
            )
        image = docker.Image(
            f"{name}-image",
            image_name=pulumi.Output.concat(repository, ":", tag),
            build=docker.DockerBuildArgs(
                context=APP_DIR,
                dockerfile=f"{APP_DIR}/Dockerfile",
                platform=PLATFORM,
                args=build_args(h),
            ),
            registry=registry,
            opts=child,
        )
        return image.repo_digest


def _ingress_hostname(status: Any) -> str:
    ingress = (status.load_balancer.ingress or []) if status and status.load_balancer else []
    return (ingress[0].hostname or ingress[0].ip or "") if ingress else ""
