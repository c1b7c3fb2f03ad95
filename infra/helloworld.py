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

from infra import contract, db_access, image_source, registry_image
from infra.config import DnsConfig, HelloWorldConfig
from infra.db_access import DatabaseAccess, DatabaseEndpoint
from infra.db_pods import HARDENED_CONTAINER, POD_IDENTITY_AGENT
from infra.registry_image import ImageFacts
from infra.tagging import Tagger

APP_DIR = "apps/helloworld"  # relative to the project, where `pulumi up` runs
PROJECT_DIR = Path(__file__).resolve().parent.parent
PORT = 8080
DB_SECRET_NAME = "helloworld-db"
KEEP_LAST_20_IMAGES = {
    "rulePriority": 1,
    "description": "keep the last 20 images",
    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20},
    "action": {"type": "expire"},
}
AWAIT_TIMEOUT = "900"  # pulumi.com/timeoutSeconds: a new version must be available within 15 minutes
# The ELB's health check (cloud-provider-aws: defaults interval 10 s, unhealthy threshold 6, timeout 5, healthy 2;
# ELB's minimums: interval 5, thresholds 2, timeout 2 and below the interval). With externalTrafficPolicy Local it
# asks kube-proxy's healthCheckNodePort, which fails once the node has no ready helloworld pod.
HEALTH_CHECK_INTERVAL_SECONDS = 5
HEALTH_CHECK_TIMEOUT_SECONDS = 2
UNHEALTHY_THRESHOLD = 2
HEALTHY_THRESHOLD = 2
# The node's last pod is unready from its eviction on and serves new requests only through its preStop pause, so the
# pause must outlast the ELB marking the node OutOfService: a check already passed or in flight when the pod went
# (up to one interval of phase), then UNHEALTHY_THRESHOLD failed checks, 5 s x (2 + 1) = 15 s; plus 5 s for
# kube-proxy seeing the EndpointSlice change, the last check's 2 s timeout and the ELB acting on it: 20 s.
PRESTOP_SECONDS = HEALTH_CHECK_INTERVAL_SECONDS * (UNHEALTHY_THRESHOLD + 1) + 5
SHUTDOWN_SECONDS = 15  # the app's graceful-shutdown budget after SIGTERM (its WriteTimeout, 15 s, fits in it)
GRACE_SECONDS = PRESTOP_SECONDS + SHUTDOWN_SECONDS + 5  # 20 + 15 + 5 = 40 s before SIGKILL


def selector_labels() -> dict[str, str]:
    """What the Service and the PDB select: every version, every track."""
    return dict(contract.APP_LABELS)


def pod_labels(version: str) -> dict[str, str]:
    """The runbook's RC labels: `kubectl get rc` shows SELECTOR app=helloworld,track=stable,version=<version>."""
    return {**selector_labels(), "track": "stable", "version": version}


# A Classic ELB speaks at most TLS 1.2; this predefined policy allows nothing older.
TLS_POLICY = "ELBSecurityPolicy-TLS-1-2-2017-01"


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


def health_check_annotations() -> dict[str, str]:
    """The names the AWS cloud provider reads (pkg/providers/v1/aws.go, ServiceAnnotationLoadBalancerHC*)."""
    prefix = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-"
    return {
        f"{prefix}interval": str(HEALTH_CHECK_INTERVAL_SECONDS),
        f"{prefix}timeout": str(HEALTH_CHECK_TIMEOUT_SECONDS),
        f"{prefix}unhealthy-threshold": str(UNHEALTHY_THRESHOLD),
        f"{prefix}healthy-threshold": str(HEALTHY_THRESHOLD),
    }


def build_args(h: HelloWorldConfig) -> dict[str, str]:
    return {"GREETING": h.greeting, "VERSION": h.version}


def https_redirect(dns: DnsConfig | None) -> bool:
    """The ELB terminates TLS for the public name (a certificate exists), so port 80 redirects."""
    return dns is not None and dns.tls


def image_tag(h: HelloWorldConfig, https_redirect: bool) -> str:
    """`<version>_<hash of what the build reads>`: a rebuild from other sources gets another tag, never the same.
    With a ReplicationController the pod template counts too: an RC patched in place never replaces its pods, so
    any template change must come with a new version (a new RC)."""
    template = (
        pod_spec("<image>", pod_labels(h.version), https_redirect) if h.workload == "ReplicationController" else None
    )
    return image_source.image_tag(
        h.version,
        image_source.source_hash(PROJECT_DIR / APP_DIR, build_args(h), contract.IMAGE_PLATFORM, extra=template),
    )


