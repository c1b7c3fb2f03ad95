"""The stack's kubeconfig: written 0600 for kubectl, or parsed in memory for the k8s client."""

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.ops.errors import OpsError
from infra.ops.outputs import require


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
