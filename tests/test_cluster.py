"""Cluster under mocks with foo's config: IAM, EKS settings, node group, IMDSv2, access entries, OIDC."""

from __future__ import annotations

import json

from harness import Run, shared_run, with_changes


def test_iam_roles_and_managed_policies(foo: Run) -> None:
    roles = {r.name: json.loads(r.inputs["assumeRolePolicy"]) for r in foo.of_type("aws:iam/role:Role")}
    assert roles["cluster-cluster"]["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}
    assert roles["cluster-node"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {
        (r.inputs["role"], r.inputs["policyArn"].rsplit("/", 1)[1])
        for r in foo.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {
        ("cluster-cluster-id", "AmazonEKSClusterPolicy"),
        ("cluster-node-id", "AmazonEKSWorkerNodePolicy"),
        ("cluster-node-id", "AmazonEKS_CNI_Policy"),
        ("cluster-node-id", "AmazonEC2ContainerRegistryReadOnly"),
    }


def test_eks_cluster(foo: Run) -> None:
    eks = foo.one("aws:eks/cluster:Cluster").inputs
    assert eks["name"] == "infra-foo" and eks["version"] == "1.35"
    vpc = eks["vpcConfig"]
    assert vpc["subnetIds"] == [f"network-{k}-{i}-id" for k in ("public", "private") for i in (0, 1)]
    assert vpc["publicAccessCidrs"] == ["0.0.0.0/0"]
    assert vpc["endpointPrivateAccess"] is True
    assert eks["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert eks["encryptionConfig"] == {
        "provider": {"keyArn": "arn:aws:kms:us-west-2:123456789012:cluster-secrets"},
        "resources": ["secrets"],
    }
    assert eks["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert foo.one("aws:kms/key:Key").inputs["enableKeyRotation"] is True
    logs = {g.inputs["name"]: g.inputs for g in foo.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert logs["/aws/eks/infra-foo/cluster"]["retentionInDays"] == 30


def test_node_group_in_private_subnets_through_imdsv2_launch_template(foo: Run) -> None:
    ng = foo.one("aws:eks/nodeGroup:NodeGroup").inputs
    assert ng["subnetIds"] == ["network-private-0-id", "network-private-1-id"]
    assert ng["scalingConfig"] == {"desiredSize": 2, "minSize": 1, "maxSize": 4}
    assert ng["updateConfig"] == {"maxUnavailable": 1}
    assert ng["instanceTypes"] == ["t3.small"] and ng["capacityType"] == "ON_DEMAND"
    assert ng["launchTemplate"] == {"id": "cluster-nodes-id", "version": "1"}
    assert "diskSize" not in ng, "disk size lives in the launch template"
    lt = foo.one("aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["blockDeviceMappings"][0]["ebs"] == {"volumeSize": 20, "volumeType": "gp3", "encrypted": "true"}
    assert "vpcSecurityGroupIds" not in lt, "own SGs would stop EKS attaching the cluster SG to nodes"


def test_scaling_follows_config() -> None:
    run = shared_run(with_changes({"infra:cluster.nodes.desired": 3, "infra:cluster.nodes.capacityType": "SPOT"}))
    ng = run.one("aws:eks/nodeGroup:NodeGroup").inputs
    assert ng["scalingConfig"]["desiredSize"] == 3 and ng["capacityType"] == "SPOT"


def test_admin_access_entries_for_configured_principals(foo: Run) -> None:
    assert foo.of_type("aws:eks/accessEntry:AccessEntry") == []
    arns = ["arn:aws:iam::123456789012:role/ops", "arn:aws:iam::123456789012:user/alice"]
    run = shared_run(with_changes({"infra:cluster.adminArns": arns}))
    assert sorted(e.inputs["principalArn"] for e in run.of_type("aws:eks/accessEntry:AccessEntry")) == arns
    policies = run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert [(p.inputs["policyArn"], p.inputs["accessScope"]) for p in policies] == [
        ("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", {"type": "cluster"})
    ] * 2


def test_oidc_provider_for_service_accounts(foo: Run) -> None:
    oidc = foo.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    assert oidc["url"] == "https://oidc.eks.us-west-2.amazonaws.com/id/CLUSTER-EKS"
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    assert foo.outputs["oidcProviderArn"] == "arn:aws:iam:us-west-2:123456789012:cluster-oidc"


def test_kubernetes_resources_use_the_cluster_provider(foo: Run) -> None:
    provider = foo.one("pulumi:providers:kubernetes")
    k8s = [r for r in foo.resources if r.type.startswith("kubernetes:")]
    assert k8s and all(r.provider.startswith(provider.urn + "::") for r in k8s)


def test_outputs(foo: Run) -> None:
    assert list(foo.outputs)[:8] == [
        "kubeconfig",
        "clusterName",
        "region",
        "vpcId",
        "publicSubnetIds",
        "privateSubnetIds",
        "nodeGroupName",
        "oidcProviderArn",
    ]
    assert foo.outputs["clusterName"] == "infra-foo" and foo.outputs["region"] == "us-west-2"
    assert foo.outputs["privateSubnetIds"] == ["network-private-0-id", "network-private-1-id"]


def test_vpc_cni_enforces_network_policies(foo: Run) -> None:
    (addon,) = [a.inputs for a in foo.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "vpc-cni"]
    assert addon["clusterName"] == "infra-foo"
    assert json.loads(addon["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert [n.name for n in foo.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")] == [
        "helloworld-db-admin-netpol",
        "helloworld-dblogin-netpol",
        "helloworld-netpol",
    ]


def test_networking_addons_start_before_the_nodes_and_the_others_after(foo: Run) -> None:
    # vpc-cni and kube-proxy are DaemonSets that go ACTIVE without nodes, and the nodes need their networking;
    # CoreDNS (a Deployment) and the pod identity agent only go ACTIVE once nodes run them.
    addons = {a.inputs["addonName"]: a for a in foo.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"}
    nodes = foo.one("aws:eks/nodeGroup:NodeGroup")
    before = {name for name, a in addons.items() if a.urn in nodes.dependencies}
    after = {name for name, a in addons.items() if nodes.urn in a.dependencies}
    assert (before, after) == ({"vpc-cni", "kube-proxy"}, {"coredns", "eks-pod-identity-agent"})
