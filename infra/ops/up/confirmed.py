"""What the operator confirmed, and whether the update about to run is still that.

Pulumi's update plans (`preview --save-plan`, `up --plan`) would pin it, but `--plan` is still experimental
(hidden unless PULUMI_EXPERIMENTAL is set, pkg/cmd/pulumi/operations/up.go), and open issues show plans refusing
updates of this program's own providers (aws:eks, kubernetes: pulumi/pulumi#13765) and finding a departure only
part-way through an update, after resources have changed (#16670). So the verb pins what it can check before
anything changes:

- the steps a second preview computes after the confirmation must be the confirmed preview's: for each step its op,
  resource, type, the names of the properties it changes, and a sha256 of its detailed diff and of the old and new
  inputs of those properties (all of the new inputs for a step without old state, a create) as the engine's events
  carry them. Secret values arrive as "[secret]" and values a preview cannot know yet as one fixed placeholder, so
  a secret's new value or an unknown one that differs is not seen; a value moved in the clear is. A name the
  providers generate for a created or replaced resource (`<resource name>-<7 or 8 random characters>`: without an
  update plan the engine gives each preview a new random seed, pkg/resource/deploy/step_generator.go) counts as
  that resource's generated name, wherever it appears, so two previews of the same change match;
- the program's files (code, policy pack, app sources) and the stack file's `config:` and `environment:` must hash
  the same.

Not fingerprinted: the venv (provider plugins and SDK versions), the pulumi CLI's version, and the contents of the
ESC environments the stack file names.
"""

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from infra.ops.up.progress import UNCHANGED

if TYPE_CHECKING:
    from pulumi.automation import events

# What the Pulumi program reads (Pulumi.yaml's runtime loads __main__.py, which imports infra/ and builds apps/),
# and the policy pack the preview and the update run.
PROGRAM_DIRECTORIES = ("infra", "policy", "apps")
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt")
# The parts of Pulumi.<stack>.yaml the program reads; the CLI itself may add `encryptionsalt` or `encryptedkey`
# during a preview (getAndSaveSecretsManager, when the backend has the stack and the file has none).
STACK_FILE_KEYS = ("config", "environment")
STACK_TYPE = "pulumi:pulumi:Stack"
_SHOWN = 3  # differences named in the refusal; the rest are counted


class Step(NamedTuple):
    op: str
    urn: str
    type: str
    diffs: tuple[str, ...]
    values: str  # sha256 of the detailed diff and the inputs of the changed properties

    @property
    def what(self) -> tuple[str, str, str, tuple[str, ...]]:
        """The step without its values: what the refusal names."""
        return self.op, self.urn, self.type, self.diffs

    def __str__(self) -> str:
        name = self.urn.rsplit("::", 1)[-1]
        changed = f" [{', '.join(self.diffs)}]" if self.diffs else ""
        return f"{self.op} {name} ({self.type}){changed}"


def values_digest(meta: "events.StepEventMetadata", generated: Mapping[str, str] | None = None) -> str:
    """sha256 of what the step sets: its detailed diff and the old and new inputs of the properties it changes, with
    each generated name (`generated`: name -> placeholder) replaced by its placeholder."""
    old = (meta.old.inputs if meta.old is not None else None) or {}
    new = (meta.new.inputs if meta.new is not None else None) or {}
    names = meta.diffs or (list(new) if meta.old is None else [])
    detailed = {path: [d.diff_kind.value, d.input_diff] for path, d in (meta.detailed_diff or {}).items()}
    content = {
        "detailed_diff": detailed,
        "old": {name: old.get(name) for name in names},
        "new": {name: new.get(name) for name in names},
    }
    text = json.dumps(content, sort_keys=True, default=str)
    for name, placeholder in sorted((generated or {}).items(), key=lambda item: -len(item[0])):
        text = text.replace(name, placeholder)
    return hashlib.sha256(text.encode()).hexdigest()


GETS_A_NEW_NAME = ("create", "create-replacement", "replace")
# pulumi-terraform-bridge and pulumi-kubernetes autonames: resource.NewUniqueName(seed, name + "-", 7 or 8, …), the
# prefix cut short when the provider's maximum length requires it.
_AUTONAME = re.compile(r"^(?P<prefix>[A-Za-z0-9._-]+)-[a-z0-9]{7,8}$")


def generated_names(planned: Iterable["events.StepEventMetadata"]) -> dict[str, str]:
    """Every string a created or replaced resource's new inputs hold that is its own name plus a random suffix, mapped
    to a placeholder naming the resource."""
    found: dict[str, str] = {}
    for meta in planned:
        if meta.op.value not in GETS_A_NEW_NAME or meta.new is None:
            continue
        name = meta.urn.rsplit("::", 1)[-1]
        for value in _strings(meta.new.inputs or {}):
            match = _AUTONAME.match(value)
            if match and name.startswith(match.group("prefix")):
                found[value] = f"<name generated for {name}>"
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _internal(meta: "events.StepEventMetadata") -> bool:
    """Steps the engine leaves out of its summary (pkg/engine/update.go isInternalStep): default providers, and
    removing a pending replacement."""
    name = meta.urn.rsplit("::", 1)[-1]
    default_provider = meta.type.startswith("pulumi:providers:") and name.startswith("default")
    return meta.op.value == "remove-pending-replace" or default_provider


