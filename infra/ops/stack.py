"""The only module that talks to Pulumi (Automation API); everything else uses plain dicts.

The Automation API shells out to the `pulumi` CLI, so every failure here (CLI missing,
stack missing, update failed) is turned into a one-line StackError.
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.ops.errors import OpsError

if TYPE_CHECKING:
    from pulumi import automation as auto

# The Pulumi project (Pulumi.yaml) lives at the repository root, two levels above this file.
REPO_ROOT = Path(__file__).resolve().parents[2]

_LABEL = re.compile(r"^(stdout|stderr):\s*")
# Lines Pulumi prints for every failed update; they say nothing about the cause.
_GENERIC_ERRORS = ("error: update failed", "error: destroy failed", "error: preview failed")


class StackError(OpsError):
    """A Pulumi operation failed; `dependency_violation` marks AWS DependencyViolation."""

    def __init__(self, message: str, *, dependency_violation: bool = False) -> None:
        super().__init__(message)
        self.dependency_violation = dependency_violation


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


def _select(stack: str) -> "auto.Stack":
    from pulumi import automation as auto  # imported here: it is slow and --help does not need it

    return auto.select_stack(stack_name=stack, work_dir=str(REPO_ROOT))


def read_outputs(stack: str) -> dict[str, Any]:
    """Return the stack's outputs as name -> plain value (secrets included, in memory only)."""
    try:
        outputs = _select(stack).outputs()
    except Exception as err:  # CLI missing, no such stack, backend login...: all one message
        raise StackError(f"cannot read outputs of stack {stack!r}: {summarize(err)}") from err
    return {name: out.value for name, out in outputs.items()}


def destroy(stack: str, on_output: Callable[[str], None], *, preview_only: bool = False) -> None:
    """Run `pulumi destroy` (or its preview), streaming the CLI's lines to on_output."""
    try:
        _select(stack).destroy(
            on_output=on_output,
            on_error=on_output,
            show_secrets=False,
            preview_only=preview_only,
        )
    except Exception as err:
        raise StackError(
            f"pulumi destroy of stack {stack!r} failed: {summarize(err)}",
            dependency_violation="DependencyViolation" in str(err),
        ) from err
