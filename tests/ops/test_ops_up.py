"""`up --watch`: a fake Automation API stack whose `up` emits the engine's events (parsed by
pulumi.automation.events from the JSON the CLI streams) while the app on loopback fails during a scripted window;
the summary must name the resource that was being changed then."""

import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import SwitchableApp, switchable_app
from pulumi import automation as auto
from pulumi.automation import events

from infra.ops import cli
from infra.ops.clients import stack_workspace
from infra.ops.clients.stack_workspace import CancelledByOperatorError

ROOT = Path(__file__).resolve().parents[2]
STACK = "urn:pulumi:foo::infra::pulumi:pulumi:Stack::infra-foo"
RC = "urn:pulumi:foo::infra::infra:index:HelloWorld$kubernetes:core/v1:ReplicationController::helloworld-rc"
CLUSTER = "urn:pulumi:foo::infra::infra:index:Cluster$aws:eks/cluster:Cluster::cluster-eks"
NODES = "urn:pulumi:foo::infra::infra:index:Cluster$aws:eks/nodeGroup:NodeGroup::cluster-nodes"
FAST = ["--probe-interval", "0.01"]

Step = events.EngineEvent | Callable[[], None]


def step_json(op: str, urn: str) -> dict[str, Any]:
    """A step's metadata as the CLI streams it (sdk/go/common/apitype/events.go); components are not custom."""
    kind = urn.split("::")[2].rsplit("$", 1)[-1]
    custom = not kind.startswith(("pulumi:pulumi:", "infra:index:"))
    state = {"type": kind, "urn": urn, "id": "", "parent": "", "provider": "", "custom": custom}
    return {"op": op, "urn": urn, "type": kind, "provider": "", "old": state, "new": state}


def started(op: str, urn: str, *, planning: bool = False) -> events.EngineEvent:
    return events.EngineEvent.from_json({"resourcePreEvent": {"metadata": step_json(op, urn), "planning": planning}})


def finished(op: str, urn: str) -> events.EngineEvent:
    return events.EngineEvent.from_json({"resOutputsEvent": {"metadata": step_json(op, urn), "planning": False}})


def failed(op: str, urn: str) -> events.EngineEvent:
    return events.EngineEvent.from_json({"resOpFailedEvent": {"metadata": step_json(op, urn), "status": 1}})


SUMMARY = events.EngineEvent.from_json({"summaryEvent": {"resourceChanges": {"replace": 1}, "durationSeconds": 3}})


class FakeStack:
    """What stack_workspace.open_stack returns: outputs, preview, and an up that plays `script` (engine events, and
    the app's outage at its place among them), then ends as `ending` says."""

    def __init__(self, outputs: dict[str, Any], script: list[Step], ending: BaseException | None = None) -> None:
        self.out, self.script, self.ending = outputs, script, ending
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {name: auto.OutputValue(value, False) for name, value in self.out.items()}

    def preview(self, **kwargs: Any) -> None:
        self.calls.append(("preview", kwargs))
        kwargs["on_output"]("Previewing update (foo):")

    def up(self, **kwargs: Any) -> None:
        self.calls.append(("up", kwargs))
        on_event = kwargs.get("on_event")
        for step in self.script:
            if isinstance(step, events.EngineEvent):
                if on_event is not None:
                    on_event(step)
            else:
                step()
        if self.ending is not None:
            raise self.ending


@pytest.fixture
def app() -> Iterator[tuple[SwitchableApp, str]]:
    with switchable_app() as served:
        yield served


def use(monkeypatch: pytest.MonkeyPatch, fake: FakeStack) -> None:
    monkeypatch.setattr(stack_workspace, "open_stack", lambda name, work_dir: fake)


def summary_of(out: str) -> list[str]:
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("requests "))
    return lines[first:]


HEAD = re.compile(r"requests (\d+), failures (\d+), longest failure streak (\d+) \(\d+\.\d s\), p50 \d+ ms, p99 \d+ ms")


