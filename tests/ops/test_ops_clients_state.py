"""What destroy reads from `pulumi stack export --show-secrets` (clients/state.py): VPC, region, database, protected
resources, pending operations, certificate validation records."""

from typing import Any

from infra.ops.clients import state

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
    assert facts.protected == ("aws:rds/instance:Instance database-postgres (protect)",)


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


# A `pulumi up` killed while creating the cluster role and updating the VPC: the checkpoint keeps both operations
# under `pending_operations` (apitype.DeploymentV3: {"resource": ResourceV3, "type": "creating" | "updating" | ...}).
ROLE_URN = "urn:pulumi:foo::infra::infra:index:Cluster$aws:iam/role:Role::cluster-role"
VPC_URN = "urn:pulumi:foo::infra::infra:index:Network$aws:ec2/vpc:Vpc::network-vpc"
INTERRUPTED: dict[str, Any] = {
    "manifest": {"time": "2026-11-27T21:00:00Z", "version": "v3.150.0"},
    "resources": [{"urn": VPC_URN, "custom": True, "id": "vpc-0abc", "type": "aws:ec2/vpc:Vpc"}],
    "pending_operations": [
        {"resource": {"urn": ROLE_URN, "custom": True, "type": "aws:iam/role:Role"}, "type": "creating"},
        {"resource": {"urn": VPC_URN, "custom": True, "id": "vpc-0abc", "type": "aws:ec2/vpc:Vpc"}, "type": "updating"},
    ],
}


def test_pending_operations_are_read_from_the_checkpoint() -> None:
    pending = state.facts(INTERRUPTED).pending
    assert [(op.kind, op.resource.urn, op.resource.label) for op in pending] == [
        ("creating", ROLE_URN, "aws:iam/role:Role cluster-role"),
        ("updating", VPC_URN, "aws:ec2/vpc:Vpc network-vpc"),
    ]
    assert state.facts(DEPLOYMENT).pending == ()


# What the certificate and its validation record look like in `pulumi stack export` (pulumi-aws outputs).
CERT_ARN = "arn:aws:acm:us-west-2:123456789012:certificate/0f1e2d3c"
RECORD = "_d930b28be6c5927595552b219965053e.foo.cloud.weave.works"
DNS = "urn:pulumi:foo::infra::infra:index:Dns$"
CERTIFICATE_STATE: list[dict[str, Any]] = [
    {
        "urn": f"{DNS}aws:acm/certificate:Certificate::dns-cert",
        "custom": True,
        "id": CERT_ARN,
        "type": "aws:acm/certificate:Certificate",
        "outputs": {
            "arn": CERT_ARN,
            "domainName": "foo.cloud.weave.works",
            "domainValidationOptions": [
                {
                    "domainName": "foo.cloud.weave.works",
                    "resourceRecordName": f"{RECORD}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_6d5c.acm-validations.aws.",
                }
            ],
        },
    },
    {
        "urn": f"{DNS}aws:route53/record:Record::dns-cert-validation",
        "custom": True,
        "id": f"Z0123_{RECORD}_CNAME",
        "type": "aws:route53/record:Record",
        "outputs": {"name": RECORD, "fqdn": RECORD, "type": "CNAME", "zoneId": "Z0123", "allowOverwrite": True},
    },
    {  # the app's weighted CNAME: not a validation record
        "urn": f"{DNS}aws:route53/record:Record::dns-app",
        "custom": True,
        "id": "Z0123_foo.cloud.weave.works_CNAME_foo",
        "type": "aws:route53/record:Record",
        "outputs": {"name": "foo.cloud.weave.works", "type": "CNAME", "zoneId": "Z0123", "setIdentifier": "foo"},
    },
]


def test_the_certificate_validation_record_is_found_in_the_state() -> None:
    records = state.facts({"resources": CERTIFICATE_STATE}).validation_records
    assert records == (state.ValidationRecord(RECORD, "foo.cloud.weave.works", CERT_ARN),)
    assert state.facts({"resources": CERTIFICATE_STATE[2:]}).validation_records == ()