@dataclass
class StepRecorder:
    """`on_event` for Stack.preview: every step that changes something, as the engine planned it; how many of them
    the engine's summary should count, by op; whether the stack's outputs change."""

    planned: list["events.StepEventMetadata"] = field(default_factory=list)
    counted: Counter[str] = field(default_factory=Counter)
    outputs_change: bool = False

    @property
    def steps(self) -> set[Step]:
        """The planned steps, their values digested once the whole preview is in (a generated name may first appear
        in a step before the one that creates it)."""
        generated = generated_names(self.planned)
        return {
            Step(meta.op.value, meta.urn, meta.type, tuple(sorted(meta.diffs or ())), values_digest(meta, generated))
            for meta in self.planned
        }

    def on_event(self, event: "events.EngineEvent") -> None:
        outputs = event.res_outputs_event
        if outputs is not None and outputs.metadata.type == STACK_TYPE:
            meta = outputs.metadata
            before, after = (state.outputs if state is not None else None for state in (meta.old, meta.new))
            self.outputs_change = self.outputs_change or (before or {}) != (after or {})
        started = event.resource_pre_event
        if started is None or started.metadata.op.value in UNCHANGED:
            return
        meta = started.metadata
        self.planned.append(meta)
        if meta.logical and not _internal(meta):  # the summary counts logical steps only (no create-replacement)
            self.counted[meta.op.value] += 1

    def unread(self, change_summary: Mapping[str, int]) -> str | None:
        """None when every step the preview's summary counts arrived as an event; else which counts differ (the
        Automation API drops, with a warning, events it cannot parse)."""
        summary = {op: n for op, n in change_summary.items() if op not in UNCHANGED and n}
        if summary == dict(+self.counted):
            return None
        ops = sorted(summary.keys() | self.counted.keys())
        return ", ".join(
            f"{op} {summary.get(op, 0)} counted, {self.counted[op]} seen"
            for op in ops
            if summary.get(op, 0) != self.counted[op]
        )


def changes_something(change_summary: Mapping[str, int], recorder: StepRecorder) -> bool:
    """Whether an update after this preview would do anything: a step that is not `same`, or new stack outputs."""
    return recorder.outputs_change or any(n for op, n in change_summary.items() if op not in UNCHANGED)


def _stack_file_digest(path: Path) -> str:
    """sha256 of the stack file's `config:` and `environment:`, not of its bytes (see STACK_FILE_KEYS)."""
    raw = path.read_bytes()
    try:
        parsed: Any = yaml.safe_load(raw)
    except yaml.YAMLError:  # pulumi will refuse it too; any edit still counts
        return hashlib.sha256(raw).hexdigest()
    parts = {key: parsed.get(key) for key in STACK_FILE_KEYS} if isinstance(parsed, dict) else parsed
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint(stack_name: str, root: Path) -> dict[str, str]:
    """sha256 of each file of the program and of the stack's config, by path relative to root."""
    paths = [root / name for name in PROGRAM_FILES]
    for directory in PROGRAM_DIRECTORIES:
        paths += sorted(p for p in (root / directory).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    hashes = {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() for path in paths if path.is_file()
    }
    stack_file = root / f"Pulumi.{stack_name}.yaml"
    if stack_file.is_file():
        hashes[stack_file.name] = _stack_file_digest(stack_file)
    return hashes


@dataclass(frozen=True)
class Confirmed:
    steps: frozenset[Step]
    inputs: dict[str, str]

    def changed_inputs(self, now: dict[str, str]) -> list[str]:
        return sorted(path for path in self.inputs.keys() | now.keys() if self.inputs.get(path) != now.get(path))

    def departures(self, now: Iterable[Step]) -> str | None:
        """None when `now` is the confirmed set of steps; else the differences, in one line."""
        current = frozenset(now)
        new, old = current - self.steps, self.steps - current
        revalued_steps = {step.what for step in new} & {step.what for step in old}  # only the values moved
        revalued = sorted(step for step in new if step.what in revalued_steps)
        added = sorted(step for step in new if step.what not in revalued_steps)
        gone = sorted(step for step in old if step.what not in revalued_steps)
        parts = [
            f"other values for {_listed(revalued)}" if revalued else "",
            f"now {_listed(added)}" if added else "",
            f"no longer {_listed(gone)}" if gone else "",
        ]
        return "; ".join(part for part in parts if part) or None


def _listed(steps: list[Step]) -> str:
    shown = ", ".join(str(step) for step in steps[:_SHOWN])
    return shown + (f" and {len(steps) - _SHOWN} more" if len(steps) > _SHOWN else "")
