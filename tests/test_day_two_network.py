"""Day two for the network and the control plane: decided from what already runs (issue 17 items 2, 3, 9, 11).

Each test runs the real program twice: once on an empty account (the session's `foo` run where foo's config is
used as it is), then against the account as that run left it (`deployed`), with the change in between. The mocks
refuse what EKS refuses: control-plane subnets in an AZ the cluster was not created in.
"""

from __future__ import annotations

import pytest
from harness import Run, World, deployed, run_program, shared_run, with_changes

from infra.config import ConfigError
from infra.network import Network


def zones(run: Run) -> dict[str, str]:
    return {s.name: s.inputs["availabilityZone"] for s in run.of_type("aws:ec2/subnet:Subnet")}


def control_plane_subnets(run: Run) -> list[str]:
    return run.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]["subnetIds"]


# ---------------------------------------------------------------- 2. azCount 2 -> 3 on a running cluster


def test_a_third_az_serves_nodes_and_load_balancers_but_not_the_control_plane(foo: Run) -> None:
    first = foo
    assert control_plane_subnets(first) == [
        "network-public-0-id",
        "network-public-1-id",
        "network-private-0-id",
        "network-private-1-id",
    ]
    grown = run_program(with_changes({"infra:network.azCount": 3}), world=deployed(first))
    assert control_plane_subnets(grown) == control_plane_subnets(first)
    assert zones(grown)["network-private-2"] == "us-west-2c"
    nodes = grown.one("aws:eks/nodeGroup:NodeGroup").inputs["subnetIds"]
    assert nodes == ["network-private-0-id", "network-private-1-id", "network-private-2-id"]
    public_2 = next(s for s in grown.of_type("aws:ec2/subnet:Subnet") if s.name == "network-public-2")
    assert public_2.inputs["tags"]["kubernetes.io/role/elb"] == "1"  # the ELB may use the new AZ


def test_the_old_defect_every_azs_subnets_to_the_control_plane_is_refused_as_eks_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The mock bites: with the control plane given every AZ's subnets again, 2 -> 3 fails as on a real account."""
    world = deployed(shared_run(with_changes({})))
    monkeypatch.setattr(Network, "subnet_ids_in", lambda self, _: self.public_subnet_ids + self.private_subnet_ids)
    with pytest.raises(Exception, match="us-west-2c, an Availability Zone the cluster was not created in"):
        run_program(with_changes({"infra:network.azCount": 3}), world=world)


def test_a_new_cluster_gets_every_az() -> None:
    run = shared_run(with_changes({"infra:network.azCount": 3}))
    assert len(control_plane_subnets(run)) == 6


def test_shrinking_below_two_of_the_control_planes_azs_is_the_config_error() -> None:
    three = shared_run(with_changes({"infra:network.azCount": 3}))
    world = deployed(three)
    world.clusters["infra-foo"]["vpcConfig"]["subnetIds"] = ["subnet-2", "subnet-4"]  # created in 2b and 2c only
    with pytest.raises(ConfigError) as err:
        run_program(with_changes({}), world=world)
    assert "infra:network.azCount: the running cluster's control plane is in us-west-2b, us-west-2c" in str(err.value)
    assert "EKS needs two" in str(err.value)


# ---------------------------------------------------------------- 3. an AZ impaired between two `up`s


def test_an_impaired_az_moves_no_subnet(foo: Run) -> None:
    first = foo
    assert set(zones(first).values()) == {"us-west-2a", "us-west-2b"}
    world = deployed(first)
    world.zone_states = {"us-west-2a": "impaired"}
    again = run_program(with_changes({}), world=world)
    assert zones(again) == zones(first)
    assert control_plane_subnets(again) == control_plane_subnets(first)


def test_an_az_added_during_an_incident_takes_an_available_one(foo: Run) -> None:
    world = deployed(foo)
    world.zone_states = {"us-west-2c": "impaired"}
    grown = run_program(with_changes({"infra:network.azCount": 3}), world=world)
    assert zones(grown)["network-private-2"] == "us-west-2d"
    assert zones(grown)["network-private-0"] == "us-west-2a"


def test_a_new_vpc_picks_from_the_available_azs_only() -> None:
    run = run_program(with_changes({}), world=World(zone_states={"us-west-2a": "impaired"}))
    assert sorted(set(zones(run).values())) == ["us-west-2b", "us-west-2c"]


def test_too_few_usable_azs_names_the_count_allowed() -> None:
    world = World(zone_states={"us-west-2b": "unavailable", "us-west-2c": "constrained", "us-west-2d": "impaired"})
    with pytest.raises(ConfigError) as err:
        run_program(with_changes({}), world=world)
    assert "infra:network.azCount: 2 — allowed: at most 1 in this region" in str(err.value)
    assert "available now or already holding the stack's subnets: us-west-2a)" in str(err.value)


# ---------------------------------------------------------------- 9. the stack's own EKS log group


def test_the_stacks_own_eks_log_group_is_not_a_leftover() -> None:
    """A first `up` made the group, then CreateCluster failed: the retry must not ask to delete a group in state."""
    ours = {"Name": "infra-foo-eks-logs", "project": "infra", "stack": "foo"}
    world = World(log_groups={"/aws/eks/infra-foo/cluster": ours})
    assert run_program(with_changes({}), world=world).one("aws:eks/cluster:Cluster")


def test_an_eks_log_group_of_another_stack_or_untagged_is_a_leftover() -> None:
    for tags in ({}, {"project": "infra", "stack": "bar"}, {"project": "other", "stack": "foo"}):
        with pytest.raises(ConfigError) as err:
            run_program(with_changes({}), world=World(log_groups={"/aws/eks/infra-foo/cluster": tags}))
        assert "log group /aws/eks/infra-foo/cluster: left from a deleted cluster" in str(err.value)


# ---------------------------------------------------------------- 11. cluster deletion protection


def test_a_durable_stacks_cluster_has_deletion_protection() -> None:
    durable = shared_run(with_changes({"infra:database.ephemeral": False}))
    assert durable.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is True
    ephemeral = shared_run(with_changes({"infra:database.ephemeral": True}))
    assert ephemeral.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is False


def test_an_az_change_is_flagged_as_replacing_the_node_group(foo: Run) -> None:
    """EKS's UpdateNodegroupConfig has no subnets (botocore eks model): `make plan` must say the group is replaced."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tools import reviewed_graph

    # What `capture` would run, from the shared runs: snapshot_of only reads a run.
    three = shared_run(with_changes({"infra:network.azCount": 3}))
    messages = reviewed_graph.replaced_by_inputs(
        reviewed_graph.snapshot_of(foo, "foo"), reviewed_graph.snapshot_of(three, "foo")
    )
    assert any(m.startswith("aws:eks/nodeGroup:NodeGroup ") and "subnetIds" in m for m in messages), messages
