"""The stack's kubeconfig: written 0600 for kubectl, or parsed in memory for the k8s client."""

import json
import os
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


def write_private(path: Path, content: str) -> None:
    """Write content readable by the owner only, even if the file already existed."""
    # O_CREAT with 0o600 closes the window where a new file would be world-readable;
    # fchmod covers a pre-existing file whose mode os.open leaves untouched.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(content)
