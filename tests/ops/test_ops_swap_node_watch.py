"""swap-node --watch: the probe polls the app on loopback throughout the run (the fakes of test_ops_swap_node.py:
moto's ASG, a fake clock for the swap's waits); the app fails while the drain runs, and the run must stop before the
next destructive step, undo, and say which step the failures happened in."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fakes import SwitchableApp, switchable_app
from test_ops_swap_node import (
    EXCLUDE,
    OUTPUTS,
    Cloud,
    FakeKube,
    World,
    app_pods,
    cloud,
    lone_cloud,
    moto_account,
    node_name,
    setup,
    undone_then_surge_removed,
    wire_cli,
)

from infra.ops import cli, live
from infra.ops.clients import stack

__all__ = ["cloud", "lone_cloud", "moto_account"]  # fixtures: pytest finds them here by name

FAST = ["--probe-interval", "0.01"]
DRAIN = "3/6 wait for evicted pods to leave the node"


@pytest.fixture
def app() -> Iterator[tuple[SwitchableApp, str]]:
    with switchable_app() as served:
        yield served


def fail_during(monkeypatch: pytest.MonkeyPatch, server: SwitchableApp, step: str) -> list[str]:
    """The printed lines; the app fails for a few requests when `step` starts (the probe has it as current then)."""
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if line == step:
            server.outage(failures=2)

    monkeypatch.setattr(live, "say", say)
    return lines


@dataclass(frozen=True)
class WatchedSwap:
    kube: FakeKube
    world: World
    old: str  # the instance to swap
    name: str  # its node
    lines: list[str]  # what the run printed


def watched_swap(
    cloud: Cloud, app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, fail_at: str, pods: bool = True
) -> WatchedSwap:
    """`swap-node foo NODE --watch` on the fakes, for the group's first instance, with the app at the stack's url
    failing when `fail_at` is printed."""
    server, url = app
    kube, deps, _, world = setup(cloud)
    old = cloud.instances()[0]
    if pods:
        app_pods(kube, old)
    wire_cli(monkeypatch, kube, deps)
    monkeypatch.setattr(stack, "read_outputs", lambda stack_name: {**OUTPUTS, "url": url})
    return WatchedSwap(kube, world, old, node_name(old), fail_during(monkeypatch, server, fail_at))


def test_failures_during_the_drain_stop_the_swap_before_the_terminate_and_undo_it(
    cloud: Cloud, app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = watched_swap(cloud, app, monkeypatch, DRAIN)
    kube, world, old, name, lines = run.kube, run.world, run.old, run.name, run.lines

    assert cli.main(["swap-node", "foo", name, "--watch", *FAST]) == 1

    # Stopped before 5/6: the node was never terminated, and step 1's cordon and label are undone.
    assert not any(entry.startswith("terminate") for entry in world.log)
    assert world.log[-2:] == [f"uncordon {name}", f"unlabel {name} {EXCLUDE}"]
    assert old in cloud.instances()
    assert kube.leases == {}  # the lock is released
    assert f"stopped: {name}: uncordoned it and removed its label {EXCLUDE} (it rejoins the ELB)" in lines
    assert not any(line.startswith("5/6") for line in lines)
    summary = lines[next(i for i, line in enumerate(lines) if line.startswith("requests ")) :]
    (streak,) = summary[1:]
    failures = int(streak.split(" failed over ", 1)[0].rsplit(" ", 1)[1])
    assert failures >= 2
    assert streak.endswith(f"(HTTP 503) during {DRAIN}")
    assert capsys.readouterr().err == (
        f"error: {failures} failed request(s) exceed the error budget (0): stopped before 5/6 terminate {old} "
        "(desired capacity kept)\n"
    )


def test_a_budget_that_allows_the_failures_lets_the_swap_finish(
    cloud: Cloud, app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = watched_swap(cloud, app, monkeypatch, DRAIN)
    world, old, name, lines = run.world, run.old, run.name, run.lines
    _, url = app

    assert cli.main(["swap-node", "foo", name, "--watch", "--error-budget", "1000", *FAST]) == 0

    assert any(entry.startswith(f"terminate {old}") for entry in world.log)
    assert f"done: {name} replaced" in lines
    assert lines[-1].endswith(f"(HTTP 503) during {DRAIN}")
    assert f"probing {url} every 0.01s during the swap (error budget 1000)" in lines


def test_failures_before_any_step_stop_the_swap_before_the_cordon(
    cloud: Cloud, app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = cloud.instances()
    name = node_name(old)
    # The app is failing already while swap-node checks the node: nothing of the swap is to blame, nothing starts.
    checking = f"replacing node {name} (instance {old} in ASG {cloud.asg}, desired 2)"
    run = watched_swap(cloud, app, monkeypatch, checking, pods=False)
    world, lines = run.world, run.lines

    assert cli.main(["swap-node", "foo", name, "--watch", *FAST]) == 1

    assert world.log == []
    assert lines[-1].endswith("(HTTP 503) during checks before 1/6 (nothing changed yet)")
    assert capsys.readouterr().err.endswith(
        "exceed the error budget (0): stopped before 1/6 cordon and exclude from external load balancers\n"
    )


def test_the_restore_after_a_budget_stop_runs_to_the_end_although_the_budget_is_spent(
    lone_cloud: Cloud, app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One node: the group grew by one first. Stopped by the budget, the restore drains and removes the node it added
    # (steps 1/6 to 5/6 again, destructive ones included): the undo itself must not be stopped by the budget.
    cloud = lone_cloud
    (old,) = cloud.instances()
    run = watched_swap(cloud, app, monkeypatch, DRAIN)
    world, name, lines = run.world, run.name, run.lines

    assert cli.main(["swap-node", "foo", name, "--watch", *FAST]) == 1

    (new,) = set(world.log[1].split()[-1:])  # "elb in service NEW": the instance the group grew by
    undone = world.log.index(f"uncordon {name}")
    assert world.log[undone:] == undone_then_surge_removed(old, new)
    assert cloud.instances() == [old] and cloud.sizes() == (1, 1, 1)
    assert not any(line.startswith("could not restore") for line in lines)


def test_failures_after_the_terminate_let_the_swap_finish_but_fail_the_run(
    cloud: Cloud, app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = watched_swap(cloud, app, monkeypatch, "6/6 wait for the replacement node and the workload")
    world, old, name, lines = run.world, run.old, run.name, run.lines

    assert cli.main(["swap-node", "foo", name, "--watch", *FAST]) == 1

    assert f"done: {name} replaced" in lines  # nothing destructive was left to stop
    assert any(entry.startswith(f"terminate {old}") for entry in world.log)
    assert lines[-1].endswith("(HTTP 503) during 6/6 wait for the replacement node and the workload")
    err = capsys.readouterr().err
    assert err.endswith("exceed the error budget (0): seen after the last destructive step; the node was replaced\n")
