"""Generate docs/config.md, the stack config reference, from the schema (infra/config/schema.py).

venv/bin/python tools/config_reference.py           # write docs/config.md
venv/bin/python tools/config_reference.py --check   # exit 1 when docs/config.md is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "tools":
    sys.path[0] = str(ROOT)  # run as a script: import infra and tools as packages, not tools' modules top-level

from infra.config.parser import type_name  # noqa: E402
from infra.config.schema import PROJECT_NAMESPACE, StackConfig, camel, key_doc  # noqa: E402

REFERENCE = ROOT / "docs" / "config.md"
COMMAND = "venv/bin/python tools/config_reference.py"

INTRO = f"""\
# Stack config reference

<!-- Generated from infra/config/schema.py by `{COMMAND}`: edit the schema, not this file. -->

A stack's config lives in `Pulumi.<stack>.yaml`, one object per section:

```yaml
config:
  aws:region: us-west-2
  infra:cluster:
    nodes:
      desired: 3
```

Every key is optional unless it says required: a key left out takes the default below. Set one with its path
inside the section, e.g. `pulumi config set --path 'cluster.nodes.desired' 3 -s foo`, or edit the file. Every key
is validated before anything is created: `pulumi up` stops with one error that names each bad key, its value and
what is allowed (the "allowed" column is what that error says). Some values are also checked against the account
at deploy time (the Kubernetes and PostgreSQL versions, the hosted zone, how many AZs the region has). Secrets are
set with `--secret`, e.g. `pulumi config set --secret dockerhubToken <token> -s foo`: the file holds them
encrypted.
"""

HEADER = "| key | type | default | allowed | what it does |\n|---|---|---|---|---|"


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else "—"


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if value is None:
        return "unset"
    if dataclasses.is_dataclass(value):
        return ""  # an object: its keys' defaults follow
    return f"`{json.dumps(value)}`"


def _object_type(tp: Any) -> type | None:
    """The dataclass of an object-valued key (`NodesConfig`, `DnsConfig | None`), else None."""
    return next((t for t in (tp, *typing.get_args(tp)) if isinstance(t, type) and dataclasses.is_dataclass(t)), None)


def _rows(cls: type, prefix: str) -> list[str]:
    """One row per key of `cls`, an object's own keys right after it."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        doc = key_doc(f)
        if doc is None:
            raise ValueError(f"{cls.__name__}.{f.name} has no doc in the schema (metadata=documented(...))")
        key = f"{prefix}.{camel(f.name)}"
        cells = [f"`{key}`", type_name(hints[f.name]), _default(f), str(doc.allowed), doc.doc]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if inner := _object_type(hints[f.name]):
            rows += _rows(inner, key)
    return rows


def render() -> str:
    hints = typing.get_type_hints(StackConfig)
    stack_wide, sections = [], []
    for f in dataclasses.fields(StackConfig):
        doc = key_doc(f)
        if section := _object_type(hints[f.name]):
            name = f"{PROJECT_NAMESPACE}:{camel(f.name)}"
            about = " ".join((section.__doc__ or "").split())
            sections.append(f"## `{name}`\n\n{about}\n\n{HEADER}\n" + "\n".join(_rows(section, name)))
        elif doc is not None:
            kind = "a string, set with `--secret`" if doc.secret else type_name(hints[f.name])
            cells = [f"`{doc.name}`", kind, _default(f), str(doc.allowed), doc.doc]
            stack_wide.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    top = f"## Stack-wide keys\n\n{HEADER}\n" + "\n".join(stack_wide)
    return "\n\n".join([INTRO.rstrip(), top, *sections]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/config.md is not what the schema says")
    args = parser.parse_args(argv)
    text = render()
    where = REFERENCE.relative_to(ROOT)
    if args.check:
        if not REFERENCE.is_file() or REFERENCE.read_text() != text:
            print(
                f"{where} is stale (not what infra/config/schema.py generates): run {COMMAND} and commit it",
                file=sys.stderr,
            )
            return 1
        return 0
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(text)
    print(f"wrote {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
