"""Cluster component: the EKS control plane, an EC2 managed node group, admin access, OIDC, and a k8s Provider."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra import contract
from infra.config import ADDON_NAMES, ClusterConfig
from infra.kubeconfig import build_kubeconfig
from infra.tagging import Tagger

CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
ADMIN_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
LOG_TYPES = ["api", "audit", "authenticator"]
# The add-ons (infra/config ADDON_NAMES, in its order) start before the nodes when they become ACTIVE without any:
# networking DaemonSets. Nodes then start with the VPC CNI's network policy agent on (NetworkPolicies enforced), and
# on destroy go before them. The others (CoreDNS, a Deployment; the pod identity agent, a DaemonSet that is only
# ACTIVE on nodes) wait for the nodes, and on destroy go first.
ADDONS_BEFORE_NODES = frozenset({"vpc-cni", "kube-proxy"})
ADDON_CONFIG = {"vpc-cni": {"enableNetworkPolicy": "true"}}  # add-on -> its configuration values
# EKS tag values: letters, digits, spaces and + - = . _ : / @, at most 256 (an IAM name may also hold a comma).
TAG_VALUE = re.compile(r"^[\w +\-=.:/@]{1,256}$")


def creator_tag(creator_arn: str) -> dict[str, str]:
    """The creator as a cluster tag, when EKS can store it (never for an unknown creator)."""
    return {contract.CREATOR_TAG: creator_arn} if TAG_VALUE.match(creator_arn) else {}


def access_key(arn: str) -> str:
    """A principal's part of its access resources' names: readable, and unique per ARN (`role/a/b` and `role/a-b`,
    or one role name in two accounts, would collide on the readable part alone)."""
    return f"{_readable(arn)}-{hashlib.sha256(arn.encode()).hexdigest()[:8]}"


def _readable(arn: str) -> str:
    """`role/team/ci` of an IAM ARN, as a name part: `role-team-ci`."""
    return arn.rsplit(":", 1)[1].replace("/", "-")


def _old_admin_name(name: str, arn: str) -> pulumi.Alias:
    """The name an admin's entry and association had before entries became one per principal."""
    return pulumi.Alias(name=f"{name}-admin-{_readable(arn)}")


def entries_to_create(arns: list[str], creator_arn: str) -> tuple[list[str], list[str]]:
    """(ARNs that get an access entry, ARNs skipped because EKS already gave them the bootstrap entry)."""
    skipped = [a for a in arns if a == creator_arn]
    return [a for a in arns if a != creator_arn], skipped


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


@dataclass(frozen=True)
class ClusterArgs:
    name: str  # the EKS cluster's name (the stack's resource prefix)
    settings: ClusterConfig  # version, support type, admins, nodes, kubeconfig, log retention
    stack: str  # the nodes' `infra/stack` label
    region: str  # for the kubeconfig's `aws eks get-token`
    control_plane_subnet_ids: list[pulumi.Output[str]]  # in the AZs EKS created the control plane in
    node_subnet_ids: list[pulumi.Output[str]]  # private subnets
    creator_arn: str  # the principal EKS gave the bootstrap admin entry ("" when unknown)
    addon_versions: dict[str, str]  # EKS add-on name -> version
    deletion_protection: bool  # a durable stack's cluster cannot be deleted by mistake
    tags: Tagger


