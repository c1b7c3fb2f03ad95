"""helloworld under mocks: the runbook's RC, the ELB Service, the image, and the 1.0.0 → 2.0.0 upgrade."""

from __future__ import annotations

import re
from typing import Any

import pytest
from harness import Registration, Run, run_program, shared_run, with_changes
from pulumi.runtime import rpc

RC = "kubernetes:core/v1:ReplicationController"
STABLE_1 = {"app": "helloworld", "track": "stable", "version": "1.0.0"}


def container(workload: Registration) -> dict[str, Any]:
    return workload.plain("spec")["template"]["spec"]["containers"][0]


@pytest.fixture(scope="module")
def upgraded() -> Run:
    return shared_run(with_changes({"infra:helloworld.version": "2.0.0", "infra:helloworld.greeting": "Foo bar"}))


def test_rc_is_the_runbooks(foo: Run) -> None:
    rc = foo.one(RC)
    meta, spec = rc.plain("metadata"), rc.plain("spec")
    # kubectl get rc: CONTROLLER helloworld-1.0.0, SELECTOR app=helloworld,track=stable,version=1.0.0, REPLICAS 3
    assert meta["name"] == "helloworld-1.0.0" and meta["namespace"] == "helloworld"
    assert meta["labels"] == STABLE_1 and spec["selector"] == STABLE_1
    assert spec["template"]["metadata"]["labels"] == STABLE_1
    assert spec["replicas"] == 3
    assert spec["minReadySeconds"] == 3
    assert foo.outputs["helloworldWorkload"] == "rc/helloworld-1.0.0"


def test_replicas_follow_config() -> None:
    run = shared_run(with_changes({"infra:helloworld.replicas": 5}))
    assert run.one(RC).plain("spec")["replicas"] == 5


def test_rc_replacement_is_create_then_await_then_delete(foo: Run, upgraded: Run) -> None:
    """The old `kubectl rolling-update`: pulumi-kubernetes awaits an RC until availableReplicas == replicas
    (untilCoreV1ReplicationControllerInitialized); a changed metadata.name forces a replacement, which the engine
    does create-before-delete unless deleteBeforeReplace is set. So: same URN, new name, no delete-first, no
    skipAwait."""
    old, new = foo.one(RC), upgraded.one(RC)
    assert old.urn == new.urn
    assert old.plain("metadata")["name"] != new.plain("metadata")["name"]
    assert new.delete_before_replace is False
    annotations = new.plain("metadata")["annotations"]
    assert "pulumi.com/skipAwait" not in annotations
    assert int(annotations["pulumi.com/timeoutSeconds"]) >= 600


