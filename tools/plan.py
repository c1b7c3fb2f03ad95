"""Offline plan: what the program would manage for a stack, without AWS — `make plan STACK=foo`.

Runs the real `__main__.py` with Pulumi.<STACK>.yaml under the offline mocks (tools/offline) and prints every
resource as a tree (parent → children) with its key settings (secrets shown as [secret]), the stack outputs, and
what changed against the reviewed snapshot tests/snapshots/<STACK>.json. `--write-snapshot` accepts the current
graph as the new reviewed snapshot (`make reviewed-graph STACK=foo`). An invalid config prints the problems and
exits 2.

    venv/bin/python tools/plan.py foo [--write-snapshot]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "tools":
    sys.path.pop(0)  # run as a script: import tools.* as a package, not its modules as top-level names
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # infra and tools, whatever the working directory

from infra.config import ConfigError  # noqa: E402
from tools import reviewed_graph  # noqa: E402

WIDTH = 120
VALUE_MAX = 60
LIST_MAX = 4
# Nested maps that are noise in a summary (they are in the snapshot); `type name` already says apiVersion/kind.
SKIP_KEYS = {"tags", "tagsAll", "labels", "annotations", "apiVersion", "kind"}


def _scalar(value: Any) -> str | None:
    """A short rendering of a scalar or a short list of scalars; None when the value is not summary material."""
    if value == reviewed_graph.SECRET:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if value[:1] in "{[" and _is_json(value):
            return "{…}" if value[0] == "{" else "[…]"  # an embedded JSON document (a policy): see the snapshot
        text = value if len(value) <= VALUE_MAX else value[: VALUE_MAX - 1] + "…"
        return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text
    if isinstance(value, list) and value and all(isinstance(v, str | int | float | bool) for v in value):
        if len(value) > LIST_MAX:
            return f"[{len(value)} items]"
        return "[" + ",".join(str(_scalar(v)) for v in value) + "]"
    return None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def settings(inputs: dict[str, Any]) -> list[str]:
    """Top-level scalar inputs plus the scalars of top-level maps (`spec.replicas`, `scalingConfig.desiredSize`)."""
    out = []
    for key in sorted(inputs):
        if key in SKIP_KEYS:
            continue
        value = inputs[key]
        text = _scalar(value)
        if text is not None:
            out.append(f"{key}={text}")
        elif isinstance(value, dict):
            for sub in sorted(value):
                sub_text = None if sub in SKIP_KEYS else _scalar(value[sub])
                if sub_text is not None:
                    out.append(f"{key}.{sub}={sub_text}")
    return out


def _short(urn: str) -> str:
    """`type::name` of a URN (its last two parts), for provider references."""
    return urn.rsplit("::", 1)[-1]


def _wrap(words: list[str], indent: str) -> list[str]:
    """Words joined by two spaces, wrapped between words (never inside one) at WIDTH."""
    lines = [indent + words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 2 + len(word) > WIDTH and lines[-1].strip():
            lines.append(indent + "      " + word)
        else:
            lines[-1] += "  " + word
    return lines


def tree(snap: dict[str, Any]) -> list[str]:
    resources = snap["resources"]
    urns = {r["urn"] for r in resources}
    children: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        parent = r["parent"] if r["parent"] in urns else ""
        children.setdefault(parent, []).append(r)
    lines: list[str] = []

    def show(parent: str, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: (r["custom"], r["name"], r["type"])):
            indent = "  " * depth
            flags = []
            if r["protect"]:
                flags.append("[protected]")
            if r["deleteBeforeReplace"]:
                flags.append("[delete-before-replace]")
            if r["provider"]:
                flags.append(f"provider={_short(r['provider'])}")
            words = [f"{r['type']} {r['name']}", *flags, *(settings(r["inputs"]) if r["custom"] else [])]
            lines.extend(_wrap(words, indent))
            show(r["urn"], depth + 1)

    show("", 0)
    return lines


def outputs(snap: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in sorted(snap["outputs"].items()):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        if len(text) > 100:
            text = text[:99] + "…"
        lines.append(f"  {key}: {text}")
    return lines


def against_committed(stack: str, snap: dict[str, Any]) -> list[str]:
    committed = reviewed_graph.load(stack)
    label = reviewed_graph.snapshot_path(stack).relative_to(reviewed_graph.ROOT)
    if committed is None:
        return [f"No reviewed snapshot {label} yet: `{reviewed_graph.regenerate_command(stack)}` writes one."]
    diff = reviewed_graph.changes(committed, snap)
    if not diff:
        return [f"Same as the reviewed snapshot {label}."]
    counts = [
        (len(diff.added), "to create"),
        (len(diff.removed), "to delete"),
        (len(diff.changed), "to update"),
        (len(diff.moved), "renamed with an alias"),
    ]
    summary = [f"{n} {what}" for n, what in counts if n] + (["outputs changed"] if diff.outputs_changed else [])
    lines = [f"Against the reviewed snapshot {label}: {', '.join(summary)}:", *diff.lines()]
    warnings = reviewed_graph.replaced_stateful(committed, snap) + reviewed_graph.replaced_by_inputs(committed, snap)
    lines += [f"  !! {m}" for m in warnings]
    lines.append(f"Review (`git diff` after `{reviewed_graph.regenerate_command(stack)}`), then commit the snapshot.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="the stack, as in Pulumi.<stack>.yaml")
    parser.add_argument("--write-snapshot", action="store_true", help="write tests/snapshots/<stack>.json")
    args = parser.parse_args(argv)
    if not (ROOT / f"Pulumi.{args.stack}.yaml").exists():
        print(f"no Pulumi.{args.stack}.yaml — stacks: {', '.join(reviewed_graph.stack_files())}", file=sys.stderr)
        return 2
    try:
        text = reviewed_graph.graph_text(args.stack)
    except ConfigError as exc:
        print(f"Pulumi.{args.stack}.yaml: {exc}", file=sys.stderr)
        return 2
    snap = json.loads(text)
    if args.write_snapshot:
        print("\n".join(against_committed(args.stack, snap)))
        path = reviewed_graph.write(args.stack, text)
        print(f"wrote {path.relative_to(ROOT)} ({len(snap['resources'])} resources); review it with `git diff`.")
        return 0
    custom = sum(r["custom"] for r in snap["resources"])
    print(f"Stack {args.stack}: {custom} resources in {len(snap['resources']) - custom} components (mocked plan)\n")
    print("\n".join(tree(snap)))
    print("\nOutputs:")
    print("\n".join(outputs(snap)))
    print()
    print("\n".join(against_committed(args.stack, snap)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `make plan | head`
        sys.stderr.close()
        sys.exit(0)