def pod_spec(image: pulumi.Input[str], labels: dict[str, str], https_redirect: bool = False) -> dict[str, Any]:
    """The app's pods: locked down, probed, draining on shutdown, no database credentials (IAM auth tokens), spread
    over nodes."""
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    db_env = [
        {"name": env, "valueFrom": {"secretKeyRef": {"name": DB_SECRET_NAME, "key": key}}}
        for env, key in (("DB_HOST", "host"), ("DB_PORT", "port"), ("DB_NAME", "dbname"), ("DB_USER", "username"))
    ]
    return {
        "serviceAccountName": contract.APP_SERVICE_ACCOUNT,  # Pod Identity: may log in as APP_DB_USER, nothing else
        "automountServiceAccountToken": False,  # the app never calls the Kubernetes API
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        # With externalTrafficPolicy Local the ELB serves only nodes with a ready pod: one pod per node where there
        # are enough nodes, so a node roll takes one pod's share. Preferred, not required: a full or missing node
        # must never leave a pod Pending (an RC rollout or a drain would wait on it). Cordoned nodes do not count.
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "nodeTaintsPolicy": "Honor",
                "labelSelector": {"matchLabels": labels},
            }
        ],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": contract.NONROOT_UID,
            "runAsGroup": contract.NONROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": contract.APP,
                "image": image,
                "imagePullPolicy": "Always",  # cheap with a digest reference, and never a stale tag
                "ports": [{"name": "http", "containerPort": PORT}],
                "env": [
                    {"name": "PORT", "value": str(PORT)},
                    {"name": "SHUTDOWN_TIMEOUT", "value": str(SHUTDOWN_SECONDS)},
                    {"name": "HTTPS_REDIRECT", "value": "true" if https_redirect else "false"},
                    *db_env,
                ],
                "readinessProbe": {**probe, "periodSeconds": 2, "failureThreshold": 2},
                "livenessProbe": {**probe, "initialDelaySeconds": 3, "periodSeconds": 10, "failureThreshold": 3},
                "resources": {
                    "requests": {"cpu": "50m", "memory": "32Mi"},
                    "limits": {"cpu": "250m", "memory": "64Mi"},
                },
                "securityContext": HARDENED_CONTAINER,
                # The image has no shell, so the pause is the kubelet's own sleep action (Kubernetes >= 1.30).
                "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
            }
        ],
    }


@dataclass(frozen=True)
class HelloWorldArgs:
    settings: HelloWorldConfig  # version, greeting, replicas, workload, namespace, registry
    cluster_name: str  # the ECR repository derives from it
    region: str  # where the app's pods sign IAM auth tokens
    vpc_cidr: str  # the only place the pods may reach PostgreSQL in
    https_redirect: bool  # the ELB terminates TLS for the public name: port 80 redirects
    dockerhub_token: pulumi.Output[str] | None  # for registry "dockerhub"
    provider: k8s.Provider
    nodes: list[pulumi.Resource]  # what must run before pods can
    database: DatabaseEndpoint
    image: ImageFacts  # this build's tag, and the digest the registry already holds under it
    access: DatabaseAccess
    public: PublicName | None  # None: the ELB's own hostname, plain HTTP
    tags: Tagger


