"""The CI workflow for the repository's users (.github/workflows/infra.yml, docs/ci.md): actionlint finds nothing,
every command it runs is a Makefile target, AWS only through an OIDC role, actions pinned by commit, and `make up`
runs one stack at a time, never cancelled, without a prompt.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "infra.yml"
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
PULUMI_ACTION = "pulumi/actions"
COMMENT_ACTION = "actions/github-script"
# The inputs and variables that carry long-lived AWS keys (the action's and the SDKs' names for them).
AWS_KEY_NAMES = {"aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
MATRIX_STACK = "${{ matrix.stack }}"

Workflow = dict[Any, Any]  # PyYAML (YAML 1.1) reads the bare key `on` as True


@pytest.fixture(scope="module")
def workflow() -> Workflow:
    parsed: Workflow = yaml.safe_load(WORKFLOW.read_text())
    return parsed


@pytest.fixture(scope="module")
def make_database() -> str:
    """What make itself read from the Makefile (-p), running nothing (-q)."""
    env = {"PATH": "/usr/bin:/bin"}  # no MAKEFLAGS or STACK from the caller's shell
    done = subprocess.run(["make", "-qp"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=20)
    assert ".PHONY:" in done.stdout, done.stderr
    return done.stdout


def make_variable(database: str, name: str) -> list[str]:
    match = re.search(rf"^{name} :?= (.*)$", database, re.MULTILINE)
    assert match, f"the Makefile defines no {name}"
    return match.group(1).split()


def steps(workflow: Workflow) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_name, job, step


def action(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).split("@")[0]


def make_command(run: str) -> tuple[str, dict[str, str]]:
    """`make <target> [NAME=value ...] [2>&1 | tee <file>]` → (target, assignments); anything else fails."""
    assert "\n" not in run.strip(), f"one command per step, not a script: {run!r}"
    command, _, pipe = run.strip().partition(" | ")
    if pipe:  # the output kept for the pull request comment
        assert shlex.split(pipe)[:1] == ["tee"] and len(shlex.split(pipe)) == 2, f"{run!r}: only `| tee <file>`"
    assert not re.search(r"[;&|`<>]|\$\(", command.replace(" 2>&1", "")), f"{run!r}: one make command, nothing else"
    words = shlex.split(command.replace(" 2>&1", ""))
    assert words[0] == "make" and len(words) >= 2, f"{run!r} is not `make <target>`"
    assignments = {}
    for word in words[2:]:
        name, sep, value = word.partition("=")
        assert sep and re.fullmatch(r"[A-Z_]+", name), f"{run!r}: {word!r} is not NAME=value"
        assignments[name] = value
    return words[1], assignments


def env_value(value: str, workflow: Workflow, job: dict[str, Any], step: dict[str, Any]) -> str:
    """A `$NAME` argument as the runner expands it: the step's env, else the job's, else the workflow's."""
    if not value.startswith("$"):
        return value
    name = value.strip("${}")
    for scope in (step, job, workflow):
        if name in (scope.get("env") or {}):
            return str(scope["env"][name])
    return ""


def triggers(workflow: Workflow) -> dict[str, Any]:
    on: dict[str, Any] = workflow[True]
    return on


def stacks(job: dict[str, Any]) -> list[str]:
    return list(job.get("strategy", {}).get("matrix", {}).get("stack", []))


