"""`up --watch`: a fake Automation API stack whose `up` emits the engine's events (parsed by
pulumi.automation.events from the JSON the CLI streams) while the app on loopback fails during a scripted window;
the summary must name the resource that was being changed then."""

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes import SwitchableApp, switchable_app
from pulumi import automation as auto
from pulumi.automation import events

from infra.ops import cli
from infra.ops.clients import stack, stack_workspace
from infra.ops.clients.stack_workspace import CancelledByOperatorError

ROOT = Path(__file__).resolve().parents[2]
STACK = "urn:pulumi:foo::infra::pulumi:pulumi:Stack::infra-foo"
RC = "urn:pulumi:foo::infra::infra:index:HelloWorld$kubernetes:core/v1:ReplicationController::helloworld-rc"
CLUSTER = "urn:pulumi:foo::infra::infra:index:Cluster$aws:eks/cluster:Cluster::cluster-eks"
NODES = "urn:pulumi:foo::infra::infra:index:Cluster$aws:eks/nodeGroup:NodeGroup::cluster-nodes"
FAST = ["--probe-interval", "0.01"]

Step = events.EngineEvent | Callable[[], None]


# The halves of a replacement are not logical steps (pkg/resource/deploy/step.go: CreateStep and DeleteStep are
# Logical() only when not replacing): the engine's summary counts the `replace` alone.
NOT_LOGICAL = ("create-replacement", "delete-replaced")


