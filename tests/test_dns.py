"""Route53 and ACM under mocks: the weighted CNAME <name>.<zone> → the ELB, the certificate issued while the cluster
is built, TLS on the ELB, an optional created zone; no DNS, no Route53 and plain HTTP."""

from __future__ import annotations

from harness import Registration, Run, shared_run, with_changes

RECORD = "aws:route53/record:Record"
CERT_ARN = "arn:aws:acm:us-west-2:123456789012:certificate/dns-cert"


def app_record(run: Run) -> Registration:
    (record,) = [r for r in run.of_type(RECORD) if r.name == "dns-app"]
    return record


def test_weighted_cname_points_at_the_services_load_balancer(foo: Run) -> None:
    record = app_record(foo)
    assert record.inputs["name"] == "foo.cloud.weave.works"
    assert record.inputs["type"] == "CNAME" and record.inputs["ttl"] == 60
    assert record.inputs["records"] == [foo.outputs["helloworldEndpoint"]]
    assert record.inputs["zoneId"] == "ZEXISTING"
    assert record.inputs["setIdentifier"] == "foo"
    assert record.plain("weightedRoutingPolicies") == [{"weight": 100}]
    # Simple → weighted is an in-place update (one atomic Route 53 batch): nothing may force a delete first.
    assert record.delete_before_replace is False
    assert foo.outputs["url"] == "https://foo.cloud.weave.works"
    assert "zoneNameServers" not in foo.outputs
    assert foo.of_type("aws:route53/zone:Zone") == []


def test_weight_is_config() -> None:
    assert app_record(shared_run(with_changes({"infra:dns.weight": 0}))).plain("weightedRoutingPolicies") == [
        {"weight": 0}
    ]


def test_record_name_defaults_to_the_stack() -> None:
    run = shared_run(with_changes({"infra:dns.name": None}), stack="staging")
    assert app_record(run).inputs["name"] == "staging.cloud.weave.works"
    assert app_record(run).inputs["setIdentifier"] == "staging"


def test_without_dns_config_no_route53_no_certificate_and_url_is_the_elb() -> None:
    run = shared_run(with_changes({"infra:dns": None}))
    assert not any(r.type.startswith(("aws:route53", "aws:acm")) for r in run.resources)
    assert run.outputs["url"] == f"http://{run.outputs['helloworldEndpoint']}"
    svc = run.one("kubernetes:core/v1:Service")
    assert [p["port"] for p in svc.plain("spec")["ports"]] == [80]
    assert not any("ssl" in key for key in svc.plain("metadata")["annotations"])


def test_created_zone_outputs_its_name_servers() -> None:
    config = {"createZone": True, "newZone": "foo-team.example.com", "name": "app", "tls": False}
    run = shared_run(with_changes({"infra:dns": config}))
    zone = run.one("aws:route53/zone:Zone").inputs
    assert zone["name"] == "foo-team.example.com"
    record = app_record(run).inputs
    assert record["zoneId"] == "ZCREATED" and record["name"] == "app.foo-team.example.com"
    assert run.outputs["zoneNameServers"] == [f"ns-{i}.awsdns-{i}.org" for i in range(1, 5)]
    assert run.outputs["url"] == "http://app.foo-team.example.com", "no certificate until the zone is delegated"
    assert run.of_type("aws:acm/certificate:Certificate") == []


# ---------------------------------------------------------------- HTTPS


def test_certificate_for_the_name_validated_by_dns(foo: Run) -> None:
    cert = foo.one("aws:acm/certificate:Certificate").inputs
    assert cert["domainName"] == "foo.cloud.weave.works" and cert["validationMethod"] == "DNS"
    (validation_record,) = [r for r in foo.of_type(RECORD) if r.name == "dns-cert-validation"]
    assert validation_record.inputs["name"] == "_3f2a9c1d.foo.cloud.weave.works."
    assert validation_record.inputs["type"] == "CNAME"
    assert validation_record.inputs["records"] == ["_9b8e7f6a.xlfgrmvvlj.acm-validations.aws."]
    assert validation_record.inputs["zoneId"] == "ZEXISTING"
    # It goes with the stack (teardown leaves nothing behind); another stack on the same name may rewrite it.
    assert validation_record.inputs["allowOverwrite"] is True
    assert (
        validation_record.retain_on_delete is False
        and foo.one("aws:acm/certificate:Certificate").retain_on_delete is False
    )
    validation = foo.one("aws:acm/certificateValidation:CertificateValidation").inputs
    assert validation["certificateArn"] == CERT_ARN
    assert validation["validationRecordFqdns"] == ["_3f2a9c1d.foo.cloud.weave.works"]


def test_certificate_is_issued_while_the_cluster_is_built(foo: Run) -> None:
    """It needs only the zone: nothing of the network or the cluster is on its path, so it adds no time."""
    validation = foo.one("aws:acm/certificateValidation:CertificateValidation")
    for slow in ("aws:eks/cluster:Cluster", "aws:ec2/vpc:Vpc", "aws:eks/nodeGroup:NodeGroup"):
        assert not foo.depends_on(validation, foo.one(slow)), f"the certificate would wait for {slow}"
    svc = foo.one("kubernetes:core/v1:Service")
    assert foo.depends_on(svc, validation), "the ELB's TLS listener needs the issued certificate"


def test_elb_terminates_tls_with_a_modern_policy_and_keeps_port_80(foo: Run) -> None:
    svc = foo.one("kubernetes:core/v1:Service")
    annotations = svc.plain("metadata")["annotations"]
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert annotations[f"{prefix}ssl-cert"] == CERT_ARN
    assert annotations[f"{prefix}ssl-ports"] == "https"
    assert annotations[f"{prefix}backend-protocol"] == "http"
    assert annotations[f"{prefix}ssl-negotiation-policy"] == "ELBSecurityPolicy-TLS-1-2-2017-01"
    assert annotations["infra/public-name"] == "foo.cloud.weave.works"
    assert svc.plain("spec")["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": "http", "protocol": "TCP"},
    ]


def test_pods_redirect_plain_http_only_when_there_is_a_certificate(foo: Run) -> None:
    def redirect(run: Run) -> str:
        spec = run.one("kubernetes:core/v1:ReplicationController").plain("spec")["template"]["spec"]
        return {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}["HTTPS_REDIRECT"]

    assert redirect(foo) == "true"
    assert redirect(shared_run(with_changes({"infra:dns": None}))) == "false"
    assert redirect(shared_run(with_changes({"infra:dns.tls": False}))) == "false"
