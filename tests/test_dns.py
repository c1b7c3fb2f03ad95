"""Route53 under mocks: CNAME <name>.<zone> → the Service's ELB; an optional created zone; no DNS, no Route53."""

from __future__ import annotations

from harness import Run, run_program, with_changes

RECORD = "aws:route53/record:Record"


def test_cname_points_at_the_services_load_balancer(foo: Run) -> None:
    record = foo.one(RECORD).inputs
    assert record["name"] == "foo.cloud.weave.works"
    assert record["type"] == "CNAME" and record["ttl"] == 60
    assert record["records"] == [foo.outputs["helloworldEndpoint"]]
    assert record["zoneId"] == "ZEXISTING"
    assert foo.outputs["url"] == "http://foo.cloud.weave.works"
    assert "zoneNameServers" not in foo.outputs
    assert foo.of_type("aws:route53/zone:Zone") == []


def test_record_name_defaults_to_the_stack() -> None:
    run = run_program(with_changes({"infra:dns.name": None}), stack="staging")
    assert run.one(RECORD).inputs["name"] == "staging.cloud.weave.works"


def test_without_dns_config_no_route53_and_url_is_the_elb() -> None:
    run = run_program(with_changes({"infra:dns": None}))
    assert not any(r.type.startswith("aws:route53") for r in run.resources)
    assert run.outputs["url"] == f"http://{run.outputs['helloworldEndpoint']}"


def test_created_zone_outputs_its_name_servers() -> None:
    run = run_program(
        with_changes({"infra:dns": {"createZone": True, "newZone": "foo-team.example.com", "name": "app"}})
    )
    zone = run.one("aws:route53/zone:Zone").inputs
    assert zone["name"] == "foo-team.example.com"
    record = run.one(RECORD).inputs
    assert record["zoneId"] == "ZCREATED" and record["name"] == "app.foo-team.example.com"
    assert run.outputs["zoneNameServers"] == [f"ns-{i}.awsdns-{i}.org" for i in range(1, 5)]
    assert run.outputs["url"] == "http://app.foo-team.example.com"
