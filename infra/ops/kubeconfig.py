"""The stack's kubeconfig: written 0600 for kubectl, or parsed in memory for the k8s client."""

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from infra.ops.errors import OpsError
from infra.ops.outputs import require

# The kubernetes client's function that runs the exec plugin; it reports a failure only with logging.error.
_EXEC_LOADER = "_load_from_exec_plugin"
# How it words a plugin that exits non-zero; the plugin's stderr follows (ExecProvider.run).
_PROCESS_FAILED = re.compile(r"^exec: process returned -?\d+\. ")


class ExecPluginError(OpsError):
    """The kubeconfig's exec plugin (`aws eks get-token`) gave no token, so every Kubernetes call would be a 401."""


def as_dict(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The kubeconfig output as a dict (the program exports a JSON string; accept an object)."""
    value = require(outputs, "kubeconfig")
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError) as err:
        raise OpsError(f"stack output 'kubeconfig' is not valid JSON: {err}") from err
    if not isinstance(parsed, dict):
        raise OpsError("stack output 'kubeconfig' is not a JSON object")
    return parsed


def as_text(outputs: Mapping[str, Any]) -> str:
    value = require(outputs, "kubeconfig")
    text = value if isinstance(value, str) else json.dumps(value, indent=2)
    as_dict(outputs)  # refuse to write something kubectl cannot read
    return text if text.endswith("\n") else text + "\n"


def write_private(path: Path, content: str, *, force: bool = False) -> None:
    """Write content readable by the owner only, atomically, never through a symlink.

    An existing file with other contents (e.g. ~/.kube/config) is replaced only with `force`; a symlink is never
    followed: with `force` the link itself is replaced by the file.
    """
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        found = None
    if found is not None:
        if stat.S_ISLNK(found.st_mode):
            if not force:
                raise OpsError(
                    f"{path} is a symlink (to {os.readlink(path)}); refusing to write through it: "
                    "choose another -o, or --force to replace the link itself"
                )
        elif not stat.S_ISREG(found.st_mode):
            raise OpsError(f"{path} exists and is not a regular file")
        elif not force and path.read_bytes() != content.encode("utf-8"):
            raise OpsError(f"{path} exists with other contents; refusing to overwrite it without --force")
    # mkstemp creates the file 0600 whatever the umask; the rename is atomic and replaces a link, not its target.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


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
