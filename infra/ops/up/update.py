"""`pulumi preview` and `pulumi up` of one stack through the Automation API, with the policy pack (what `make up`
passes as `--policy-pack policy`); every failure is one StackError, Ctrl-C is passed to pulumi as destroy's is."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from infra.ops.clients import stack
from infra.ops.clients.stack import StackError, explain

if TYPE_CHECKING:
    from pulumi import automation as auto

POLICY_PACK = stack.REPO_ROOT / "policy"


def _open(name: str) -> "auto.Stack":
    from infra.ops.clients import stack_workspace  # the Automation API is slow to load; --help does not need it

    return stack_workspace.open_stack(name, str(stack.REPO_ROOT))


def preview(name: str, on_output: Callable[[str], None]) -> None:
    """What the update would do, as `pulumi up` shows before asking; policy violations fail here."""
    from infra.ops.clients.stack_workspace import CancelledByOperatorError

    try:
        _open(name).preview(policy_packs=[str(POLICY_PACK)], on_output=on_output, on_error=on_output)
    except CancelledByOperatorError as err:
        raise StackError(
            f"pulumi preview of stack {name!r} was interrupted; nothing changed", interrupted=True
        ) from err
    except Exception as err:
        raise StackError(f"pulumi preview of stack {name!r} failed: {explain(err)}") from err


def update(
    name: str, on_output: Callable[[str], None], on_event: Callable[["auto.events.EngineEvent"], None] | None = None
) -> None:
    """`pulumi up --yes --skip-preview` (the Automation API's), streaming its lines and engine events."""
    from infra.ops.clients.stack_workspace import CancelledByOperatorError

    try:
        _open(name).up(
            policy_packs=[str(POLICY_PACK)],
            on_output=on_output,
            on_error=on_output,
            on_event=on_event,
            show_secrets=False,
        )
    except CancelledByOperatorError as err:
        if err.completed:  # the interrupt came as pulumi finished: the update is done
            on_output(f"pulumi up of stack {name!r} completed before the interrupt could cancel it")
            return
        raise StackError(
            f"pulumi up of stack {name!r} was interrupted: pulumi was asked to cancel and has exited "
            f"(code {err.result.code}). Run it again to finish, after `pulumi refresh -s {name}` if pulumi "
            "reported pending operations",
            interrupted=True,
        ) from err
    except Exception as err:
        raise StackError(f"pulumi up of stack {name!r} failed: {explain(err)}") from err
