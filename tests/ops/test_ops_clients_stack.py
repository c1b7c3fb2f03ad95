"""The Automation API boundary, against a stand-in `pulumi` CLI on PATH that prints the real CLI's messages.

The stand-in keeps its stacks under its own directory (stacks/NAME/outputs.json, state.json), its login in
whoami.json (absent: not logged in), the selected stack in `selected`, and records every argv in calls.jsonl.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes import TAKEN_BY_ANOTHER_THREAD_CHILD

from infra.ops.clients import stack
from infra.ops.clients.stack import StackError, summarize

ROOT = Path(__file__).resolve().parents[2]

STANDIN = textwrap.dedent(
    """\
    import json, os, signal, sys, time
    from pathlib import Path

    HOME = Path(__file__).parent
    argv = [a for a in sys.argv[1:] if a != "--non-interactive"]
    with open(HOME / "calls.jsonl", "a") as log:
        log.write(json.dumps(argv) + "\\n")
    if argv == ["version"]:
        print("v3.150.0")
        sys.exit(0)

    def fail(message):
        print(message, file=sys.stderr)
        sys.exit(255)

    if not (HOME / "whoami.json").exists():
        fail("error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions")
    if argv[:1] == ["whoami"]:
        print((HOME / "whoami.json").read_text())
        sys.exit(0)
    name = argv[argv.index("--stack") + 1] if "--stack" in argv else (HOME / "selected").read_text()
    home = HOME / "stacks" / name
    if not home.is_dir():
        fail(f"error: no stack named '{name}' found")
    if argv[:2] == ["stack", "select"]:
        (HOME / "selected").write_text(name)
    elif argv[:2] == ["stack", "output"]:
        print((home / "outputs.json").read_text())
    elif argv[:2] == ["stack", "export"]:
        print((home / "state.json").read_text())
    elif argv[:2] == ["stack", "history"]:
        print(json.dumps([{"kind": "destroy", "startTime": "2026-11-27T21:00:00.000Z", "message": "",
                           "environment": {}, "config": {}, "result": "succeeded", "version": 7}]))
    elif argv[:1] == ["destroy"]:
        mode = (home / "destroy").read_text() if (home / "destroy").exists() else "ok"
        cancelled = []
        if mode in ("slow", "late"):  # the engine handles SIGINT from its start: set before the first line a test
            signal.signal(signal.SIGINT, lambda *_: cancelled.append(time.monotonic()))  # waits for
        print(f"Destroying ({name}):", flush=True)
        if mode == "late":  # the SIGINT comes as the last resource goes: the destroy completes anyway
            deadline = time.monotonic() + 5
            while not cancelled and time.monotonic() < deadline:
                time.sleep(0.01)
            print("Resources:\\n    42 deleted", flush=True)
            sys.exit(0)
        if mode == "violation":
            print((home / "violation.txt").read_text())
            fail("error: update failed")
        if mode == "slow":  # like the engine: the first SIGINT cancels, and cancelling takes a while
            deadline = time.monotonic() + 5
            while not cancelled and time.monotonic() < deadline:
                time.sleep(0.01)
            print("^C received; cancelling. If you would like to terminate immediately, press ^C again.", flush=True)
            time.sleep(0.1)  # in-flight operations finish; their lines must still reach the reader
            for i in range(50):
                print(f"    aws:eks:Cluster cluster-eks deleting ({i}s)", flush=True)
            with open(HOME / "signals.log", "a") as log:  # a second SIGINT would have meant "stop at once"
                log.write(f"SIGINT x{len(cancelled)}\\ncheckpoint written\\n")
            fail("error: update canceled")
        print("Resources:\\n    42 deleted")
    """
)

VIOLATION_STDOUT = "\n".join(
    [
        "    aws:ec2:Vpc network-vpc deleting (1s)",
        "    aws:ec2:Vpc network-vpc **deleting failed** error: deleting urn:pulumi:foo::infra::aws:ec2/vpc:Vpc::"
        "network-vpc: 1 error occurred:",
        "    \t* deleting EC2 VPC (vpc-0abc): operation error EC2: DeleteVpc, api error DependencyViolation: "
        "The vpc 'vpc-0abc' has dependencies and cannot be deleted.",
    ]
)
WHOAMI = {"user": "alice", "organizations": [], "url": "s3://infra-state-bucket"}


@dataclass
class Pulumi:
    home: Path

    def add_stack(self, name: str, outputs: dict[str, Any], state: dict[str, Any] | None = None) -> Path:
        home = self.home / "stacks" / name
        home.mkdir(parents=True)
        (home / "outputs.json").write_text(json.dumps(outputs))
        (home / "state.json").write_text(json.dumps(state or {"version": 3, "deployment": {"resources": []}}))
        return home

    def calls(self) -> list[list[str]]:
        lines = (self.home / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def logout(self) -> None:
        (self.home / "whoami.json").unlink()


@pytest.fixture
def pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pulumi:
    home = tmp_path / "pulumi-cli"
    home.mkdir()
    script = home / "pulumi"
    script.write_text(f"#!{sys.executable}\n{STANDIN}")
    script.chmod(0o755)
    (home / "whoami.json").write_text(json.dumps(WHOAMI))
    (home / "selected").write_text("bar")
    monkeypatch.setenv("PATH", f"{home}{os.pathsep}{os.environ['PATH']}")
    return Pulumi(home)


def test_outputs_are_read_without_selecting_the_stack(pulumi: Pulumi) -> None:
    pulumi.add_stack("foo", {"url": "http://foo", "kubeconfig": "{}"})
    assert stack.read_outputs("foo") == {"url": "http://foo", "kubeconfig": "{}"}
    assert (pulumi.home / "selected").read_text() == "bar"  # a bare `pulumi up` still targets bar
    stack_calls = [c for c in pulumi.calls() if c != ["version"]]
    assert stack_calls and all(c[-2:] == ["--stack", "foo"] for c in stack_calls)
    assert ["stack", "output", "--json", "--show-secrets", "--stack", "foo"] in stack_calls


def test_state_is_the_exported_checkpoint(pulumi: Pulumi) -> None:
    resource = {"urn": "urn:pulumi:foo::infra::aws:ec2/vpc:Vpc::network-vpc", "type": "aws:ec2/vpc:Vpc", "id": "v"}
    pulumi.add_stack("foo", {}, {"version": 3, "deployment": {"resources": [resource]}})
    assert stack.read_state("foo") == {"resources": [resource]}
    assert (pulumi.home / "selected").read_text() == "bar"


def test_a_missing_stack_names_the_backend_and_how_to_list_stacks(pulumi: Pulumi) -> None:
    with pytest.raises(StackError) as caught:
        stack.read_outputs("nope")
    assert str(caught.value) == (
        "cannot read outputs of stack 'nope': error: no stack named 'nope' found (the pulumi CLI is logged in to "
        "s3://infra-state-bucket as alice; `pulumi stack ls` lists its stacks, `pulumi login <backend-url>` "
        "switches to the backend that holds this one)"
    )


def test_not_logged_in_says_how_to_log_in_to_any_backend(pulumi: Pulumi) -> None:
    pulumi.add_stack("foo", {})
    pulumi.logout()
    with pytest.raises(StackError) as caught:
        stack.read_state("foo")
    message = str(caught.value)
    assert message.startswith(
        "cannot read the state of stack 'foo': "
        "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions ("
    )
    assert "`pulumi login s3://BUCKET`" in message and "`pulumi login --local`" in message


def test_no_cli_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError) as caught:
        stack.read_outputs("foo")
    assert str(caught.value) == (
        "cannot read outputs of stack 'foo': the pulumi CLI is not on PATH (the Automation API needs it)"
    )


def test_destroy_streams_output_names_the_stack_and_hides_secrets(pulumi: Pulumi) -> None:
    pulumi.add_stack("foo", {})
    lines: list[str] = []
    stack.destroy("foo", lines.append)
    stack.destroy("foo", lines.append, preview_only=True)
    assert lines[:2] == ["Destroying (foo):", "Resources:"]
    destroys = [c for c in pulumi.calls() if c[0] == "destroy"]
    assert destroys[0][:3] == ["destroy", "--skip-preview", "--yes"] and destroys[0][-2:] == ["--stack", "foo"]
    assert "--preview-only" in destroys[1] and "--yes" not in destroys[1]
    assert not any("--show-secrets" in c for c in pulumi.calls() if c[:2] == ["stack", "history"])
    assert (pulumi.home / "selected").read_text() == "bar"


def test_dependency_violation_is_flagged_and_summarized(pulumi: Pulumi) -> None:
    home = pulumi.add_stack("foo", {})
    (home / "destroy").write_text("violation")
    (home / "violation.txt").write_text(VIOLATION_STDOUT)
    with pytest.raises(StackError) as caught:
        stack.destroy("foo", lambda _: None)
    assert caught.value.dependency_violation
    message = str(caught.value)
    assert message.startswith("pulumi destroy of stack 'foo' failed: * deleting EC2 VPC (vpc-0abc)")
    assert "\n" not in message


CTRL_C_CHILD = """
import sys
from infra.ops.clients import stack
try:
    stack.destroy("foo", lambda line: print(line, flush=True))
