"""Typed access to stack outputs, with an error that says which output is missing."""

import json
from collections.abc import Mapping
from typing import Any

from infra.ops.errors import OpsError


def require(outputs: Mapping[str, Any], name: str) -> Any:
    value = outputs.get(name)
    if value is None:
        raise OpsError(f"stack output {name!r} is missing (is the stack deployed with `pulumi up`?)")
    return value


def text(outputs: Mapping[str, Any], name: str) -> str:
    value = require(outputs, name)
    if not isinstance(value, str):
        raise OpsError(f"stack output {name!r} should be a string, got {type(value).__name__}")
    return value


def integer(outputs: Mapping[str, Any], name: str) -> int:
    value = require(outputs, name)
    # JSON round-trips may hand back 3.0 or "3" for an int output.
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not number.is_integer():
        raise OpsError(f"stack output {name!r} should be an integer, got {value!r}")
    return int(number)


def flag(outputs: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = outputs.get(name, default)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def mapping(outputs: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A JSON object output (the kubeconfig): the program exports it as JSON text; an object is taken as it is."""
    value = require(outputs, name)
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError) as err:
        raise OpsError(f"stack output {name!r} is not valid JSON: {err}") from err
    if not isinstance(parsed, dict):
        raise OpsError(f"stack output {name!r} is not a JSON object")
    return parsed
