"""Every config key a message names (`infra:database.restoreFrom.stack`) is a key the stack config has.

Messages tell the user which key to change; one that names a renamed or misspelt key sends them looking for a
setting that does not exist. The real keys are the schema's (infra/config/schema.py), as docs/config.md lists them:
`infra:<section>` and its camelCase paths, and the stack-wide keys.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

from source_scan import string_literals

from infra.config.schema import StackConfig, camel, key_doc

ROOT = Path(__file__).resolve().parent.parent
CODE = [ROOT / "__main__.py", *(p for where in ("infra", "tools", "policy") for p in (ROOT / where).rglob("*.py"))]
# A key path; `infra:index:Database` (a Pulumi type token) is not one, and a sentence's full stop ends the path.
KEY_PATH = re.compile(r"infra:(?!index:)[A-Za-z.]+")


def _object_type(tp: Any) -> type | None:
    return next((t for t in (tp, *typing.get_args(tp)) if isinstance(t, type) and dataclasses.is_dataclass(t)), None)


def _keys(cls: type, prefix: str) -> set[str]:
    keys = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{camel(f.name)}"
        keys.add(key)
        if inner := _object_type(hints[f.name]):
            keys |= _keys(inner, key)
    return keys


def schema_keys() -> set[str]:
    keys = set()
    hints = typing.get_type_hints(StackConfig)
    for f in dataclasses.fields(StackConfig):
        doc = key_doc(f)
        if section := _object_type(hints[f.name]):
            keys |= {f"infra:{camel(f.name)}", *_keys(section, f"infra:{camel(f.name)}")}
        elif doc is not None and doc.name.startswith("infra:"):
            keys.add(doc.name)
    return keys


def named_keys() -> dict[str, str]:
    """`path:line` -> each key path a string literal names (an f-string's `...addons.{field}` names `addons`)."""
    return {
        f"{path.relative_to(ROOT).as_posix()}:{line}: {key}": key.rstrip(".")
        for path in CODE
        for line, literal in string_literals(path)
        for key in KEY_PATH.findall(literal)
    }


def test_the_schema_walk_finds_the_documented_keys() -> None:
    # docs/config.md's keys, one per kind: a section, a nested path, an add-on, a stack-wide secret.
    assert {
        "infra:network",
        "infra:database.restoreFrom.pointInTime.source",
        "infra:cluster.addons.vpcCni",
        "infra:dockerhubToken",
    } <= schema_keys()


def test_every_key_a_message_names_is_a_schema_key() -> None:
    named = named_keys()
    assert len(named) >= 25  # the scan sees the messages (the account checks, the config rules, the cluster)
    assert {where: key for where, key in named.items() if key not in schema_keys()} == {}


def test_a_type_token_and_a_full_stop_are_not_part_of_a_key() -> None:
    text = "adopt infra:index:Database::database, or infra:dns.zone: x. Set infra:dns. infra:cluster.addons.{field}"
    assert [k.rstrip(".") for k in KEY_PATH.findall(text)] == ["infra:dns.zone", "infra:dns", "infra:cluster.addons"]
