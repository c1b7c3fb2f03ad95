"""Which resources an update is changing, from the engine's events: only steps that touch a cloud resource count."""

from pulumi.automation.events import EngineEvent
from test_ops_up import NODES, RC, SUMMARY, failed, finished, started

from infra.ops.up.progress import ResourcesInProgress

HELLOWORLD = "urn:pulumi:foo::infra::infra:index:Cluster$infra:index:HelloWorld::helloworld"
RC_NEW = "helloworld-rc (kubernetes:core/v1:ReplicationController create-replacement)"


def follow(*events: EngineEvent) -> ResourcesInProgress:
    progress = ResourcesInProgress()
    for event in events:
        progress.on_event(event)
    return progress


def test_nothing_yet_then_each_resource_while_its_step_runs() -> None:
    assert follow().doing() == "no resource in progress yet"
    assert follow(started("create-replacement", RC)).doing() == RC_NEW
    both = follow(started("create-replacement", RC), started("update", NODES))
    assert both.doing() == f"{RC_NEW}; cluster-nodes (aws:eks/nodeGroup:NodeGroup update)"


def test_a_finished_or_failed_step_leaves_only_its_name_as_the_last_one() -> None:
    done = follow(started("create-replacement", RC), finished("create-replacement", RC))
    assert done.doing() == f"no resource in progress, after {RC_NEW}"
    broken = follow(started("update", NODES), failed("update", NODES))
    assert broken.doing() == "no resource in progress, after cluster-nodes (aws:eks/nodeGroup:NodeGroup update)"


def test_the_replace_steps_of_one_resource_are_told_apart_by_their_op() -> None:
    progress = follow(started("create-replacement", RC), started("delete-replaced", RC))
    progress.on_event(finished("create-replacement", RC))
    assert progress.doing() == "helloworld-rc (kubernetes:core/v1:ReplicationController delete-replaced)"


def test_components_unchanged_resources_and_the_preview_do_not_count() -> None:
    # A component's step ends only when the program registers its outputs: it would seem to run all along.
    assert follow(started("update", HELLOWORLD)).doing() == "no resource in progress yet"
    assert follow(started("same", NODES)).doing() == "no resource in progress yet"
    assert follow(started("update", NODES, planning=True)).doing() == "no resource in progress yet"


def test_the_end_of_the_update_clears_what_never_reported_back() -> None:
    assert follow(started("update", NODES), SUMMARY).doing() == "no resource in progress yet"