def step_json(
    op: str, urn: str, old: dict[str, Any] | None = None, new: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A step's metadata as the CLI streams it (sdk/go/common/apitype/events.go, `logical` omitted when false);
    components are not custom. `old`/`new`: the inputs of the state before and after the step."""
    kind = urn.split("::")[2].rsplit("$", 1)[-1]
    custom = not kind.startswith(("pulumi:pulumi:", "infra:index:"))
    state = {"type": kind, "urn": urn, "id": "", "parent": "", "provider": "", "custom": custom}
    logical = {} if op in NOT_LOGICAL else {"logical": True}
    # A create has no old state, a delete no new one (pkg/engine/events.go: the step's Old() and New()).
    before = {} if op == "create" else {"old": state | ({"inputs": old} if old is not None else {})}
    after = {} if op.startswith("delete") else {"new": state | ({"inputs": new} if new is not None else {})}
    return {"op": op, "urn": urn, "type": kind, "provider": ""} | before | after | logical


def started(
    op: str,
    urn: str,
    *,
    planning: bool = False,
    diffs: list[str] | None = None,
    **inputs: dict[str, Any],
) -> events.EngineEvent:
    metadata = step_json(op, urn, **inputs) | ({"diffs": diffs} if diffs is not None else {})
    return events.EngineEvent.from_json({"resourcePreEvent": {"metadata": metadata, "planning": planning}})


def planned(op: str, urn: str, diffs: list[str] | None = None, **inputs: dict[str, Any]) -> events.EngineEvent:
    """A step as a preview streams it."""
    return started(op, urn, planning=True, diffs=diffs, **inputs)


def counted(planned_steps: list[events.EngineEvent]) -> dict[str, int]:
    """The change summary the engine ends such a preview with: its logical steps by op (pkg/engine/update.go)."""
    ops = [e.resource_pre_event.metadata.op.value for e in planned_steps if e.resource_pre_event is not None]
    return {op: ops.count(op) for op in ops if op not in NOT_LOGICAL}


def finished(op: str, urn: str) -> events.EngineEvent:
    return events.EngineEvent.from_json({"resOutputsEvent": {"metadata": step_json(op, urn), "planning": False}})


def during(op: str, urn: str, *meanwhile: Step) -> list[Step]:
    """A step of the update from its start to its end, with what happens meanwhile (an outage of the app)."""
    return [started(op, urn), *meanwhile, finished(op, urn)]


def failed(op: str, urn: str) -> events.EngineEvent:
    return events.EngineEvent.from_json({"resOpFailedEvent": {"metadata": step_json(op, urn), "status": 1}})


SUMMARY = events.EngineEvent.from_json({"summaryEvent": {"resourceChanges": {"replace": 1}, "durationSeconds": 3}})


class FakeStack:
    """What stack_workspace.open_stack returns: outputs, a preview that streams the engine's planned steps (the
    first of `previews` on the first call, and so on; the last one again after that; by default the steps `script`
    starts) and returns their change summary (or `summary`, when given), and an up that plays `script` (engine
    events, and the app's outage at its place among them), then ends as `ending` says."""

    def __init__(
        self,
        outputs: dict[str, Any],
        script: list[Step],
        ending: BaseException | None = None,
        previews: list[list[events.EngineEvent]] | None = None,
        summary: dict[str, int] | None = None,
    ) -> None:
        self.out, self.script, self.ending, self.summary = outputs, script, ending, summary
        started_steps = [step for step in script if isinstance(step, events.EngineEvent) and step.resource_pre_event]
        self.previews = previews or [started_steps]
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {name: auto.OutputValue(value, False) for name, value in self.out.items()}

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        planned = self.previews[min(len(self.verbs()), len(self.previews) - 1)]
        self.calls.append(("preview", kwargs))
        kwargs["on_output"]("Previewing update (foo):")
        for event in planned:
            kwargs["on_event"](event)
        summary = counted(planned) if self.summary is None else self.summary
        return auto.PreviewResult("", "", summary)  # type: ignore[arg-type]  # the JSON's op names, as they arrive

    def verbs(self) -> list[str]:
        return [verb for verb, _ in self.calls]

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


@dataclass
class Run:
    code: int
    out: str
    err: str
    fake: FakeStack


WatchedUp = Callable[..., Run]


@pytest.fixture
def watched_up(
    app: tuple[SwitchableApp, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> WatchedUp:
    """`up foo --watch --yes` (what CI runs) against a fake stack playing `script`, the app's url in its outputs."""
    _, url = app

    def run(script: list[Step], *args: str, ending: BaseException | None = None) -> Run:
        fake = FakeStack({"url": url}, script, ending)
        use(monkeypatch, fake)
        code = cli.main(["up", "foo", "--watch", "--yes", *args, *FAST])
        out, err = capsys.readouterr()
        return Run(code, out, err, fake)

    return run


def summary_of(out: str) -> list[str]:
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("requests "))
    return lines[first:]


HEAD = re.compile(r"requests (\d+), failures (\d+), longest failure streak (\d+) \(\d+\.\d s\), p50 \d+ ms, p99 \d+ ms")


def test_helloworld_rollout_failures_are_attributed_to_the_old_rc_going(
    app: tuple[SwitchableApp, str], watched_up: WatchedUp
) -> None:
    server, url = app
    # 1.0.0 → 2.0.0: a new RC (create-replacement, awaited until available), then the old one deleted. The old
    # pods go without draining (the failure this catches): the app answers 503 while the delete runs.
    rollout: list[Step] = [
        started("same", STACK),
        *during("create-replacement", RC),
        *during("replace", RC),
        *during("delete-replaced", RC, lambda: server.outage(failures=2)),
        SUMMARY,
    ]
    run = watched_up(rollout)

    assert run.code == 1
    head, *streaks = summary_of(run.out)
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
    assert run.err == f"error: {failures} failed request(s) exceed the error budget (0)\n"
    assert f"probing {url} every 0.01s during the update (error budget 0)" in run.out
    assert run.fake.verbs() == ["preview", "up"]  # --yes: the preview `pulumi up --yes` runs first, no question
    for _, kwargs in run.fake.calls:  # the Makefile's `pulumi up --policy-pack policy`, in the preview too
        assert kwargs["policy_packs"] == [str(ROOT / "policy")]
    assert "plan" not in run.fake.calls[1][1]  # update plans are not used (infra/ops/up/confirmed.py says why)


def test_node_group_roll_failures_are_attributed_to_the_node_group_update(
    app: tuple[SwitchableApp, str], watched_up: WatchedUp
) -> None:
    server, _ = app
    # cluster.version 1.35 → 1.36: the control plane first (no failure), then EKS rolls the node group.
    roll = [*during("update", CLUSTER), *during("update", NODES, lambda: server.outage(failures=2)), SUMMARY]
    run = watched_up(roll)

    assert run.code == 1
    (streak,) = summary_of(run.out)[1:]
    assert re.fullmatch(
        r"  \+\d+\.\ds: \d+ failed over \d+\.\d s \(HTTP 503\) "
        r"during cluster-nodes \(aws:eks/nodeGroup:NodeGroup update\)",
        streak,
    ), streak


def test_failures_after_a_resource_finished_name_it_and_the_budget_can_allow_them(
    app: tuple[SwitchableApp, str], watched_up: WatchedUp
) -> None:
    server, _ = app
    run = watched_up([*during("update", NODES), lambda: server.outage(failures=2), SUMMARY], "--error-budget", "1000")

    assert run.code == 0
    (streak,) = summary_of(run.out)[1:]
    assert (
        streak.split(" during ", 1)[1]
        == "no resource in progress, after cluster-nodes (aws:eks/nodeGroup:NodeGroup update)"
    )
    assert run.err == ""


def test_a_failed_update_prints_the_summary_then_fails(app: tuple[SwitchableApp, str], watched_up: WatchedUp) -> None:
    server, _ = app
    result = auto.CommandResult("", "error: update failed\nerror: creating EKS Node Group: AccessDenied\n", 255)
    script: list[Step] = [started("update", NODES), lambda: server.wait_answers(200, 2), failed("update", NODES)]
    run = watched_up(script, ending=auto.errors.CommandError(result))

    assert run.code == 1
    assert HEAD.fullmatch(summary_of(run.out)[0])
    assert ", failures 0, longest failure streak 0 (0.0 s)," in summary_of(run.out)[0]
    assert run.err == "error: pulumi up of stack 'foo' failed: error: creating EKS Node Group: AccessDenied\n"


def test_ctrl_c_is_passed_to_pulumi_and_the_summary_still_printed(
    app: tuple[SwitchableApp, str], watched_up: WatchedUp
) -> None:
    server, _ = app
    cancelled = CancelledByOperatorError(auto.CommandResult("", "error: update canceled", 255))
    run = watched_up([started("update", NODES), lambda: server.wait_answers(200, 1)], ending=cancelled)

    assert run.code == 130
    assert HEAD.fullmatch(summary_of(run.out)[0])
    assert run.err == (  # destroy's words: the interrupted run is finished the same way
        "error: pulumi up of stack 'foo' was interrupted: pulumi was asked to cancel and has exited (code 255). "
        "Run the same command again to finish, after `pulumi refresh -s foo` if pulumi reported pending operations\n"
    )


def test_an_update_that_completes_despite_a_late_interrupt_is_a_completed_update(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Ctrl-C reached pulumi as it finished: it exited 0, so the update is done and nothing is left to finish.
    use(
        monkeypatch,
        FakeStack(
            {},
            [started("update", NODES)],
            ending=CancelledByOperatorError(auto.CommandResult("Resources: 1 changed", "", 0)),
        ),
    )

    assert cli.main(["up", "foo", "--yes"]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "pulumi up of stack 'foo' completed before the interrupt could cancel it"
    assert err == ""


def test_an_interrupted_preview_says_nothing_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    class InterruptedPreview(FakeStack):
        def preview(self, **kwargs: Any) -> auto.PreviewResult:
            raise CancelledByOperatorError(auto.CommandResult("", "error: preview canceled", 255))

    use(monkeypatch, InterruptedPreview({}, []))

    with pytest.raises(stack.StackError) as caught:
        stack.preview("foo", lambda line: None, lambda event: None)

    assert str(caught.value) == "pulumi preview of stack 'foo' was interrupted; nothing changed"
    assert caught.value.interrupted  # exit 130, like any interrupt


def test_a_stack_without_a_url_is_updated_without_the_probe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeStack({}, during("create", NODES))
    use(monkeypatch, fake)

    assert cli.main(["up", "foo", "--watch", "--yes"]) == 0

    out, _ = capsys.readouterr()
    assert "stack foo has no url output yet (its first deploy): updating without the probe" in out
    assert "requests " not in out
    assert fake.verbs() == ["preview", "up"]
    assert fake.calls[1][1]["on_event"] is None


@pytest.fixture
def program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout to fingerprint: the stack's config and a file of the program (the real tree is shared)."""
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "cluster.py").write_text("VERSION = '1.35'\n")
    (tmp_path / "Pulumi.yaml").write_text("name: infra\nruntime: python\n")
    (tmp_path / "Pulumi.foo.yaml").write_text("config:\n  infra:helloworld:\n    version: 2.0.0\n")
    monkeypatch.setattr(stack, "REPO_ROOT", tmp_path)
    return tmp_path


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch, program: Path) -> list[Callable[[], str]]:
    """A terminal whose operator answers each question with the next of these (and may act before answering)."""
    monkeypatch.delenv("PULUMI_SKIP_CONFIRMATIONS", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers: list[Callable[[], str]] = []
    monkeypatch.setattr("builtins.input", lambda prompt: answers.pop(0)())
    return answers


def test_without_yes_it_previews_and_asks_like_pulumi_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    fake = FakeStack({}, during("update", NODES))
    use(monkeypatch, fake)
    operator += [lambda: "no", lambda: "yes"]

    assert cli.main(["up", "foo"]) == 1
    assert capsys.readouterr().err == "error: not confirmed; nothing changed\n"
    assert fake.verbs() == ["preview"]
    assert fake.calls[0][1]["policy_packs"] == [str(ROOT / "policy")]

    assert cli.main(["up", "foo"]) == 0
    # the confirmed preview, the one that checks it is still what was confirmed, then the update
    assert fake.verbs() == ["preview", "preview", "preview", "up"]
    assert "previewing stack foo again: the update runs only if it still makes the confirmed changes" in (
        capsys.readouterr().out
    )


NODES_SCALED = planned("update", NODES, ["scalingConfig"])
RC_REPLACED = [planned("create-replacement", RC), planned("replace", RC), planned("delete-replaced", RC)]
AGAIN = "nothing changed; run make up STACK=foo again to preview and confirm what it would do now\n"


def confirmed_then(
    monkeypatch: pytest.MonkeyPatch,
    operator: list[Callable[[], str]],
    first: list[events.EngineEvent],
    second: list[events.EngineEvent],
    before_answering: Callable[[], object] = lambda: None,
) -> FakeStack:
    """`up foo` with the operator confirming the first preview while the second computes `second`."""
    fake = FakeStack({}, [], previews=[first, second])
    use(monkeypatch, fake)

    def answer() -> str:
        before_answering()
        return "yes"

    operator.append(answer)
    return fake


def test_the_same_steps_in_another_order_are_still_the_confirmed_update(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    first = [planned("same", STACK), NODES_SCALED, *RC_REPLACED]
    fake = confirmed_then(monkeypatch, operator, first, [*reversed(RC_REPLACED), NODES_SCALED])

    assert cli.main(["up", "foo"]) == 0
    assert fake.verbs() == ["preview", "preview", "up"]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("second", "departure"),
    [
        (  # the account moved on: another version was released, or someone else deployed
            [NODES_SCALED, *RC_REPLACED, planned("update", CLUSTER, ["version"])],
            "now update cluster-eks (aws:eks/cluster:Cluster) [version]",
        ),
        (  # the same resource, another property
            [planned("update", NODES, ["scalingConfig", "updateConfig"]), *RC_REPLACED],
            "now update cluster-nodes (aws:eks/nodeGroup:NodeGroup) [scalingConfig, updateConfig]; "
            "no longer update cluster-nodes (aws:eks/nodeGroup:NodeGroup) [scalingConfig]",
        ),
        (
            [NODES_SCALED],
            "no longer create-replacement helloworld-rc (kubernetes:core/v1:ReplicationController), "
            "delete-replaced helloworld-rc (kubernetes:core/v1:ReplicationController), "
            "replace helloworld-rc (kubernetes:core/v1:ReplicationController)",
        ),
    ],
)
def test_an_update_that_departs_from_the_confirmed_preview_is_refused_before_it_starts(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    operator: list[Callable[[], str]],
    second: list[events.EngineEvent],
    departure: str,
) -> None:
    fake = confirmed_then(monkeypatch, operator, [NODES_SCALED, *RC_REPLACED], second)

    assert cli.main(["up", "foo"]) == 1
    assert fake.verbs() == ["preview", "preview"]  # never up
    assert capsys.readouterr().err == (
        f"error: stack 'foo' would not make the changes you confirmed ({departure}): {AGAIN}"
    )


def test_more_departures_than_fit_on_a_line_are_counted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    cluster = planned("update", CLUSTER, ["version"])
    confirmed_then(monkeypatch, operator, [cluster], [NODES_SCALED, *RC_REPLACED, cluster])

    assert cli.main(["up", "foo"]) == 1
    assert capsys.readouterr().err.endswith(
        "replace helloworld-rc (kubernetes:core/v1:ReplicationController) and 1 more): " + AGAIN
    )


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            lambda root: (root / "Pulumi.foo.yaml").write_text("config:\n  infra:helloworld:\n    version: 3.0.0\n"),
            "Pulumi.foo.yaml",
        ),
        (lambda root: (root / "infra" / "cluster.py").write_text("VERSION = '1.36'\n"), "infra/cluster.py"),
        (lambda root: (root / "infra" / "database.py").write_text("ENGINE = 'postgres'\n"), "infra/database.py"),
    ],
)
def test_a_program_or_config_edited_while_the_question_waits_is_refused_even_with_the_same_steps(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    operator: list[Callable[[], str]],
    program: Path,
    edit: Callable[[Path], Any],
    named: str,
) -> None:
    # 2.0.0 → 3.0.0 replaces the same RC as 2.0.0 did: the steps alone cannot tell the edit.
    fake = confirmed_then(monkeypatch, operator, RC_REPLACED, RC_REPLACED, lambda: edit(program))

    assert cli.main(["up", "foo"]) == 1
    assert fake.verbs() == ["preview", "preview"]
    assert capsys.readouterr().err == f"error: {named} changed since the preview you confirmed: {AGAIN}"


