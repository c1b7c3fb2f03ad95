"""`kubeconfig`: the stack's kubeconfig output, written to a file only its owner can read (mode 0600, atomically).

Its user runs `aws eks get-token`, so the file holds no credential.
"""

import argparse
import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra import contract
from infra.ops import live
from infra.ops.clients import outputs, stack
from infra.ops.errors import OpsError


def run(args: argparse.Namespace) -> int:
    path = Path(args.output or f"{contract.stack_short_name(args.stack)}.kubeconfig")
    write_private(path, as_text(stack.read_outputs(args.stack)), force=args.force)
    live.say(f"wrote {path} (mode 0600); use: KUBECONFIG={path} kubectl get nodes")
    return 0


def as_text(out: Mapping[str, Any]) -> str:
    """The kubeconfig output as the file kubectl reads."""
    value = outputs.require(out, "kubeconfig")
    text = value if isinstance(value, str) else json.dumps(value, indent=2)
    outputs.mapping(out, "kubeconfig")  # refuse to write something kubectl cannot read
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
            raise OpsError(
                f"{path} exists and is not a regular file (--force replaces only a file or a symlink): "
                "choose another -o"
            )
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
