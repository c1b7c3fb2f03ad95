"""The only module that talks to Pulumi (Automation API): reads, preview, up and destroy; everything else uses plain
dicts.

The Automation API shells out to the `pulumi` CLI, so every failure here (CLI missing,
stack missing, update failed) is turned into a one-line StackError. Every command names its
stack; none runs `pulumi stack select` (see stack_workspace.Workspace).
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from infra.ops.errors import OpsError

if TYPE_CHECKING:
    from pulumi import automation as auto

# The Pulumi project (Pulumi.yaml) lives at the repository root, three levels above this file.
REPO_ROOT = Path(__file__).resolve().parents[3]
# The policy pack preview and up run with: what `make up` passes as `--policy-pack policy`.
POLICY_PACK = REPO_ROOT / "policy"

_LABEL = re.compile(r"^(stdout|stderr):\s*")
# Lines Pulumi prints for every failed update; they say nothing about the cause.
_GENERIC_ERRORS = ("error: update failed", "error: destroy failed", "error: preview failed")
_NO_STACK = re.compile(r"no stack named '[^']*' found")
_NO_LOGIN = "PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"
LOGIN_HINT = (
    "the pulumi CLI is not logged in to a backend: for S3 or local state run `pulumi login s3://BUCKET` "
    "(or `pulumi login --local`); for Pulumi Cloud run `pulumi login` or set PULUMI_ACCESS_TOKEN"
)


class StackError(OpsError):
    """A Pulumi operation failed; `dependency_violation` marks AWS DependencyViolation, `interrupted` Ctrl-C."""

    def __init__(self, message: str, *, dependency_violation: bool = False, interrupted: bool = False) -> None:
        super().__init__(message)
        self.dependency_violation = dependency_violation
        self.interrupted = interrupted


def summarize(err: BaseException) -> str:
    """Pick the most telling single line out of a multi-line Pulumi CLI error."""
    if isinstance(err, FileNotFoundError) and err.filename == "pulumi":
        return "the pulumi CLI is not on PATH (the Automation API needs it)"
    # CommandError text is "code: N / stdout: ... / stderr: ..."; drop those labels.
    lines = [_LABEL.sub("", ln.strip()) for ln in str(err).splitlines() if ln.strip()]
    lines = [ln for ln in lines if ln and not ln.startswith("code:")]
    errors = [ln for ln in lines if "error:" in ln.lower()]
    specific = [ln for ln in errors if ln.lower() not in _GENERIC_ERRORS]
    violations = [ln for ln in lines if "DependencyViolation" in ln]  # what the sweep can fix
    best = (violations or specific or errors or lines or [type(err).__name__])[0]
    return best if len(best) <= 300 else best[:297] + "..."


def _open(stack: str) -> "auto.Stack":
    from infra.ops.clients import (
        stack_workspace,  # imported here: the Automation API is slow and --help does not need it
    )

    return stack_workspace.open_stack(stack, str(REPO_ROOT))


def _backend() -> str:
    """Where the CLI is logged in, for errors that depend on it."""
    from infra.ops.clients import stack_workspace

    try:
        who = stack_workspace.Workspace(work_dir=str(REPO_ROOT)).who_am_i()
    except Exception:  # not logged in, or an old CLI: the hint still says how to look
        return "`pulumi whoami -v` shows the backend the CLI is logged in to"
    return f"the pulumi CLI is logged in to {who.url or 'an unknown backend'} as {who.user}"


def explain(err: BaseException) -> str:
    """summarize(), plus what to do when the error is about which backend the CLI uses."""
    line = summarize(err)
    if _NO_LOGIN in str(err):
        return f"{line} ({LOGIN_HINT})"
    if _NO_STACK.search(str(err)):
        return (
            f"{line} ({_backend()}; `pulumi stack ls` lists its stacks, "
            "`pulumi login <backend-url>` switches to the backend that holds this one)"
        )
    return line


def project_name() -> str:
    """The Pulumi project's name (Pulumi.yaml `name`); the cluster is always named `<project>-<stack>`."""
    return str(yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["name"])