class Cluster(pulumi.ComponentResource):
    name: str
    cluster: aws.eks.Cluster
    node_group: aws.eks.NodeGroup
    security_group_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        args: ClusterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("infra:index:Cluster", name, None, opts)
        self.name = args.name
        self.cluster = self._control_plane(name, args)
        # EKS puts this security group on the control plane and on managed nodes (the launch template sets none of
        # its own), so "from the nodes" means "from this group".
        self.security_group_id = self.cluster.vpc_config.cluster_security_group_id
        access = self._access_entries(name, args.settings, args.creator_arn)

        before_nodes = [self._addon(name, a, args, []) for a in ADDON_NAMES.values() if a in ADDONS_BEFORE_NODES]
        issuer = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer if ids else "")
        self.oidc_provider_arn = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],
            tags=args.tags("oidc"),
            opts=pulumi.ResourceOptions(parent=self),
        ).arn
        self.node_group = self._nodes(name, args, before_nodes)
        # After the nodes: CoreDNS is a Deployment and the pod identity agent a DaemonSet that only become ACTIVE
        # on nodes; on destroy they go first.
        after_nodes = [
            self._addon(name, a, args, [self.node_group]) for a in ADDON_NAMES.values() if a not in ADDONS_BEFORE_NODES
        ]
        self.addons = dict(args.addon_versions)
        self.ready = after_nodes  # what "the cluster can run pods with DNS" waits for

        self.kubeconfig = self._kubeconfig(args)
        # The provider needs the control plane and the admin access entries: whoever runs `pulumi up` (or the
        # kubeconfigRoleArn) may be one of them, and on destroy the access must outlive every Kubernetes object.
        # Resources that need nodes say so with depends_on.
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self, depends_on=access)
        )
        self.register_outputs({"clusterName": self.cluster.name, "nodeGroupName": self.node_group.node_group_name})

    def _control_plane(self, name: str, args: ClusterArgs) -> aws.eks.Cluster:
        child = pulumi.ResourceOptions(parent=self)
        c, tags = args.settings, args.tags
        cluster_role = self._role(f"{name}-cluster", "eks.amazonaws.com", CLUSTER_POLICIES, tags)
        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"EKS secrets envelope encryption for {self.name}",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            tags=tags("eks-secrets"),
            opts=child,
        )
        # Created by us (not by EKS on first log line) so it has a retention and goes away with the stack.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=contract.eks_log_group(self.name),
            retention_in_days=c.log_retention_days,
            tags=tags("eks-logs"),
            opts=child,
        )
        return aws.eks.Cluster(
            f"{name}-eks",
            name=self.name,
            version=c.version,
            role_arn=cluster_role.arn,
            vpc_config={
                # A running cluster keeps the AZs it was created in (EKS refuses others); new AZs serve nodes and
                # load balancers only.
                "subnet_ids": args.control_plane_subnet_ids,
                "endpoint_public_access": True,
                "endpoint_private_access": True,
                "public_access_cidrs": c.public_access_cidrs,
            },
            enabled_cluster_log_types=LOG_TYPES,
            encryption_config={"provider": {"key_arn": secrets_key.arn}, "resources": ["secrets"]},
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            # STANDARD: never billed for extended support without saying so in config (EKS defaults to EXTENDED).
            upgrade_policy={"support_type": c.support_type},
            # A durable stack's cluster cannot be deleted by mistake: turning this off is the reviewed first step of
            # its teardown (docs: tear down a durable stack), as for the database.
            deletion_protection=args.deletion_protection,
            # Who got EKS's bootstrap admin entry: read back on later runs (whoever runs them), so that principal
            # is never given a second, conflicting entry.
            tags=tags("eks", creator_tag(args.creator_arn)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, *cluster_role.attachments]),
        )

    def _access_entries(self, name: str, c: ClusterConfig, creator_arn: str) -> list[pulumi.Resource]:
        """The admins' entries and policy associations (what the Kubernetes provider waits for), and the viewers'."""
        admins, skipped = entries_to_create(c.admin_arns, creator_arn)
        viewers, skipped_viewers = entries_to_create(c.view_arns, creator_arn)
        for key, arn in [*(("adminArns", a) for a in skipped), *(("viewArns", a) for a in skipped_viewers)]:
            pulumi.log.info(f"infra:cluster.{key}: {arn} created the cluster and has EKS's admin entry already")
        access: list[pulumi.Resource] = []
        for arn in admins:
            # The alias is the position-named URN of the earliest versions, so their entries are kept.
            position = pulumi.Alias(name=f"{name}-admin-{c.admin_arns.index(arn)}")
            entry = self._access_entry(name, arn, [position])
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{access_key(arn)}",
                cluster_name=self.cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=ADMIN_POLICY_ARN,
                access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self, aliases=[_old_admin_name(name, arn), position]),
            )
            access += [entry, association]
        # Read-only entries (e.g. CI's preview role): managed here so they come back with a replaced cluster. The
        # provider does not wait for them; the creator already has EKS's admin entry, which reads too.
        for arn in viewers:
            aws.eks.AccessPolicyAssociation(
                f"{name}-viewer-{access_key(arn)}",
                cluster_name=self.cluster.name,
                principal_arn=self._access_entry(name, arn, []).principal_arn,
                policy_arn=VIEW_POLICY_ARN,
                access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self),
            )
        return access

    def _addon(self, name: str, addon: str, args: ClusterArgs, after: list[pulumi.Resource]) -> aws.eks.Addon:
        """A managed add-on at the version EKS lists for the cluster's Kubernetes version, so a version bump moves
        it too. OVERWRITE adopts the self-managed kube-proxy, CoreDNS and VPC CNI EKS installs at creation."""
        config = ADDON_CONFIG.get(addon)
        return aws.eks.Addon(
            f"{name}-{addon}",
            cluster_name=self.cluster.name,
            addon_name=addon,
            addon_version=args.addon_versions[addon],
            configuration_values=json.dumps(config) if config else None,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=args.tags(addon),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    def _nodes(self, name: str, args: ClusterArgs, before_nodes: list[aws.eks.Addon]) -> aws.eks.NodeGroup:
        child = pulumi.ResourceOptions(parent=self)
        n, tags = args.settings.nodes, args.tags
        node_role = self._role(f"{name}-node", "ec2.amazonaws.com", NODE_POLICIES, tags)
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-nodes",
            description=f"{self.name} managed nodes: IMDSv2 only, encrypted gp3 root",
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",  # IMDSv2 only
                "http_put_response_hop_limit": 2,  # pods on the VPC CNI are one hop further away
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {"volume_size": n.disk_size_gb, "volume_type": "gp3", "encrypted": "true"},
                }
            ],
            tag_specifications=[
                {"resource_type": kind, "tags": tags("node")} for kind in ("instance", "volume", "network-interface")
            ],
            tags=tags("nodes-lt"),
            opts=child,
        )
        return aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=args.node_subnet_ids,
            ami_type=contract.NODE_AMI_TYPE,  # the architecture the helloworld image is built for
            # The control plane's version: one `pulumi up` upgrades the cluster, then rolls the nodes (EKS refuses
            # the next control-plane upgrade while a node group lags behind).
            version=args.settings.version,
            instance_types=n.instance_types,
            capacity_type=n.capacity_type,
            scaling_config={"desired_size": n.desired, "min_size": n.min, "max_size": n.max},
            update_config={"max_unavailable": n.max_unavailable},
            launch_template={"id": launch_template.id, "version": launch_template.latest_version.apply(str)},
            node_repair_config={"enabled": True},
            labels={"infra/stack": args.stack},
            tags=tags("nodes"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*node_role.attachments, *before_nodes]),
        )

    def _kubeconfig(self, args: ClusterArgs) -> pulumi.Output[str]:
        c = args.settings
        return pulumi.Output.secret(
            pulumi.Output.all(
                endpoint=self.cluster.endpoint, ca=self.cluster.certificate_authority.apply(lambda a: a.data)
            ).apply(
                lambda facts: json.dumps(
                    build_kubeconfig(
                        cluster_name=self.name,
                        endpoint=facts["endpoint"],
                        ca_data=facts["ca"],
                        region=args.region,
                        role_arn=c.kubeconfig_role_arn,
                        profile=c.kubeconfig_profile,
                    )
                )
            )
        )

    def _access_entry(self, name: str, arn: str, aliases: list[pulumi.Alias]) -> aws.eks.AccessEntry:
        """One entry per principal, whichever list names it: moving an ARN between adminArns and viewArns changes
        only its policy association (EKS keeps one entry per principal, so a second entry would be refused)."""
        return aws.eks.AccessEntry(
            f"{name}-access-{access_key(arn)}",
            cluster_name=self.cluster.name,
            principal_arn=arn,
            type="STANDARD",
            # EKS allows one entry per principal: a replacement must delete the old entry first. The aliases are
            # the admin-only names of earlier versions, so their entries are kept, not re-created.
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, aliases=[_old_admin_name(name, arn), *aliases]
            ),
        )

    def _role(self, name: str, service: str, policies: tuple[str, ...], tags: Tagger) -> _Role:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(name, assume_role_policy=assume_role_policy(service), tags=tags(name), opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy}",
                role=role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in policies
        ]
        return _Role(role.arn, attachments)


@dataclass(frozen=True)
class _Role:
    arn: pulumi.Output[str]
    attachments: list[aws.iam.RolePolicyAttachment]