def test_actionlint_finds_nothing_wrong() -> None:
    # actionlint beside this interpreter (the venv), else on PATH.
    beside = Path(sys.executable).parent / "actionlint"
    binary = str(beside) if beside.exists() else shutil.which("actionlint")
    if binary is None:
        reason = f"NOT LINTED: no actionlint beside {sys.executable} or on PATH, so {WORKFLOW.name} was not checked"
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    done = subprocess.run([binary, "-no-color", str(WORKFLOW)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr


def test_every_command_is_a_makefile_target(workflow: Workflow, make_database: str) -> None:
    (phony_line,) = re.findall(r"^\.PHONY: (.*)$", make_database, re.MULTILINE)
    phony = set(phony_line.split())  # the verbs; a file target is not a command
    runs = [step["run"] for _, _, step in steps(workflow) if "run" in step]
    assert {make_command(run)[0] for run in runs} == {"test", "plan", "preview", "up"}
    for run in runs:
        target, _ = make_command(run)
        assert target in phony, f"{run!r}: the Makefile has no target {target!r}"
    # The Pulumi action only installs the CLI here: with a `command` it would run pulumi outside the Makefile.
    pulumi_steps = [step for _, _, step in steps(workflow) if action(step) == PULUMI_ACTION]
    assert pulumi_steps
    assert all("command" not in step.get("with", {}) for step in pulumi_steps)


def test_each_stack_is_named_on_the_command_line(workflow: Workflow, make_database: str) -> None:
    account_targets = make_variable(make_database, "ACCOUNT_TARGETS")
    for _, job, step in steps(workflow):
        if "run" not in step:
            continue
        target, assignments = make_command(step["run"])
        if target in account_targets:
            assert "STACK" in assignments, f"{step['run']!r}: make {target} needs STACK= on the command line"
        if stacks(job) and "STACK" in assignments:  # a job per stack: every command for that job's stack
            assert env_value(assignments["STACK"], workflow, job, step) == MATRIX_STACK, step["run"]
        if stacks(job) and target == "plan":
            assert "STACK" in assignments, "make plan without STACK= plans foo, whatever the job's stack"


def test_aws_only_through_an_oidc_role(workflow: Workflow) -> None:
    scopes = [workflow, *workflow["jobs"].values(), *(step for _, _, step in steps(workflow))]
    for scope in scopes:
        assert not AWS_KEY_NAMES & set(scope.get("env") or {}), scope
        assert not AWS_KEY_NAMES & set(scope.get("with") or {}), scope
    assuming = [step for _, _, step in steps(workflow) if action(step) == AWS_CREDENTIALS_ACTION]
    assert len(assuming) == 2  # preview and up
    for step in assuming:
        assert re.fullmatch(r"\$\{\{ vars\.[A-Z_]+ \}\}", step["with"]["role-to-assume"]), step


def test_each_job_gets_only_the_permissions_it_uses(workflow: Workflow) -> None:
    assert workflow["permissions"] == {}  # nothing by default
    for name, job in workflow["jobs"].items():
        used = {action(step) for step in job["steps"]}
        expected = {"contents": "read"}
        if AWS_CREDENTIALS_ACTION in used:
            expected["id-token"] = "write"  # the OIDC token exchanged for the role
        if COMMENT_ACTION in used:
            expected["pull-requests"] = "write"
        assert job["permissions"] == expected, name


def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment(workflow: Workflow) -> None:
    lines = [line for line in WORKFLOW.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert len(lines) == len([step for _, _, step in steps(workflow) if "uses" in step])
    for line in lines:
        assert re.fullmatch(r"\s*(- )?uses: [\w-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line


def test_up_runs_on_main_one_stack_at_a_time_never_cancelled_and_without_a_prompt(workflow: Workflow) -> None:
    assert triggers(workflow)["push"] == {"branches": ["main"]}
    up = workflow["jobs"]["up"]
    assert up["if"] == "github.event_name == 'push'"
    assert up["strategy"]["max-parallel"] == 1
    assert up["concurrency"] == {"group": f"infra-up-{MATRIX_STACK}", "cancel-in-progress": False}
    (step,) = [step for step in up["steps"] if "run" in step]
    assert make_command(step["run"])[0] == "up"
    # Pulumi reads PULUMI_SKIP_CONFIRMATIONS=true as --yes; without either `pulumi up` refuses to run without a
    # terminal ("--yes or --skip-preview must be passed in to proceed when running in non-interactive mode").
    assert step["env"]["PULUMI_SKIP_CONFIRMATIONS"] == "true"


def test_pull_requests_preview_every_stack_that_main_deploys(workflow: Workflow) -> None:
    assert "pull_request" in triggers(workflow)
    preview, up = workflow["jobs"]["preview"], workflow["jobs"]["up"]
    assert stacks(preview) == stacks(up) == ["foo"]
    for stack in stacks(up):
        assert (ROOT / f"Pulumi.{stack}.yaml").is_file(), stack
    targets = [make_command(step["run"])[0] for step in preview["steps"] if "run" in step]
    assert targets == ["plan", "preview"]


def test_the_pulumi_cli_is_the_release_of_the_pinned_sdk(workflow: Workflow) -> None:
    pin = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin
    versions = {step["with"]["pulumi-version"] for _, _, step in steps(workflow) if action(step) == PULUMI_ACTION}
    assert versions == {pin.group(1)}


# github-script runs `script` as the body of an async function of these names (its README); here they are fakes.
COMMENT_HARNESS = """
const calls = [];
const core = { summary: { addRaw(text) { calls.push({ summary: text }); return this; }, async write() {} } };
const github = {
  paginate: async () => JSON.parse(process.env.EXISTING_COMMENTS),
  rest: { issues: {
    listComments: () => {},
    updateComment: async (args) => calls.push({ update: args }),
    createComment: async (args) => calls.push({ create: args }),
  } },
};
const context = {
  serverUrl: 'https://github.com', repo: { owner: 'acme', repo: 'infra' }, runId: 42,
  payload: { pull_request: { number: 7, head: { sha: '0123456789abcdef' } } },
};
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', process.env.SCRIPT)(require, github, context, core)
  .then(() => console.log(JSON.stringify(calls)));
"""


def run_comment_step(workflow: Workflow, runner_temp: Path, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on PATH: the pull request comment's script was not run")
    (step,) = [step for step in workflow["jobs"]["preview"]["steps"] if action(step) == COMMENT_ACTION]
    env = {
        "PATH": "/usr/bin:/bin",
        "SCRIPT": step["with"]["script"],
        "EXISTING_COMMENTS": json.dumps(existing),
        "RUNNER_TEMP": str(runner_temp),
        "STACK": "foo",
        "PLAN_OUTCOME": "success",
        "PREVIEW_OUTCOME": "failure",
    }
    done = subprocess.run([node, "-e", COMMENT_HARNESS], env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    calls: list[dict[str, Any]] = json.loads(done.stdout)
    return calls


def test_the_pull_request_comment_shows_the_cost_and_the_preview_and_replaces_its_last_version(
    workflow: Workflow, tmp_path: Path
) -> None:
    (tmp_path / "plan.txt").write_text("42 resources\n\x1b[1mmonthly cost, idle: $214.63\x1b[0m\n")
    (tmp_path / "preview.txt").write_text("x" * 40_000 + "\nPolicies:\n    mandatory: rds-encrypted\n")
    ours = {"id": 5, "user": {"type": "Bot"}, "body": "<!-- infra-preview:foo -->\nlast push's"}
    someone_quoting_it = {"id": 6, "user": {"type": "User"}, "body": "<!-- infra-preview:foo -->"}
    summary, update = run_comment_step(workflow, tmp_path, [someone_quoting_it, ours])
    body = update["update"]["body"]
    assert summary == {"summary": body}
    assert update["update"]["comment_id"] == 5 and update["update"]["issue_number"] == 7
    assert body.startswith("<!-- infra-preview:foo -->\n### Stack `foo` at 0123456 ")
    assert "`make plan STACK=foo`: resources and monthly cost: passed" in body
    assert "monthly cost, idle: $214.63\n" in body  # no terminal colour codes
    assert "`make preview STACK=foo`: pulumi preview with the policy pack: FAILED" in body
    assert "[10039 characters cut: see the run's log]" in body  # 40,039 characters, the last 30,000 kept
    assert "mandatory: rds-encrypted\n```" in body
    assert len(body) < 65_536  # GitHub's limit for a comment

    (create,) = run_comment_step(workflow, tmp_path, [someone_quoting_it])[1:]
    assert create["create"]["body"] == body


def test_secrets_are_read_only_in_jobs_that_run_in_an_environment(workflow: Workflow) -> None:
    # Repository secrets are readable by any workflow a branch adds; environment secrets only by the branches the
    # environment admits (GitHub docs, "Using environments for deployment"): up gets `deploy`, PRs `preview`.
    assert {name: job.get("environment") for name, job in workflow["jobs"].items()} == {
        "test": None,
        "preview": "preview",
        "up": "deploy",
    }
    for name, job in workflow["jobs"].items():
        if "secrets." in yaml.safe_dump(job):
            assert job.get("environment"), f"job {name} reads secrets outside an environment"