except stack.StackError as err:
    print(f"StackError interrupted={err.interrupted}: {err}", flush=True)
"""


@pytest.mark.parametrize(
    ("send", "first"),
    [
        pytest.param(lambda pid: os.killpg(pid, signal.SIGINT), "", id="ctrl-c"),  # a terminal: the foreground group
        pytest.param(lambda pid: os.kill(pid, signal.SIGTERM), "", id="sigterm"),  # `timeout`, a CI cancel
        pytest.param(lambda pid: os.kill(pid, signal.SIGHUP), "", id="sighup"),  # the terminal closed
        # The kernel may hand it to a thread reading pulumi's output: passed on at once all the same, not once
        # pulumi has ended by itself.
        pytest.param(
            lambda pid: os.kill(pid, signal.SIGTERM), TAKEN_BY_ANOTHER_THREAD_CHILD, id="sigterm-in-another-thread"
        ),
    ],
)
def test_ctrl_c_is_passed_to_pulumi_which_finishes_cancelling(pulumi: Pulumi, send: Any, first: str) -> None:
    home = pulumi.add_stack("foo", {})
    (home / "destroy").write_text("slow")
    child = subprocess.Popen(
        [sys.executable, "-c", first + CTRL_C_CHILD],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "Destroying (foo):\n"  # pulumi is running
        send(child.pid)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert (home.parent.parent / "signals.log").read_text() == "SIGINT x1\ncheckpoint written\n"
    assert "Traceback" not in err
    lines = out.splitlines()
    assert "    aws:eks:Cluster cluster-eks deleting (49s)" in lines  # read to the end: no SIGPIPE
    assert lines[-1].startswith("StackError interrupted=True: pulumi destroy of stack 'foo' was interrupted")
    assert child.returncode == 0


def test_an_interrupt_while_pulumi_starts_is_passed_on_not_lost(
    pulumi: Pulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race behind a flaky Ctrl-C test: a signal that arrives before pulumi runs (its first line can be on the
    screen before the handlers used to be set) must be the same cancel, never Python's KeyboardInterrupt."""
    from infra.ops.clients import stack_workspace

    pulumi.add_stack("foo", {})
    real_popen = subprocess.Popen

    def popen_after_a_ctrl_c(argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        if "destroy" in argv:
            signal.raise_signal(signal.SIGINT)  # the operator's Ctrl-C, just before pulumi destroy exists
        return real_popen(argv, **kwargs)

    monkeypatch.setattr(stack_workspace.subprocess, "Popen", popen_after_a_ctrl_c)
    # Python's own handler, as in a terminal: pytest started as a background job inherits SIGINT ignored.
    started_with = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(stack.StackError) as caught:
            stack.destroy("foo", lambda line: None)
        assert caught.value.interrupted
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the old handler is back
    finally:
        signal.signal(signal.SIGINT, started_with)


def test_a_destroy_that_completes_despite_a_late_interrupt_is_a_completed_destroy(pulumi: Pulumi) -> None:
    """The operator's Ctrl-C reaches pulumi as it deletes the last resource: pulumi finishes and exits 0. The
    destroy is done, so destroy's steps after it (sweep, log groups) must run: no "interrupted, run again"."""
    home = pulumi.add_stack("foo", {})
    (home / "destroy").write_text("late")
    lines: list[str] = []

    def ctrl_c_while_pulumi_destroys(line: str) -> None:
        lines.append(line)
        if line == "Destroying (foo):":
            os.kill(os.getpid(), signal.SIGINT)

    stack.destroy("foo", ctrl_c_while_pulumi_destroys)  # returns: no StackError

    assert lines == [
        "Destroying (foo):",
        "Resources:",
        "    42 deleted",
        "pulumi destroy of stack 'foo' completed before the interrupt could cancel it; the steps after it run",
    ]


@pytest.mark.parametrize("read", [stack.read_outputs, stack.read_state], ids=["outputs", "state"])
def test_an_interrupt_while_the_stack_is_read_exits_130(
    pulumi: Pulumi, monkeypatch: pytest.MonkeyPatch, read: Any
) -> None:
    from infra.ops.clients import stack_workspace

    pulumi.add_stack("foo", {})
    real_popen = subprocess.Popen

    def popen_then_ctrl_c(argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        process = real_popen(argv, **kwargs)
        if "stack" in argv:
            signal.raise_signal(signal.SIGINT)  # the operator's Ctrl-C while `pulumi stack output/export` runs
        return process

    monkeypatch.setattr(stack_workspace.subprocess, "Popen", popen_then_ctrl_c)
    with pytest.raises(StackError) as caught:
        read("foo")
    assert caught.value.interrupted
    what = "outputs of stack 'foo'" if read is stack.read_outputs else "the state of stack 'foo'"
    assert str(caught.value) == f"cannot read {what}: interrupted"

    from infra.ops import cli

    monkeypatch.setattr(stack, "read_outputs", read)
    assert cli.main(["kubeconfig", "foo", "-o", str(pulumi.home / "foo.kubeconfig")]) == 130


HANGUP_CHILD = """
import os, pty, signal, sys
from infra.ops import cli
from infra.ops.clients import stack
from infra.ops.destroy import command

terminal, tty = pty.openpty()
os.dup2(tty, 1)
os.dup2(tty, 2)

def on_output(line):
    print(line, flush=True)
    if line == "Destroying (foo):":  # the SSH session drops while pulumi destroys
        os.close(terminal)  # writing to the terminal now fails with EIO
        os.kill(os.getpid(), signal.SIGHUP)

def pulumi_destroy_step(args):  # the destroy verb's pulumi destroy, without the AWS steps around it
    stack.destroy(args.stack, on_output)
    return 0

command.run = pulumi_destroy_step
sys.exit(cli.main(["destroy", "foo", "--yes"]))
"""


def test_a_hangup_while_pulumi_destroys_exits_130_like_ctrl_c(pulumi: Pulumi) -> None:
    home = pulumi.add_stack("foo", {})
    (home / "destroy").write_text("slow")
    child = subprocess.run([sys.executable, "-c", HANGUP_CHILD], cwd=ROOT, capture_output=True, timeout=30)
    assert (pulumi.home / "signals.log").read_text() == "SIGINT x1\ncheckpoint written\n"  # cancelled cleanly
    assert child.returncode == 130


def test_summarize_prefers_specific_errors() -> None:
    from pulumi import automation as auto

    result = auto.CommandResult("", "error: update failed\nerror: creating EKS Cluster: AccessDenied\n", 1)
    assert summarize(auto.errors.CommandError(result)) == "error: creating EKS Cluster: AccessDenied"
    assert summarize(RuntimeError("x" * 400)).endswith("...")
    assert summarize(FileNotFoundError(2, "No such file", "Pulumi.yaml")) == "[Errno 2] No such file: 'Pulumi.yaml'"


def test_project_name_is_the_pulumi_project() -> None:
    assert stack.project_name() == "infra"


@pytest.mark.parametrize("target", ["up", "preview"])
def test_make_without_the_pulumi_cli_says_what_to_install(target: str, tmp_path: Path) -> None:
    make = shutil.which("make")
    assert make
    fresh_venv = tmp_path / "venv"  # installing anything would create it
    done = subprocess.run(
        [make, "-s", target, "STACK=foo", f"VENV={fresh_venv}", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        env={"PATH": str(tmp_path)},  # no pulumi anywhere
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert not fresh_venv.exists()  # the CLI was checked before any install
    assert done.stderr.startswith(
        "the pulumi CLI is not on PATH: install it with 'curl -fsSL https://get.pulumi.com | sh'"
    )


def test_pulumis_two_streams_reach_the_printer_one_line_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdout and stderr are read by two threads that call the same printer; a printer entered by both at once (a
    TextIOWrapper is not thread-safe) can lose lines, as a cancel's progress lines once were under load."""
    from infra.ops.clients.stack_workspace import ForwardingCommand

    script = tmp_path / "pulumi"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "if sys.argv[1:] == ['version']:\n"
        "    print('v3.150.0'); sys.exit(0)\n"
        "for i in range(300):\n"
        "    print(f'out {i}', flush=True); print(f'err {i}', file=sys.stderr, flush=True)\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    inside, overlaps, seen = list[str](), list[str](), list[str]()

    def printer(line: str) -> None:
        if inside:
            overlaps.append(line)
        inside.append(line)
        time.sleep(0.0001)  # long enough for the other reader to arrive meanwhile, were it let in (it always is)
        seen.append(line)
        inside.pop()

    ForwardingCommand().run(["destroy"], str(tmp_path), {}, on_output=printer, on_error=printer)
    assert overlaps == []
    assert sorted(seen) == sorted([f"out {i}" for i in range(300)] + [f"err {i}" for i in range(300)])
