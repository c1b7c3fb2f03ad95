"""What a real account refuses on day one, shown under mocks that answer like AWS (issue: first contact).

Each test names the defect it guards against; the mocks' answers (tests/harness.py `World`) have the shapes and
refusals of DescribeClusterVersions, Route 53, STS, ECR and CloudWatch Logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from harness import ACCOUNT, Run, World, run_program, shared_run, with_changes

from infra import image_source
from infra.account.dns import zone_problem
from infra.account.eks import EksVersion, version_problems
from infra.config import ConfigError

TODAY = dt.date(2026, 11, 27)  # the facts are as of this day
D = dt.date.fromisoformat
# EKS's table on 2026-11-27 (AWS EKS user guide, Kubernetes version lifecycle).
TABLE = [
    EksVersion("1.31", "UNSUPPORTED", D("2025-11-26"), D("2026-11-26")),
    EksVersion("1.32", "EXTENDED_SUPPORT", D("2026-03-23"), D("2027-03-23")),
    EksVersion("1.33", "EXTENDED_SUPPORT", D("2026-07-29"), D("2027-07-29")),
    EksVersion("1.34", "STANDARD_SUPPORT", D("2026-12-02"), D("2027-12-02")),
    EksVersion("1.35", "STANDARD_SUPPORT", D("2027-03-27"), D("2028-03-27")),
]


def refused(config: dict, world: World | None = None, stack: str = "foo") -> tuple[str, Run]:
    with pytest.raises(ConfigError) as err:
        run_program(config, stack=stack, world=world)
    return str(err.value), err.value.run  # type: ignore[attr-defined]


# ---------------------------------------------------------------- 1. Kubernetes version and support billing


def test_extended_support_version_without_opt_in_is_the_config_error() -> None:
    problems, warnings = version_problems("1.33", "STANDARD", TABLE, TODAY, running=None)
    assert len(problems) == 1 and not warnings
    assert problems[0].startswith("infra:cluster.version: 1.33 — in EKS extended support since 2026-07-29")
    assert "$0.60 instead of $0.10 per hour" in problems[0]
    assert "the newest in standard support is 1.35" in problems[0]
    assert "infra:cluster.supportType: EXTENDED" in problems[0]


def test_extended_support_with_opt_in_is_a_warning_with_its_cost() -> None:
    problems, warnings = version_problems("1.33", "EXTENDED", TABLE, TODAY, running=None)
    assert problems == []
    assert warnings == [
        "infra:cluster.version: 1.33 is in EKS extended support until 2027-07-29 ($0.60 instead of $0.10 per hour"
        " for the control plane); the newest in standard support is 1.35"
    ]


def test_standard_support_ending_within_30_days_warns_with_the_date() -> None:
    problems, warnings = version_problems("1.34", "STANDARD", TABLE, TODAY, running=None)
    assert problems == [] and len(warnings) == 1
    assert "EKS standard support ends 2026-12-02" in warnings[0]
    assert version_problems("1.35", "STANDARD", TABLE, TODAY, running=None) == ([], [])
    # 30 days out still warns; 31 does not.
    assert version_problems("1.34", "STANDARD", TABLE, D("2026-11-02"), running=None)[1]
    assert not version_problems("1.34", "STANDARD", TABLE, D("2026-11-01"), running=None)[1]


@pytest.mark.parametrize("version", ["1.31", "1.29", "1.99"])
def test_unsupported_or_unknown_version_lists_what_eks_offers(version: str) -> None:
    problems, _ = version_problems(version, "EXTENDED", TABLE, TODAY, running=None)
    assert len(problems) == 1
    assert problems[0].startswith(f"infra:cluster.version: {version} — ")
    assert "allowed: one of 1.32, 1.33, 1.34, 1.35" in problems[0]


def test_program_refuses_extended_version_before_registering_anything() -> None:
    text, run = refused(with_changes({"infra:cluster.version": "1.33"}))
    assert "infra:cluster.version: 1.33 — in EKS extended support" in text
    assert run.resources == []


def test_default_version_is_in_standard_support_and_upgrade_policy_is_standard() -> None:
    run = shared_run(with_changes({"infra:cluster.version": None, "infra:cluster.supportType": None}))
    eks = run.one("aws:eks/cluster:Cluster").inputs
    assert eks["version"] == "1.35"
    assert eks["upgradePolicy"] == {"supportType": "STANDARD"}
    assert run.warnings() == []


def test_extended_opt_in_reaches_the_cluster_and_warns() -> None:
    run = shared_run(with_changes({"infra:cluster.version": "1.33", "infra:cluster.supportType": "EXTENDED"}))
    assert run.one("aws:eks/cluster:Cluster").inputs["upgradePolicy"] == {"supportType": "EXTENDED"}
    assert any("1.33 is in EKS extended support" in w for w in run.warnings())


def test_near_end_of_standard_support_warns_in_the_program() -> None:
    run = shared_run(with_changes({"infra:cluster.version": "1.34"}))
    assert any(w.startswith("infra:cluster.version: 1.34: EKS standard support ends") for w in run.warnings())


def test_foo_stack_file_shows_the_version_and_support_type() -> None:
    text = (Path(__file__).resolve().parent.parent / "Pulumi.foo.yaml").read_text()
    assert 'version: "1.35"' in text and "supportType: STANDARD" in text


# ---------------------------------------------------------------- 2. the DNS zone must exist


def test_missing_zone_is_the_config_error_and_nothing_is_registered() -> None:
    text, run = refused(with_changes({}), world=World(hosted_zones=()))
    assert (
        f"infra:dns.zone: cloud.weave.works — no public hosted zone of that name in account {ACCOUNT}; host it,"
        " use createZone + newZone, or remove infra:dns"
    ) in text
    assert run.resources == []


def test_other_zone_lookup_errors_are_not_disguised() -> None:
    def lookup() -> None:
        raise RuntimeError("ExpiredToken: The security token included in the request is expired")

    with pytest.raises(RuntimeError, match="ExpiredToken"):
        zone_problem("cloud.weave.works", ACCOUNT, lookup)


def test_created_zone_needs_no_lookup() -> None:
    config = with_changes({"infra:dns": {"createZone": True, "newZone": "foo-team.example.com"}})
    run = run_program(config, world=World(hosted_zones=()))
    assert run.one("aws:route53/zone:Zone").inputs["name"] == "foo-team.example.com"


# ---------------------------------------------------------------- 3. admin access entries EKS accepts


def test_assumed_role_arn_is_refused_with_the_role_arn_to_use() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123abcd/alice@example.com"
    text, run = refused(with_changes({"infra:cluster.adminArns": [session]}))
    assert f"infra:cluster.adminArns[0]: '{session}'" in text
    assert f"use the role: arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Admin_0123abcd" in text
    assert f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd" in text
    assert run.resources == []


def test_deployers_own_role_is_skipped_and_the_cluster_remembers_its_creator() -> None:
    deployer = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    other = f"arn:aws:iam::{ACCOUNT}:role/ops"
    run = shared_run(with_changes({"infra:cluster.adminArns": [deployer, other]}))
    entries = [e.inputs["principalArn"] for e in run.of_type("aws:eks/accessEntry:AccessEntry")]
    assert entries == [other]
    assert any(deployer in message for level, message in run.logs if level == "INFO")
    assert run.one("aws:eks/cluster:Cluster").inputs["tags"]["infra/cluster-creator"] == deployer


def test_later_runs_by_another_operator_keep_the_same_entries() -> None:
    """Bob created the cluster; Alice (the deployer) runs the next `up`: Alice gets an entry, Bob does not."""
    alice = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    bob = f"arn:aws:iam::{ACCOUNT}:role/bob"
    world = World(clusters={"infra-foo": {"version": "1.35", "tags": {"infra/cluster-creator": bob}}})
    run = run_program(with_changes({"infra:cluster.adminArns": [alice, bob]}), world=world)
    assert [e.inputs["principalArn"] for e in run.of_type("aws:eks/accessEntry:AccessEntry")] == [alice]
    assert run.one("aws:eks/cluster:Cluster").inputs["tags"]["infra/cluster-creator"] == bob


def test_a_cluster_without_the_creator_tag_skips_nobody_and_guesses_no_tag() -> None:
    """Made by an earlier version: who created it is unknown, so the deployer is not assumed to be the creator."""
    alice = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    world = World(clusters={"infra-foo": {"version": "1.35", "tags": {}}})
    run = run_program(with_changes({"infra:cluster.adminArns": [alice]}), world=world)
    assert [e.inputs["principalArn"] for e in run.of_type("aws:eks/accessEntry:AccessEntry")] == [alice]
    assert "infra/cluster-creator" not in run.one("aws:eks/cluster:Cluster").inputs["tags"]


ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"


def test_access_entries_keep_the_urns_of_earlier_versions_as_aliases() -> None:
    """Earlier versions named entries by list position: the alias keeps them instead of a conflicting re-create."""
    roles = [f"arn:aws:iam::{ACCOUNT}:role/ops", f"arn:aws:iam::{ACCOUNT}:user/alice"]
    run = shared_run(with_changes({"infra:cluster.adminArns": roles}))
    # Now one entry per principal whichever list names it (`cluster-access-…`), the policy association by role
    # (`cluster-admin-…`), each suffixed with a hash of the ARN; both keep the names of the two earlier versions.
    ops, alice = (
        f"{r.rsplit(':', 1)[1].replace('/', '-')}-{hashlib.sha256(r.encode()).hexdigest()[:8]}" for r in roles
    )
    for typ, role in (("aws:eks/accessEntry:AccessEntry", "access"), (ASSOCIATION, "admin")):
        by_name = {r.name: sorted(a.spec.name for a in r.aliases) for r in run.of_type(typ)}
        assert by_name == {
            f"cluster-{role}-{ops}": ["cluster-admin-0", "cluster-admin-role-ops"],
            f"cluster-{role}-{alice}": ["cluster-admin-1", "cluster-admin-user-alice"],
        }


def test_azs_eks_cannot_use_are_skipped() -> None:
    world = World(zone_ids=("usw2-az1", "usw1-az2", "usw2-az3", "usw2-az4"))  # the 2nd as if it were usw1-az2
    subnets = run_program(with_changes({}), world=world).of_type("aws:ec2/subnet:Subnet")
    assert sorted({s.inputs["availabilityZone"] for s in subnets}) == ["us-west-2a", "us-west-2c"]


def test_kubeconfig_role_without_access_is_refused() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/eks-admin"
    text, _ = refused(with_changes({"infra:cluster.kubeconfigRoleArn": role}))
    assert f"infra:cluster.kubeconfigRoleArn: {role} — has no access entry" in text
    run = shared_run(with_changes({"infra:cluster.kubeconfigRoleArn": role, "infra:cluster.adminArns": [role]}))
    assert [e.inputs["principalArn"] for e in run.of_type("aws:eks/accessEntry:AccessEntry")] == [role]


def test_access_entries_are_replaced_delete_first() -> None:
    """EKS keeps one entry per principal: a create-before-delete replacement would conflict."""
    role = f"arn:aws:iam::{ACCOUNT}:role/ops"
    run = shared_run(with_changes({"infra:cluster.adminArns": [role]}))
    assert run.one("aws:eks/accessEntry:AccessEntry").delete_before_replace is True


# ---------------------------------------------------------------- 4. the Kubernetes provider waits for access


def test_kubernetes_objects_wait_for_access_entries() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/ops"
    run = shared_run(with_changes({"infra:cluster.adminArns": [role]}))
    provider = run.one("pulumi:providers:kubernetes")
    association = run.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    entry = run.one("aws:eks/accessEntry:AccessEntry")
    assert {association.urn, entry.urn} <= set(provider.dependencies)
    for obj in (*run.of_type("kubernetes:core/v1:Namespace"), run.one("kubernetes:core/v1:Service")):
        assert run.depends_on(obj, association), f"{obj.name} would race its own access (and outlive it on destroy)"


# ---------------------------------------------------------------- 5. names Kubernetes accepts


def test_namespace_defaults_to_one_the_stack_creates() -> None:
    run = shared_run(with_changes({"infra:helloworld.namespace": None}))
    names = {n.plain("metadata")["name"] for n in run.of_type("kubernetes:core/v1:Namespace")}
    assert names == {"helloworld", "helloworld-db-admin"}


@pytest.mark.parametrize(
    "namespace", ["default", "kube-system", "kube-public", "Hello", "a_b", "-x", "x" * 64, "x" * 55]
)
def test_namespaces_that_exist_or_are_invalid_are_refused(namespace: str) -> None:
    text, _ = refused(with_changes({"infra:helloworld.namespace": namespace}))
    assert f"infra:helloworld.namespace: {namespace!r}" in text
    assert "at most 54 characters, since the stack also creates" in text  # 63 less "-db-admin"


@pytest.mark.parametrize("version", ["2.0.0-RC1", "2.0.0-rc_1", "1.0.0+build.5", "1.0", f"1.0.0-{'a' * 60}"])
def test_versions_that_make_invalid_object_names_are_refused(version: str) -> None:
    text, _ = refused(with_changes({"infra:helloworld.version": version}))
    assert f"infra:helloworld.version: {version!r}" in text


def test_lowercase_prerelease_version_names_the_rc() -> None:
    run = shared_run(with_changes({"infra:helloworld.version": "2.0.0-rc.1"}))
    rc = run.one("kubernetes:core/v1:ReplicationController").plain("metadata")
    assert rc["name"] == "helloworld-2.0.0-rc.1" and rc["labels"]["version"] == "2.0.0-rc.1"


@pytest.mark.parametrize("stack", ["Foo", "foo.bar", "foo--bar", "foo-", "x" * 41])
def test_stack_names_that_aws_would_refuse(stack: str) -> None:
    text, run = refused(with_changes({}), stack=stack)
    assert f"stack name: {stack!r}" in text and run.resources == []


# ---------------------------------------------------------------- 6. subnets stay put when AZs change


def subnet_cidrs(run: Run) -> dict[str, str]:
    return {s.name: s.inputs["cidrBlock"] for s in run.of_type("aws:ec2/subnet:Subnet")}


def test_subnets_by_index_survive_2_3_2_azs() -> None:
    two = subnet_cidrs(shared_run(with_changes({"infra:network.azCount": 2})))
    assert two == {
        "network-private-0": "10.0.0.0/19",
        "network-private-1": "10.0.32.0/19",
        "network-public-0": "10.0.192.0/22",
        "network-public-1": "10.0.196.0/22",
    }
    three = subnet_cidrs(shared_run(with_changes({"infra:network.azCount": 3})))
    assert {k: v for k, v in three.items() if k in two} == two, "adding an AZ must not move another AZ's subnets"
    assert three["network-private-2"] == "10.0.64.0/19" and three["network-public-2"] == "10.0.200.0/22"
    assert subnet_cidrs(run_program(with_changes({"infra:network.azCount": 2}))) == two


def test_four_azs_in_the_program_and_six_in_the_plan_never_overlap() -> None:
    import ipaddress

    four = subnet_cidrs(shared_run(with_changes({"infra:network.azCount": 4})))
    nets = [ipaddress.ip_network(c) for c in four.values()]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    from infra.network_plan import plan_subnets

    private, public = plan_subnets("10.0.0.0/16", 6)
    assert private[5] == "10.0.160.0/19" and public[5] == "10.0.212.0/22"
    all_six = [ipaddress.ip_network(c) for c in private + public]
    assert not any(a.overlaps(b) for i, a in enumerate(all_six) for b in all_six[i + 1 :])


def test_smallest_vpc_keeps_a_24_per_private_subnet() -> None:
    from infra.network_plan import plan_subnets

    private, public = plan_subnets("10.1.0.0/21", 2)
    assert private == ["10.1.0.0/24", "10.1.1.0/24"] and public == ["10.1.6.0/27", "10.1.6.32/27"]
    text, _ = refused(with_changes({"infra:network.cidr": "10.1.0.0/22"}))
    assert "infra:network.cidr: '10.1.0.0/22' — allowed: /16 to /21" in text


# ---------------------------------------------------------------- 7. one version = one image


def test_ecr_tags_are_immutable_and_carry_the_source_hash(foo: Run) -> None:
    repo = foo.one("aws:ecr/repository:Repository").inputs
    assert repo["name"] == "infra-foo/helloworld" and repo["imageTagMutability"] == "IMMUTABLE"
    image_name = foo.one("docker:index/image:Image").inputs["imageName"]
    repository, tag = image_name.rsplit(":", 1)
    assert repository == f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/infra-foo/helloworld"
    version, _, digest = tag.partition("_")
    assert version == "1.0.0" and len(digest) == 12 and int(digest, 16) >= 0


def test_rebuilding_a_version_from_other_sources_fails_before_the_cluster_is_touched(foo: Run) -> None:
    pushed = foo.one("docker:index/image:Image").inputs["imageName"].rsplit(":", 1)[1]
    world = World(ecr_tags={"infra-foo/helloworld": [pushed]})
    same = shared_run(with_changes({}), world=world)  # same sources: fine, and that tag is reused, not pushed
    assert same.of_type("docker:index/image:Image") == []

    text, run = refused(with_changes({"infra:helloworld.greeting": "Foo bar"}), world=world)
    assert "infra:helloworld.version: 1.0.0 — already built from other sources" in text
    assert pushed in text and "bump infra:helloworld.version" in text
    assert run.resources == []
    bumped = with_changes({"infra:helloworld.greeting": "Foo bar", "infra:helloworld.version": "2.0.0"})
    assert shared_run(bumped, world=world).one("kubernetes:core/v1:ReplicationController")


def test_source_hash_follows_what_the_build_reads(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text("FROM scratch\n")
    (app / ".dockerignore").write_text("*_test.go\n*.md\nDockerfile\n.dockerignore\nbin/\n")
    (app / "main.go").write_text("package main\n")
    args = {"GREETING": "Hello world", "VERSION": "1.0.0"}
    base = image_source.source_hash(app, args, "linux/amd64")
    (app / "main_test.go").write_text("package main // tests are not in the image\n")
    (app / "README.md").write_text("docs\n")
    (app / "bin").mkdir()
    (app / "bin" / "helloworld").write_bytes(b"\x7fELF")
    assert image_source.source_hash(app, args, "linux/amd64") == base
    # Docker matches patterns from the context's root: a test file in a subdirectory IS sent to the build.
    (app / "pkg").mkdir()
    (app / "pkg" / "x_test.go").write_text("package pkg\n")
    nested = image_source.source_hash(app, args, "linux/amd64")
    assert nested != base
    (app / "pkg" / "x_test.go").unlink()
    (app / "pkg").rmdir()
    assert image_source.source_hash(app, {**args, "GREETING": "Foo bar"}, "linux/amd64") != base
    assert image_source.source_hash(app, args, "linux/arm64") != base
    (app / "Dockerfile").write_text("FROM scratch\nUSER 1\n")
    changed_dockerfile = image_source.source_hash(app, args, "linux/amd64")
    assert changed_dockerfile != base
    (app / "main.go").write_text("package main\n\nfunc main() {}\n")
    assert image_source.source_hash(app, args, "linux/amd64") != changed_dockerfile


def test_deployment_rolls_in_place_on_a_new_version() -> None:
    before = shared_run(with_changes({"infra:helloworld.workload": "Deployment"}))
    after = shared_run(
        with_changes(
            {
                "infra:helloworld.workload": "Deployment",
                "infra:helloworld.version": "2.0.0",
                "infra:helloworld.greeting": "Foo bar",
            }
        )
    )
    old, new = before.one("kubernetes:apps/v1:Deployment"), after.one("kubernetes:apps/v1:Deployment")
    assert (
        (old.urn, old.plain("metadata")["name"]) == (new.urn, new.plain("metadata")["name"]) == (old.urn, "helloworld")
    )
    image = lambda d: d.plain("spec")["template"]["spec"]["containers"][0]["image"]  # noqa: E731
    assert image(old) != image(new), "a template change is what makes a Deployment roll"
    assert new.plain("spec")["selector"] == old.plain("spec")["selector"], "the selector is immutable"


# ---------------------------------------------------------------- 8, 9. log groups: leftovers and RDS's own


def test_leftover_eks_log_group_names_the_one_command() -> None:
    world = World(log_groups={"/aws/eks/infra-foo/cluster": {}})
    text, run = refused(with_changes({}), world=world)
    assert (
        "aws logs delete-log-group --region us-west-2 --log-group-name /aws/eks/infra-foo/cluster" in text
        and run.resources == []
    )
    running = World(
        log_groups={"/aws/eks/infra-foo/cluster": {"stack": "foo"}},
        clusters={"infra-foo": {"version": "1.35", "tags": {}}},
    )
    assert run_program(with_changes({}), world=running).one("aws:eks/cluster:Cluster")


def test_rds_log_groups_belong_to_the_stack_and_exist_before_the_instance(foo: Run) -> None:
    groups = {g.inputs["name"]: g for g in foo.of_type("aws:cloudwatch/logGroup:LogGroup")}
    rds = ["/aws/rds/instance/infra-foo/postgresql", "/aws/rds/instance/infra-foo/upgrade"]
    assert set(rds) <= set(groups)
    instance = foo.one("aws:rds/instance:Instance")
    assert instance.inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    for name in rds:
        assert groups[name].inputs["retentionInDays"] == 30
        assert groups[name].urn in instance.dependencies


def test_rds_log_group_of_a_deleted_database_names_the_delete_command() -> None:
    world = World(log_groups={"/aws/rds/instance/infra-foo/postgresql": {}})
    text, _ = refused(with_changes({}), world=world)
    assert "log group /aws/rds/instance/infra-foo/postgresql: left from a deleted database" in text
    assert (
        "aws logs delete-log-group --region us-west-2 --log-group-name /aws/rds/instance/infra-foo/postgresql" in text
    )


def test_rds_log_group_of_a_running_database_is_adopted_with_the_exact_import(foo: Run) -> None:
    """RDS writes to it all the time, so deleting would race: the command imports it under the URN the program
    gives its own log group."""
    world = World(log_groups={"/aws/rds/instance/infra-foo/upgrade": {}}, db_instances={"infra-foo": "16.4"})
    text, _ = refused(with_changes({}), world=world)
    (ours,) = [g for g in foo.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"].endswith("/upgrade")]
    parent = foo.by_urn()[ours.parent]
    # The engine leaves the root Stack out of a URN's type chain (the mock monitor keeps it).
    assert ours.parent.endswith(f"pulumi:pulumi:Stack${parent.type}::{parent.name}")
    engine_urn = f"urn:pulumi:foo::infra::{parent.type}::{parent.name}"
    assert (
        f"pulumi import -s foo --yes aws:cloudwatch/logGroup:LogGroup {ours.name} /aws/rds/instance/infra-foo/upgrade"
        f" --parent '{parent.name}={engine_urn}'"
    ) in text
    assert "delete-log-group" not in text


# ---------------------------------------------------------------- 10. network policy agent before the nodes


def test_nodes_wait_for_the_vpc_cni_addon(foo: Run) -> None:
    (cni,) = [a for a in foo.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "vpc-cni"]
    assert cni.urn in foo.one("aws:eks/nodeGroup:NodeGroup").dependencies


# ---------------------------------------------------------------- 6b. a running stack keeps its subnets

EQUAL_SPLIT_2 = ("10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18", "10.0.192.0/18")  # earlier versions' plan, 2 AZs
PER_AZ_2 = ("10.0.0.0/19", "10.0.32.0/19", "10.0.192.0/22", "10.0.196.0/22")


def test_a_stack_made_with_the_earlier_plan_is_told_which_layout_keeps_its_subnets() -> None:
    text, run = refused(with_changes({}), world=World(subnets=EQUAL_SPLIT_2))
    assert "infra:network.subnetLayout: per-az (azCount 2) — the stack's VPC has subnets 10.0.0.0/18" in text
    assert "set infra:network.subnetLayout: equal-split (the layout they were made with)" in text
    assert run.resources == []
    kept = run_program(with_changes({"infra:network.subnetLayout": "equal-split"}), world=World(subnets=EQUAL_SPLIT_2))
    assert sorted(subnet_cidrs(kept).values()) == sorted(EQUAL_SPLIT_2)


def test_per_az_stacks_may_add_an_az_but_equal_split_ones_may_not() -> None:
    grown = run_program(with_changes({"infra:network.azCount": 3}), world=World(subnets=PER_AZ_2))
    assert set(PER_AZ_2) <= set(subnet_cidrs(grown).values())
    config = with_changes({"infra:network.subnetLayout": "equal-split", "infra:network.azCount": 3})
    text, _ = refused(config, world=World(subnets=EQUAL_SPLIT_2))
    assert "subnets cannot move in place" in text and "keep the azCount and layout they were made with" in text


def test_a_new_vpc_cidr_is_not_a_subnet_layout_question() -> None:
    """The VPC is replaced then (flagged by `make plan`), so its old subnets do not constrain the new plan."""
    run = run_program(with_changes({"infra:network.cidr": "10.1.0.0/16"}), world=World(subnets=EQUAL_SPLIT_2))
    assert sorted(subnet_cidrs(run).values())[0] == "10.1.0.0/19"


def test_a_new_vpc_cidr_is_flagged_as_replacing_the_vpc_and_the_database_refuses(foo: Run) -> None:
    """`make plan` flags it against the reviewed graph; a durable database's `protect` stops the replacement."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tools import reviewed_graph

    # What `capture` would run, from the shared runs: snapshot_of only reads a run.
    committed = reviewed_graph.snapshot_of(foo, "foo")
    changed = reviewed_graph.snapshot_of(shared_run(with_changes({"infra:network.cidr": "10.1.0.0/16"})), "foo")
    messages = reviewed_graph.replaced_by_inputs(committed, changed)
    assert any(
        m.startswith("aws:ec2/vpc:Vpc ") and "cidrBlock '10.0.0.0/16' → '10.1.0.0/16' cannot change in place" in m
        for m in messages
    ), messages
    durable = shared_run(with_changes({"infra:database.ephemeral": False, "infra:network.cidr": "10.1.0.0/16"}))
    assert durable.one("aws:rds/instance:Instance").protect is True