def test_service_selects_every_version(foo: Run) -> None:
    svc = foo.one("kubernetes:core/v1:Service")
    spec, meta = svc.plain("spec"), svc.plain("metadata")
    assert meta["name"] == "helloworld"
    assert spec["type"] == "LoadBalancer"
    assert spec["selector"] == {"app": "helloworld"}
    assert spec["ports"][0] == {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    annotations = meta["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled"] == "true"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-connection-draining-timeout"] == "40"
    assert foo.outputs["helloworldEndpoint"] == "abc123-1066700612.us-west-2.elb.amazonaws.com"


HEALTH_CHECK = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-"


def test_a_node_being_drained_leaves_the_elb_within_its_last_pods_prestop_pause(foo: Run) -> None:
    """Since Kubernetes 1.27 a cordoned node stays in the ELB until it fails the health check. With
    externalTrafficPolicy Local the cloud provider points the Classic ELB's check at the healthCheckNodePort, which
    fails once the node has no ready pod; the annotations (names as cloud-provider-aws reads them) make it quick."""
    svc = foo.one("kubernetes:core/v1:Service")
    annotations = svc.plain("metadata")["annotations"]
    assert svc.plain("spec")["externalTrafficPolicy"] == "Local"
    assert {k: v for k, v in annotations.items() if k.startswith(HEALTH_CHECK)} == {
        f"{HEALTH_CHECK}interval": "5",
        f"{HEALTH_CHECK}timeout": "2",
        f"{HEALTH_CHECK}unhealthy-threshold": "2",
        f"{HEALTH_CHECK}healthy-threshold": "2",
    }
    interval, timeout, unhealthy, healthy = (
        int(annotations[f"{HEALTH_CHECK}{key}"])
        for key in ("interval", "timeout", "unhealthy-threshold", "healthy-threshold")
    )
    # ConfigureHealthCheck's limits (botocore elb model): interval 5-300, timeout 2-60 and below the interval,
    # thresholds 2-10; outside them the cloud provider never configures the ELB.
    assert 5 <= interval <= 300 and 2 <= timeout < interval and 2 <= unhealthy <= 10 and 2 <= healthy <= 10
    pod = foo.one(RC).plain("spec")["template"]["spec"]
    prestop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    # The last pod on the node turns unready at its eviction and still serves through the preStop pause: the ELB
    # must have stopped sending it new requests by then. The cloud provider's defaults (10 s x 6) took a minute.
    # Up to one interval of phase, then `unhealthy` failed checks, plus 5 s for kube-proxy, the check's timeout
    # and the ELB: 5 x (2 + 1) + 5 = 20.
    margin_seconds = 5
    assert interval * (unhealthy + 1) + margin_seconds <= prestop == 20
    # In-flight requests: draining on deregistration for as long as the pod may take: pause + shutdown + 5 = 40.
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-connection-draining-timeout"] == "40"


def test_pods_prefer_one_node_each_and_never_wait_for_one(foo: Run) -> None:
    """With externalTrafficPolicy Local only nodes with a pod serve: spread the pods, so a node roll takes one pod's
    share, but never leave one Pending for it (an RC rollout or a drain would wait)."""
    pod = foo.one(RC).plain("spec")["template"]["spec"]
    assert pod["topologySpreadConstraints"] == [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "nodeTaintsPolicy": "Honor",  # a cordoned node counts for nothing
            "labelSelector": {"matchLabels": STABLE_1},
        }
    ]


def test_pod_is_locked_down_probed_and_drains(foo: Run) -> None:
    rc = foo.one(RC)
    pod = rc.plain("spec")["template"]["spec"]
    c = container(rc)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 10000
    assert pod["automountServiceAccountToken"] is False
    assert c["securityContext"] == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert set(c["resources"]["requests"]) == set(c["resources"]["limits"]) == {"cpu", "memory"}
    assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 20}}
    shutdown = int(next(e["value"] for e in c["env"] if e["name"] == "SHUTDOWN_TIMEOUT"))
    # The grace period covers the preStop pause and the app's own graceful shutdown.
    assert pod["terminationGracePeriodSeconds"] > 20 + shutdown


def test_pdb_keeps_replicas_up_during_maintenance(foo: Run) -> None:
    pdb = foo.one("kubernetes:policy/v1:PodDisruptionBudget").plain("spec")
    assert pdb == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "helloworld"}}}


def test_image_is_built_for_amd64_tagged_with_version_and_pods_use_its_digest(foo: Run) -> None:
    image = foo.one("docker:index/image:Image")
    # `<version>_<12 hex of what the build reads>` (see test_first_contact for what changes the hash)
    assert re.fullmatch(
        r"123456789012\.dkr\.ecr\.us-west-2\.amazonaws\.com/infra-foo/helloworld:1\.0\.0_[0-9a-f]{12}",
        image.inputs["imageName"],
    )
    build = image.plain("build")
    assert build["platform"] == "linux/amd64" and build["context"] == "apps/helloworld"
    assert build["args"] == {"GREETING": "Hello world", "VERSION": "1.0.0"}
    assert rpc.is_rpc_secret(image.inputs["registry"]), "the ECR token is a secret"
    assert container(foo.one(RC))["image"] == foo.outputs["helloworldImage"]
    assert "@sha256:" in foo.outputs["helloworldImage"]
    repo = foo.one("aws:ecr/repository:Repository").inputs
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True} and repo["forceDelete"] is True