class HelloWorld(pulumi.ComponentResource):
    image_ref: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    workload: str

    def __init__(
        self,
        name: str,
        args: HelloWorldArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("infra:index:HelloWorld", name, None, opts)
        h, database, access, nodes, public = args.settings, args.database, args.access, args.nodes, args.public
        provider = args.provider
        self.image_ref = self._image(name, args)
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
                "username": contract.APP_DB_USER,
            },
            opts=k8s_opts,
        )
        needed = db_access.create(
            name,
            ns.metadata.name,
            contract.admin_namespace(h.namespace),
            args.region,
            args.vpc_cidr,
            database,
            access,
            nodes,
            k8s_opts,
        )
        # Pods need nodes to become available, and to start: the DB secret, their ServiceAccount, their database role
        # and the AWS identity they sign IAM auth tokens with.
        workload_opts = pulumi.ResourceOptions.merge(
            k8s_opts, pulumi.ResourceOptions(depends_on=[*nodes, db_secret, *needed, *access.associations])
        )
        labels = pod_labels(h.version)
        tls = args.https_redirect
        template = {"metadata": {"labels": labels}, "spec": pod_spec(self.image_ref, labels, https_redirect=tls)}
        annotations = {"pulumi.com/timeoutSeconds": AWAIT_TIMEOUT}
        if h.workload == "ReplicationController":
            rc_name = f"{contract.APP}-{h.version}"
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
                metadata={**meta, "name": contract.APP, "labels": labels, "annotations": annotations},
                spec={
                    "replicas": h.replicas,
                    # The selector is immutable, so it leaves out the version; the template carries it.
                    "selector": {"matchLabels": {**contract.APP_LABELS, "track": "stable"}},
                    "minReadySeconds": h.update_period_seconds,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                    "template": template,
                },
                opts=workload_opts,
            )
            self.workload = f"deployment/{contract.APP}"

        # Voluntary disruptions (drains, node upgrades, swap-node) take at most one pod at a time.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={**meta, "name": contract.APP, "labels": selector_labels()},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector_labels()}},
            opts=k8s_opts,
        )
        # Least privilege on the network too (enforced once the VPC CNI's network policy agent is on): HTTP in
        # from anywhere (the ELB reaches pods through node ports), out only to DNS, PostgreSQL in the VPC and the
        # Pod Identity agent (credentials to sign IAM auth tokens with: signing is local, no AWS endpoint needed).
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={**meta, "name": contract.APP, "labels": selector_labels()},
            spec={
                "podSelector": {"matchLabels": selector_labels()},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}],
                "egress": [
                    {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                    {"to": [{"ipBlock": {"cidr": args.vpc_cidr}}], "ports": [{"protocol": "TCP", "port": 5432}]},
                    {
                        "to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}],
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
                "name": contract.APP_SERVICE,
                "labels": selector_labels(),
                "annotations": {
                    # A Classic ELB keeps in-flight requests to a deregistered node for as long as a pod may drain.
                    "service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled": "true",
                    "service.beta.kubernetes.io/aws-load-balancer-connection-draining-timeout": str(GRACE_SECONDS),
                    "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
                    **health_check_annotations(),
                    **({contract.PUBLIC_NAME_ANNOTATION: public.fqdn} if public else {}),
                    **(tls_annotations(public.certificate_arn) if public and public.certificate_arn else {}),
                },
            },
            spec={
                "type": "LoadBalancer",
                # The ELB health-checks each node's healthCheckNodePort (kube-proxy: 200 only while the node has a
                # ready local endpoint), so a node being drained leaves it in seconds, not after 6 x 10 s.
                "externalTrafficPolicy": "Local",
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

    def _image(self, name: str, args: HelloWorldArgs) -> pulumi.Output[str]:
        """`<repository>@<digest>`: the digest the registry already holds for this tag (nothing is built or pushed,
        e.g. on a rollback or a no-change `up`), else that of a fresh build of apps/helloworld for the nodes'
        platform (contract.IMAGE_PLATFORM)."""
        h, image = args.settings, args.image
        child = pulumi.ResourceOptions(parent=self)
        if h.registry == "dockerhub":
            repository: pulumi.Input[str] = f"docker.io/{h.dockerhub_username}/{contract.APP}"
            registry = docker.RegistryArgs(
                server="docker.io", username=h.dockerhub_username, password=args.dockerhub_token
            )
            # Docker Hub cannot list tags to this program: ask for this one, with the token (private repositories).
            lookup = docker.Provider(
                f"{name}-dockerhub",
                registry_auth=[
                    docker.ProviderRegistryAuthArgs(
                        address=registry_image.DOCKERHUB_REGISTRY,
                        username=h.dockerhub_username,
                        password=args.dockerhub_token,
                    )
                ],
                opts=child,
            )
            pushed = registry_image.dockerhub_digest(f"{h.dockerhub_username}/{contract.APP}:{image.tag}", lookup)
        else:
            repo = aws.ecr.Repository(
                f"{name}-repo",
                # Known before it exists: the deploy-time image check reads it.
                name=contract.ecr_repository(args.cluster_name),
                image_scanning_configuration={"scan_on_push": True},
                image_tag_mutability="IMMUTABLE",  # one tag, one image, for ever: what pods run never changes
                force_delete=True,  # teardown must not fail on pushed images
                tags=args.tags(contract.APP),
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-repo",
                repository=repo.name,
                policy=json.dumps({"rules": [KEEP_LAST_20_IMAGES]}),
                opts=child,
            )
            repository = repo.repository_url
            token = aws.ecr.get_authorization_token_output(registry_id=repo.registry_id)
            registry = docker.RegistryArgs(
                server=repo.repository_url, username=token.user_name, password=pulumi.Output.secret(token.password)
            )
            pushed = image.pushed_digest
        if pushed:
            # No Image in the graph: one left in state from an earlier build is dropped, and pulumi-docker's Delete
            # does nothing, so the pushed image stays in the registry.
            return pulumi.Output.concat(repository, "@", pushed)
        built = docker.Image(
            f"{name}-image",
            image_name=pulumi.Output.concat(repository, ":", image.tag),
            build=docker.DockerBuildArgs(
                context=APP_DIR,
                dockerfile=f"{APP_DIR}/Dockerfile",
                platform=contract.IMAGE_PLATFORM,
                args=build_args(h),
            ),
            registry=registry,
            opts=child,
        )
        return built.repo_digest


def _ingress_hostname(status: Any) -> str:
    ingress = (status.load_balancer.ingress or []) if status and status.load_balancer else []
    return (ingress[0].hostname or ingress[0].ip or "") if ingress else ""