def test_without_a_terminal_it_needs_yes_or_pulumis_skip_confirmations(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeStack({}, during("update", NODES))
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
    assert fake.verbs() == ["preview", "up"]  # previewed, not asked


def test_error_budget_needs_watch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use(monkeypatch, FakeStack({}, []))
    assert cli.main(["up", "foo", "--yes", "--error-budget", "2"]) == 1
    assert capsys.readouterr().err == "error: --error-budget needs --watch: without the probe no request is counted\n"
    with pytest.raises(SystemExit):
        cli.main(["up", "foo", "--watch", "--error-budget", "-1"])


def test_the_fake_calls_only_what_the_automation_api_has(
    monkeypatch: pytest.MonkeyPatch, operator: list[Callable[[], str]]
) -> None:
    """The keywords `up` passes exist on the real Stack.up and Stack.preview (pulumi 3.272's automation/_stack.py)."""
    fake = FakeStack({}, during("update", NODES))
    use(monkeypatch, fake)
    operator.append(lambda: "yes")
    assert cli.main(["up", "foo"]) == 0
    assert fake.verbs() == ["preview", "preview", "up"]
    for verb, kwargs in fake.calls:
        assert set(kwargs) <= set(inspect.signature(getattr(auto.Stack, verb)).parameters), verb


def test_up_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["up", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "python -m infra.ops up" in help_text and "--error-budget N" in help_text


def test_yes_stops_with_nothing_changed_when_the_preview_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI's `make up`: a mandatory policy violation fails the preview, before the update could stop part-way."""

    class RefusedByPolicy(FakeStack):
        def preview(self, **kwargs: Any) -> auto.PreviewResult:
            self.calls.append(("preview", kwargs))
            result = auto.CommandResult("", "error: preview failed\n", 255)
            raise auto.errors.CommandError(result)

    fake = RefusedByPolicy({}, during("update", NODES))
    use(monkeypatch, fake)

    assert cli.main(["up", "foo", "--yes"]) == 1
    assert fake.verbs() == ["preview"]  # never up
    assert (
        capsys.readouterr().err
        == "error: pulumi preview of stack 'foo' failed: error: preview failed; nothing changed\n"
    )


NODES_AT_3 = planned(
    "update",
    NODES,
    ["scalingConfig"],
    old={"scalingConfig": {"desiredSize": 2}},
    new={"scalingConfig": {"desiredSize": 3}},
)
NODES_AT_4 = planned(
    "update",
    NODES,
    ["scalingConfig"],
    old={"scalingConfig": {"desiredSize": 2}},
    new={"scalingConfig": {"desiredSize": 4}},
)
SECRET = {"data": {"password": "[secret]"}, "metadata": {"name": "db"}}
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # what the engine serializes an unknown as (resource/properties.go)


def secret_planned() -> events.EngineEvent:
    """A Secret's update, parsed afresh from the JSON each preview streams."""
    return planned(
        "update",
        "urn:pulumi:foo::infra::kubernetes:core/v1:Secret::db",
        ["data"],
        old=SECRET,
        new=SECRET | {"stringData": UNKNOWN},
    )


def test_a_value_moved_while_the_question_waits_is_refused_though_the_same_properties_change(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    # desiredSize 2 → 3 was confirmed; meanwhile someone else made it 2 → 4: the same property changes
    fake = confirmed_then(monkeypatch, operator, [NODES_AT_3], [NODES_AT_4])

    assert cli.main(["up", "foo"]) == 1
    assert fake.verbs() == ["preview", "preview"]
    assert capsys.readouterr().err == (
        "error: stack 'foo' would not make the changes you confirmed (other values for update cluster-nodes "
        f"(aws:eks/nodeGroup:NodeGroup) [scalingConfig]): {AGAIN}"
    )


ROLE = "urn:pulumi:foo::infra::infra:index:Cluster$aws:iam/role:Role::cluster-node"
ATTACHMENT = (
    "urn:pulumi:foo::infra::infra:index:Cluster$aws:iam/rolePolicyAttachment:RolePolicyAttachment::cluster-node-x"
)
CONFIG_MAP = "urn:pulumi:foo::infra::kubernetes:core/v1:ConfigMap::settings"


def generated_by_a_preview(role_suffix: str, map_suffix: str) -> list[events.EngineEvent]:
    """A first deploy's preview: without an update plan each preview draws new random names (the bridge's 7 hex
    characters, pulumi-kubernetes' 8), and what refers to them carries the same name."""
    role = f"cluster-node-{role_suffix}"
    return [
        planned("create", ROLE, new={"name": role, "assumeRolePolicy": '{"Version": "2012-10-17"}'}),
        planned(
            "create", ATTACHMENT, new={"role": role, "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}
        ),
        planned("create", CONFIG_MAP, new={"metadata": {"name": f"settings-{map_suffix}"}, "data": {"a": "1"}}),
    ]


def test_names_the_providers_generate_anew_in_each_preview_are_the_same_change(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    first, second = generated_by_a_preview("3f1a2b7", "k2x9q0za"), generated_by_a_preview("9c0d4e1", "p7m3n1wd")
    fake = confirmed_then(monkeypatch, operator, first, second)

    assert cli.main(["up", "foo"]) == 0
    assert fake.verbs() == ["preview", "preview", "up"]
    assert capsys.readouterr().err == ""


def test_a_generated_name_does_not_hide_another_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    second = generated_by_a_preview("9c0d4e1", "p7m3n1wd")
    second[2] = planned("create", CONFIG_MAP, new={"metadata": {"name": "settings-p7m3n1wd"}, "data": {"a": "2"}})
    confirmed_then(monkeypatch, operator, generated_by_a_preview("3f1a2b7", "k2x9q0za"), second)

    assert cli.main(["up", "foo"]) == 1
    assert "(other values for create settings (kubernetes:core/v1:ConfigMap))" in capsys.readouterr().err


def test_a_new_resource_with_other_inputs_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    # a create has no old state and no diffs: all its inputs are what it sets (a new image digest, say)
    rc = "urn:pulumi:foo::infra::kubernetes:core/v1:ReplicationController::worker-rc"
    confirmed_then(
        monkeypatch,
        operator,
        [planned("create", rc, new={"image": "app@sha256:aaaa"})],
        [planned("create", rc, new={"image": "app@sha256:bbbb"})],
    )

    assert cli.main(["up", "foo"]) == 1
    assert "(other values for create worker-rc (kubernetes:core/v1:ReplicationController))" in capsys.readouterr().err


def test_a_detailed_diff_that_moved_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    def scaled(kind: str) -> events.EngineEvent:
        metadata = step_json("update", NODES) | {
            "diffs": ["scalingConfig"],
            "detailedDiff": {"scalingConfig.desiredSize": {"diffKind": kind, "inputDiff": True}},
        }
        return events.EngineEvent.from_json({"resourcePreEvent": {"metadata": metadata, "planning": True}})

    confirmed_then(monkeypatch, operator, [scaled("update")], [scaled("update-replace")])

    assert cli.main(["up", "foo"]) == 1
    assert "other values for update cluster-nodes" in capsys.readouterr().err


def test_secrets_and_unknowns_are_the_same_in_both_previews(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    # the events carry a secret as "[secret]" and an unknown as the engine's placeholder, in every preview
    fake = confirmed_then(monkeypatch, operator, [secret_planned(), NODES_AT_3], [NODES_AT_3, secret_planned()])

    assert cli.main(["up", "foo"]) == 0
    assert fake.verbs() == ["preview", "preview", "up"]
    assert capsys.readouterr().err == ""


def test_the_cli_saving_an_encryption_salt_is_not_an_edit_of_the_config(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    operator: list[Callable[[], str]],
    program: Path,
) -> None:
    # the first preview on a machine whose stack file has no salt yet writes one (getAndSaveSecretsManager)
    stack_file = program / "Pulumi.foo.yaml"
    salted = lambda: stack_file.write_text("encryptionsalt: v1:abc=:v1:def:ghi==\n" + stack_file.read_text())  # noqa: E731
    fake = confirmed_then(monkeypatch, operator, RC_REPLACED, RC_REPLACED, salted)

    assert cli.main(["up", "foo"]) == 0
    assert fake.verbs() == ["preview", "preview", "up"]
    assert capsys.readouterr().err == ""


def test_an_environment_added_to_the_stack_file_is_an_edit(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    operator: list[Callable[[], str]],
    program: Path,
) -> None:
    stack_file = program / "Pulumi.foo.yaml"
    with_env = lambda: stack_file.write_text("environment:\n  - infra/foo\n" + stack_file.read_text())  # noqa: E731
    confirmed_then(monkeypatch, operator, RC_REPLACED, RC_REPLACED, with_env)

    assert cli.main(["up", "foo"]) == 1
    assert capsys.readouterr().err == f"error: Pulumi.foo.yaml changed since the preview you confirmed: {AGAIN}"


def test_a_step_whose_event_did_not_arrive_is_refused_before_the_question(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    # the engine counted two updates, and the Automation API dropped one event it could not parse
    fake = FakeStack({}, [], previews=[[NODES_SCALED]], summary={"same": 4, "update": 2})
    use(monkeypatch, fake)
    operator.append(lambda: "yes")

    assert cli.main(["up", "foo"]) == 1
    assert fake.verbs() == ["preview"]
    assert len(operator) == 1  # not asked
    assert capsys.readouterr().err == (
        "error: the preview of stack 'foo' counts steps whose events did not arrive (update 2 counted, 1 seen), "
        "so they cannot be checked: nothing changed\n"
    )


def test_a_replacement_is_counted_once_like_the_engine_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], operator: list[Callable[[], str]]
) -> None:
    fake = FakeStack({}, [], previews=[RC_REPLACED], summary={"same": 4, "replace": 1})
    use(monkeypatch, fake)
    operator.append(lambda: "yes")

    assert cli.main(["up", "foo"]) == 0
    assert fake.verbs() == ["preview", "preview", "up"]


@pytest.mark.parametrize("args", [[], ["--yes"], ["--yes", "--watch"]])
def test_a_preview_without_changes_ends_the_verb(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    operator: list[Callable[[], str]],
    app: tuple[SwitchableApp, str],
    args: list[str],
) -> None:
    fake = FakeStack({"url": app[1]}, [], previews=[[planned("same", STACK), planned("same", NODES)]])
    use(monkeypatch, fake)
    operator.append(lambda: "yes")

    assert cli.main(["up", "foo", *args]) == 0
    assert fake.verbs() == ["preview"]
    assert len(operator) == 1  # not asked
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "no changes: nothing to do"
    assert "probing" not in out and err == ""


def stack_outputs(old: dict[str, Any], new: dict[str, Any]) -> events.EngineEvent:
    """The root stack's outputs as a preview streams them: `same`, with its old and new outputs."""
    metadata = step_json("same", STACK)
    metadata["old"]["outputs"], metadata["new"]["outputs"] = old, new
    return events.EngineEvent.from_json({"resOutputsEvent": {"metadata": metadata, "planning": True}})


def test_new_stack_outputs_alone_are_a_change_to_make(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # an export added to __main__.py: no resource changes, but the stack's outputs do (`pulumi up` records them)
    same = planned("same", STACK)
    unchanged = FakeStack({}, [], previews=[[same, stack_outputs({"url": "http://a"}, {"url": "http://a"})]])
    use(monkeypatch, unchanged)
    assert cli.main(["up", "foo", "--yes"]) == 0
    assert unchanged.verbs() == ["preview"]

    new = FakeStack({}, [], previews=[[same, stack_outputs({"url": "http://a"}, {"url": "http://a", "db": "x"})]])
    use(monkeypatch, new)
    assert cli.main(["up", "foo", "--yes"]) == 0
    assert new.verbs() == ["preview", "up"]