def test_dockerhub_registry_reproduces_yourname_helloworld() -> None:
    config = with_changes({"infra:helloworld.registry": "dockerhub", "infra:helloworld.dockerhubUsername": "yourname"})
    config["infra:dockerhubToken"] = {"secure": "v1:ciphertext"}
    run = shared_run(config)
    image = run.one("docker:index/image:Image")
    assert re.fullmatch(r"docker\.io/yourname/helloworld:1\.0\.0_[0-9a-f]{12}", image.inputs["imageName"])
    assert rpc.is_rpc_secret(image.inputs["registry"])
    assert image.plain("registry")["server"] == "docker.io"
    assert run.of_type("aws:ecr/repository:Repository") == []
    assert "dockerhub token" not in str(run.outputs)


def test_dockerhub_without_token_is_a_config_error() -> None:
    config = with_changes({"infra:helloworld.registry": "dockerhub", "infra:helloworld.dockerhubUsername": "yourname"})
    with pytest.raises(Exception, match=r"infra:dockerhubToken: not set"):
        run_program(config)


def test_deployment_option_rolls_with_surge_and_no_unavailability() -> None:
    run = shared_run(with_changes({"infra:helloworld.workload": "Deployment"}))
    assert run.of_type(RC) == []
    dep = run.one("kubernetes:apps/v1:Deployment")
    spec = dep.plain("spec")
    assert dep.plain("metadata")["name"] == "helloworld"
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert spec["minReadySeconds"] == 3
    assert spec["selector"] == {"matchLabels": {"app": "helloworld", "track": "stable"}}
    assert spec["template"]["metadata"]["labels"] == STABLE_1
    assert run.outputs["helloworldWorkload"] == "deployment/helloworld"


def changed_urns(before: Run, after: Run) -> set[str]:
    a, b = before.by_urn(), after.by_urn()
    return {urn for urn in a.keys() | b.keys() if urn not in a or urn not in b or a[urn].inputs != b[urn].inputs}


def test_upgrade_touches_only_the_apps_image_and_workload(foo: Run, upgraded: Run) -> None:
    changed = {
        (r.type, r.name)
        for urn, r in {**foo.by_urn(), **upgraded.by_urn()}.items()
        if urn in changed_urns(foo, upgraded)
    }
    assert changed == {("docker:index/image:Image", "helloworld-image"), (RC, "helloworld-rc")}
    new = upgraded.one(RC)
    assert new.plain("metadata")["name"] == "helloworld-2.0.0"
    assert new.plain("spec")["selector"] == {**STABLE_1, "version": "2.0.0"}
    assert upgraded.one("docker:index/image:Image").plain("build")["args"] == {
        "GREETING": "Foo bar",
        "VERSION": "2.0.0",
    }
    assert container(new)["image"] != container(foo.one(RC))["image"], "a new digest rolls the pods"
    assert upgraded.one("kubernetes:core/v1:Service").inputs == foo.one("kubernetes:core/v1:Service").inputs
    assert upgraded.outputs["helloworldGreeting"] == "Foo bar"


def test_image_does_not_wait_for_the_cluster(foo: Run) -> None:
    image = foo.one("docker:index/image:Image")
    for slow in ("aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup"):
        assert not foo.depends_on(image, foo.one(slow)), f"the image build would wait for {slow}"
    assert foo.depends_on(image, foo.one("aws:ecr/repository:Repository"))


def test_network_policy_admits_http_and_only_dns_postgres_and_the_identity_agent_out(foo: Run) -> None:
    (policy,) = [
        n for n in foo.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if n.name == "helloworld-netpol"
    ]
    spec = policy.plain("spec")
    assert spec["podSelector"] == {"matchLabels": {"app": "helloworld"}}
    assert spec["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]  # the app's Dockerfile EXPOSE
    assert spec["egress"] == [
        {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]},
        # EKS Pod Identity agent (link-local, AWS docs "EKS Pod Identity agent"): 169.254.170.23, port 80.
        {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]},
    ]