def _read(what: str, read: Callable[[], Any]) -> Any:
    """read(), every failure one StackError: `cannot read <what>: <why>`; an interrupt stays one (exit 130)."""
    from infra.ops.clients.stack_workspace import CancelledByOperatorError

    try:
        return read()
    except CancelledByOperatorError as err:  # even if pulumi answered: the operator asked to stop before anything
        raise StackError(f"cannot read {what}: interrupted", interrupted=True) from err
    except Exception as err:  # CLI missing, no such stack, backend login...: all one message
        raise StackError(f"cannot read {what}: {explain(err)}") from err


def read_outputs(stack: str) -> dict[str, Any]:
    """Return the stack's outputs as name -> plain value (secrets included, in memory only)."""
    outputs = _read(f"outputs of stack {stack!r}", lambda: _open(stack).outputs())
    return {name: out.value for name, out in outputs.items()}


def read_state(stack: str) -> dict[str, Any]:
    """The stack's checkpoint (`pulumi stack export`): its `resources` carry ids, outputs and `protect`."""
    deployment = _read(f"the state of stack {stack!r}", lambda: _open(stack).export_stack().deployment)
    return dict(deployment or {})


def _operate(
    verb: str,
    stack: str,
    operate: Callable[["auto.Stack"], object],
    on_output: Callable[[str], None],
    *,
    then: str | None,
    changes_nothing: bool = False,
) -> None:
    """operate(the stack), every failure one StackError; an interrupt pulumi honoured is one with `interrupted`.

    `then` is said when pulumi completed anyway (the interrupt came too late): its work is done, and `then` tells what
    follows; None where such a completion still counts as the interrupt. `changes_nothing`: a preview, which a
    failure or an interrupt leaves with nothing to finish."""
    from infra.ops.clients.stack_workspace import CancelledByOperatorError

    try:
        operate(_open(stack))
    except CancelledByOperatorError as err:
        if err.completed and then is not None:
            on_output(f"pulumi {verb} of stack {stack!r} completed before the interrupt could cancel it{then}")
            return
        if changes_nothing:
            raise StackError(
                f"pulumi {verb} of stack {stack!r} was interrupted; nothing changed", interrupted=True
            ) from err
        raise StackError(
            f"pulumi {verb} of stack {stack!r} was interrupted: pulumi was asked to cancel and has exited "
            f"(code {err.result.code}). Run the same command again to finish, after `pulumi refresh -s {stack}` "
            "if pulumi reported pending operations",
            interrupted=True,
        ) from err
    except Exception as err:  # CLI missing, no such stack, backend login, the operation itself...: one line
        outcome = "; nothing changed" if changes_nothing else ""
        raise StackError(
            f"pulumi {verb} of stack {stack!r} failed: {explain(err)}{outcome}",
            dependency_violation="DependencyViolation" in str(err),  # what destroy's sweep can fix
        ) from err


def destroy(stack: str, on_output: Callable[[str], None], *, preview_only: bool = False) -> None:
    """Run `pulumi destroy` (or its preview), streaming the CLI's lines to on_output."""
    _operate(
        "destroy",
        stack,
        lambda s: s.destroy(on_output=on_output, on_error=on_output, show_secrets=False, preview_only=preview_only),
        on_output,
        then=None if preview_only else "; the steps after it run",
    )


def preview(
    stack: str, on_output: Callable[[str], None], on_event: Callable[["auto.events.EngineEvent"], None]
) -> dict[str, int]:
    """What `pulumi up` would do, as it shows before asking, with the policy pack: policy violations fail here.
    Returns the preview's change summary (PreviewResult.change_summary): how many steps of each op it counted."""
    summary: dict[str, int] = {}

    def run(s: "auto.Stack") -> None:
        result = s.preview(policy_packs=[str(POLICY_PACK)], on_output=on_output, on_error=on_output, on_event=on_event)
        # The keys are the JSON's op names, or OpType members (a str Enum) as the type hints say.
        summary.update({getattr(op, "value", op): count for op, count in result.change_summary.items()})

    _operate("preview", stack, run, on_output, then=None, changes_nothing=True)
    return summary


def update(
    stack: str, on_output: Callable[[str], None], on_event: Callable[["auto.events.EngineEvent"], None] | None = None
) -> None:
    """`pulumi up --yes --skip-preview` (the Automation API's) with the policy pack, streaming its lines and events."""
    _operate(
        "up",
        stack,
        lambda s: s.up(
            policy_packs=[str(POLICY_PACK)],
            on_output=on_output,
            on_error=on_output,
            on_event=on_event,
            show_secrets=False,
        ),
        on_output,
        then="",
    )
