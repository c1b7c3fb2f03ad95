"""What destroy reads from `pulumi stack export --show-secrets`: VPC, region, database, protected resources."""

from typing import Any

from infra.ops import state

STACK = "urn:pulumi:prod::infra::"
DEPLOYMENT: dict[
    str, Any
] = {  # trimmed from the shape `pulumi stack export --show-secrets` prints (deployment version 3)
    "manifest": {"time": "2026-11-27T21:00:00Z", "version": "v3.150.0"},
    "resources": [
        {"urn": f"{STACK}pulumi:pulumi:Stack::infra-prod", "custom": False, "type": "pulumi:pulumi:Stack"},
        {
            "urn": f"{STACK}pulumi:providers:aws::default_6_70_0",
            "custom": True,
            "id": "8f3e",
            "type": "pulumi:providers:aws",
            "inputs": {"region": "eu-west-1", "version": "6.70.0"},
            "outputs": {"region": "eu-west-1", "version": "6.70.0"},
        },
        {
            "urn": f"{STACK}infra:index:Network$aws:ec2/vpc:Vpc::network-vpc",
            "custom": True,
            "id": "vpc-0abc",
            "type": "aws:ec2/vpc:Vpc",
            "outputs": {"cidrBlock": "10.0.0.0/16"},
        },
        {
            "urn": f"{STACK}infra:index:Database$aws:rds/instance:Instance::database-postgres",
            "custom": True,
            "id": "db-ABCDEF",
            "type": "aws:rds/instance:Instance",
            "protect": True,
            "outputs": {
                "identifier": {
                    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                    "plaintext": '"infra-prod"',
                },
                "finalSnapshotIdentifier": "infra-prod-final-1a2b3c4d",
                "skipFinalSnapshot": False,
            },
        },
    ],
}


def test_facts_of_a_deployed_durable_stack() -> None:
    facts = state.facts(DEPLOYMENT)
    assert facts.vpc_id == "vpc-0abc"
    assert facts.region == "eu-west-1"
    assert facts.db_identifier == "infra-prod"  # a secret's plaintext, not its envelope
    assert facts.snapshot == "infra-prod-final-1a2b3c4d"
    assert facts.protected == ("aws:rds/instance:Instance database-postgres",)


def test_skip_final_snapshot_and_an_empty_state() -> None:
    db = {
        **DEPLOYMENT["resources"][3],
        "protect": False,
        "outputs": {"identifier": "infra-foo", "skipFinalSnapshot": True},
    }
    facts = state.facts({"resources": [db]})
    assert (facts.snapshot, facts.protected, facts.vpc_id) == ("", (), None)
    empty = state.facts({})  # `pulumi stack export` of a destroyed stack has no resources
    assert (empty.vpc_id, empty.region, empty.db_identifier, empty.snapshot, empty.protected) == (None,) * 4 + ((),)