def test_helloworld_rollout_failures_are_attributed_to_the_old_rc_going(
    app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, url = app
    # 1.0.0 → 2.0.0: a new RC (create-replacement, awaited until available), then the old one deleted. The old
    # pods go without draining (the failure this catches): the app answers 503 while the delete runs.
    rollout: list[Step] = [
        started("same", STACK),
        started("create-replacement", RC),
        finished("create-replacement", RC),
        started("replace", RC),
        finished("replace", RC),
        started("delete-replaced", RC),
        lambda: server.outage(failures=2),
        finished("delete-replaced", RC),
        SUMMARY,
    ]
    fake = FakeStack({"url": url}, rollout)
    use(monkeypatch, fake)

    assert cli.main(["up", "foo", "--watch", "--yes", *FAST]) == 1

    out, err = capsys.readouterr()
    head, *streaks = summary_of(out)
    match = HEAD.fullmatch(head)
    assert match, head
    failures = int(match[2])
    assert failures >= 2 and int(match[3]) == failures
    (streak,) = streaks  # one streak holding every failure, during the old RC's delete and nothing else
    assert re.fullmatch(
        rf"  \+\d+\.\ds: {failures} failed over \d+\.\d s \(HTTP 503\) during "
        r"helloworld-rc \(kubernetes:core/v1:ReplicationController delete-replaced\)",
        streak,
    ), streak
    assert err == f"error: {failures} failed request(s) exceed the error budget (0)\n"
    assert f"probing {url} every 0.01s during the update (error budget 0)" in out
    ((verb, kwargs),) = fake.calls  # --yes: no preview
    assert verb == "up"
    assert kwargs["policy_packs"] == [str(ROOT / "policy")]  # the Makefile's `pulumi up --policy-pack policy`


def test_node_group_roll_failures_are_attributed_to_the_node_group_update(
    app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, url = app
    # cluster.version 1.35 → 1.36: the control plane first (no failure), then EKS rolls the node group.
    roll: list[Step] = [
        started("update", CLUSTER),
        finished("update", CLUSTER),
        started("update", NODES),
        lambda: server.outage(failures=2),
        finished("update", NODES),
        SUMMARY,
    ]
    use(monkeypatch, FakeStack({"url": url}, roll))

    assert cli.main(["up", "foo", "--watch", "--yes", *FAST]) == 1

    out, _ = capsys.readouterr()
    (streak,) = summary_of(out)[1:]
    assert re.fullmatch(
        r"  \+\d+\.\ds: \d+ failed over \d+\.\d s \(HTTP 503\) "
        r"during cluster-nodes \(aws:eks/nodeGroup:NodeGroup update\)",
        streak,
    ), streak


def test_failures_after_a_resource_finished_name_it_and_the_budget_can_allow_them(
    app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, url = app
    script: list[Step] = [
        started("update", NODES),
        finished("update", NODES),
        lambda: server.outage(failures=2),
        SUMMARY,
    ]
    use(monkeypatch, FakeStack({"url": url}, script))

    assert cli.main(["up", "foo", "--watch", "--yes", "--error-budget", "1000", *FAST]) == 0

    out, err = capsys.readouterr()
    (streak,) = summary_of(out)[1:]
    assert (
        streak.split(" during ", 1)[1]
        == "no resource in progress, after cluster-nodes (aws:eks/nodeGroup:NodeGroup update)"
    )
    assert err == ""


def test_a_failed_update_prints_the_summary_then_fails(
    app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, url = app
    result = auto.CommandResult("", "error: update failed\nerror: creating EKS Node Group: AccessDenied\n", 255)
    script: list[Step] = [started("update", NODES), lambda: server.wait_answers(200, 2), failed("update", NODES)]
    use(monkeypatch, FakeStack({"url": url}, script, ending=auto.errors.CommandError(result)))

    assert cli.main(["up", "foo", "--watch", "--yes", *FAST]) == 1

    out, err = capsys.readouterr()
    assert HEAD.fullmatch(summary_of(out)[0])
    assert ", failures 0, longest failure streak 0 (0.0 s)," in summary_of(out)[0]
    assert err == "error: pulumi up of stack 'foo' failed: error: creating EKS Node Group: AccessDenied\n"


def test_ctrl_c_is_passed_to_pulumi_and_the_summary_still_printed(
    app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, url = app
    cancelled = CancelledByOperatorError(auto.CommandResult("", "error: update canceled", 255))
    script: list[Step] = [started("update", NODES), lambda: server.wait_answers(200, 1)]
    use(monkeypatch, FakeStack({"url": url}, script, ending=cancelled))

    assert cli.main(["up", "foo", "--watch", "--yes", *FAST]) == 130

    out, err = capsys.readouterr()
    assert HEAD.fullmatch(summary_of(out)[0])
    assert err.startswith(
        "error: pulumi up of stack 'foo' was interrupted: pulumi was asked to cancel and has exited (code 255)"
    )


def test_a_stack_without_a_url_is_updated_without_the_probe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeStack({}, [started("create", NODES), finished("create", NODES)])
    use(monkeypatch, fake)

    assert cli.main(["up", "foo", "--watch", "--yes"]) == 0

    out, _ = capsys.readouterr()
    assert "stack foo has no url output yet (its first deploy): updating without the probe" in out
    assert "requests " not in out
    ((_, kwargs),) = fake.calls
    assert kwargs["on_event"] is None


def test_without_yes_it_previews_and_asks_like_pulumi_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeStack({}, [])
    use(monkeypatch, fake)
    monkeypatch.delenv("PULUMI_SKIP_CONFIRMATIONS", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["no", "yes"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))

    assert cli.main(["up", "foo"]) == 1
    assert capsys.readouterr().err == "error: not confirmed; nothing changed\n"
    assert [verb for verb, _ in fake.calls] == ["preview"]
    assert fake.calls[0][1]["policy_packs"] == [str(ROOT / "policy")]

    assert cli.main(["up", "foo"]) == 0
    assert [verb for verb, _ in fake.calls] == ["preview", "preview", "up"]


def test_without_a_terminal_it_needs_yes_or_pulumis_skip_confirmations(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeStack({}, [])
    use(monkeypatch, fake)
    monkeypatch.delenv("PULUMI_SKIP_CONFIRMATIONS", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    assert cli.main(["up", "foo"]) == 1
    assert capsys.readouterr().err == (
        "error: refusing to update without --yes: no terminal to confirm on; nothing changed\n"
    )
    assert fake.calls == []

    monkeypatch.setenv("PULUMI_SKIP_CONFIRMATIONS", "true")  # what CI sets for `pulumi up`
    assert cli.main(["up", "foo"]) == 0
    assert [verb for verb, _ in fake.calls] == ["up"]


def test_error_budget_needs_watch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use(monkeypatch, FakeStack({}, []))
    assert cli.main(["up", "foo", "--yes", "--error-budget", "2"]) == 1
    assert capsys.readouterr().err == "error: --error-budget needs --watch: without the probe no request is counted\n"
    with pytest.raises(SystemExit):
        cli.main(["up", "foo", "--watch", "--error-budget", "-1"])


def test_the_fake_calls_only_what_the_automation_api_has(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keywords `up` passes exist on the real Stack.up and Stack.preview (pulumi 3.272's automation/_stack.py)."""
    fake = FakeStack({}, [])
    use(monkeypatch, fake)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.delenv("PULUMI_SKIP_CONFIRMATIONS", raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert cli.main(["up", "foo"]) == 0
    for verb, kwargs in fake.calls:
        assert set(kwargs) <= set(inspect.signature(getattr(auto.Stack, verb)).parameters), verb


def test_up_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["up", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "python -m infra.ops up" in help_text and "--error-budget N" in help_text
