"""The kubeconfig's exec plugin (`aws eks get-token`): its command as an operator types it, and its failures (which
the kubernetes client only logs) as one ExecPluginError."""

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from infra.ops.errors import OpsError

# The kubernetes client's function that runs the exec plugin; it reports a failure only with logging.error.
_EXEC_LOADER = "_load_from_exec_plugin"
# How it words a plugin that exits non-zero; the plugin's stderr follows (ExecProvider.run).
_PROCESS_FAILED = re.compile(r"^exec: process returned -?\d+\. ")


class ExecPluginError(OpsError):
    """The kubeconfig's exec plugin (`aws eks get-token`) gave no token, so every Kubernetes call would be a 401."""


def exec_command(kubeconfig: Mapping[str, Any]) -> str:
    """The current user's exec plugin as an operator would type it, up to its first option: `aws eks get-token`."""
    contexts = {c.get("name"): c.get("context") or {} for c in kubeconfig.get("contexts") or []}
    user_name = contexts.get(kubeconfig.get("current-context"), {}).get("user")
    users = [u.get("user") or {} for u in kubeconfig.get("users") or [] if u.get("name") == user_name]
    plugin = (users[0] if users else {}).get("exec") or {}
    words = [str(plugin.get("command") or "?")]
    for arg in plugin.get("args") or []:
        if str(arg).startswith("-"):
            break
        words.append(str(arg))
    return " ".join(words)


class _ExecFailures(logging.Filter):
    """Takes the exec plugin's failure records of one thread off the root logger, keeping their text."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName == _EXEC_LOADER and record.thread == self.thread:
            self.messages.append(record.getMessage())
            return False
        return True


@contextlib.contextmanager
def exec_plugin_failures(command: str) -> Iterator[None]:
    """Raise ExecPluginError when the kubernetes client's exec plugin fails inside the block.

    The client only logs that failure on the root logger (whose first use also installs a stderr handler: a stray
    `ERROR:root:exec: ...` line) and goes on without a token. Here the record is taken off the logger and becomes
    one error naming the plugin and the last line of what it printed (e.g. AWS's AccessDenied for the role)."""
    root = logging.getLogger()
    failures = _ExecFailures()
    placeholder = logging.NullHandler() if not root.handlers else None  # keeps logging.error from basicConfig()
    if placeholder:
        root.addHandler(placeholder)
    root.addFilter(failures)
    try:
        yield
    finally:
        root.removeFilter(failures)
        if placeholder:
            root.removeHandler(placeholder)
    if failures.messages:
        printed = _PROCESS_FAILED.sub("", failures.messages[-1])  # what the plugin wrote to stderr, if anything
        lines = [ln.strip() for ln in printed.splitlines() if ln.strip()]
        reason = lines[-1].removeprefix("exec: ") if lines else "no reason given"
        raise ExecPluginError(f"the kubeconfig's exec plugin `{command}` failed: {reason}")


def guard_token_refresh(settings: Any, command: str) -> None:
    """Make a failed token refresh (the client re-runs the plugin when the token expires) an ExecPluginError."""
    hook: Callable[[Any], None] | None = settings.refresh_api_key_hook
    if hook is None:
        return

    def refresh(configuration: Any) -> None:
        try:
            with exec_plugin_failures(command):
                hook(configuration)
        finally:
            if configuration.refresh_api_key_hook is not refresh:  # the client installs a fresh hook on each call
                guard_token_refresh(configuration, command)

    settings.refresh_api_key_hook = refresh
