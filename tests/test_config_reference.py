"""docs/config.md, the config reference generated from the schema: current, complete, and saying what the checks do.

Expected values are the spec's: AWS limits (EKS and RDS need two AZs; RDS backups 1..35 days; RDS gp3 PostgreSQL
storage 20..65536 GiB), EKS's capacity types, the project's NAT layouts.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from harness import ROOT, run_program, with_changes

from infra.config import ConfigError, StackConfig
from infra.config.schema import OneOf, Range, key_doc
from tools import config_reference

REFERENCE = ROOT / "docs" / "config.md"
ROW = re.compile(r"^\| `([^`]+)` \|(.*)\|$")


def documented_rows(text: str) -> dict[str, dict[str, str]]:
    """Each table row of the reference by key: its type, default, allowed and doc cells."""
    rows = {}
    for line in text.splitlines():
        if m := ROW.match(line):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", m.group(2))]
            rows[m.group(1)] = dict(zip(("type", "default", "allowed", "doc"), cells, strict=True))
    return rows


ROWS = documented_rows(REFERENCE.read_text())


def test_checked_in_reference_is_what_the_schema_says() -> None:
    assert REFERENCE.read_text() == config_reference.render(), (
        "docs/config.md is stale: run venv/bin/python tools/config_reference.py"
    )


def test_check_flag_fails_on_a_stale_file_with_a_one_line_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "docs" / "config.md"
    stale.parent.mkdir()
    stale.write_text(config_reference.render().replace("`2`", "`3`", 1))
    monkeypatch.setattr(config_reference, "ROOT", tmp_path)
    monkeypatch.setattr(config_reference, "REFERENCE", stale)
    assert config_reference.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("docs/config.md is stale"), err
    assert "venv/bin/python tools/config_reference.py" in err

    assert config_reference.main([]) == 0  # rewrites it
    assert config_reference.main(["--check"]) == 0


def _camel(name: str) -> str:
    return re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)


def _object_type(tp: Any) -> type | None:
    return next((t for t in (tp, *typing.get_args(tp)) if isinstance(t, type) and dataclasses.is_dataclass(t)), None)


def schema_keys(cls: type, prefix: str) -> list[str]:
    """Every field of `cls` and of the objects inside it, as the user writes the key."""
    keys = []
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{_camel(f.name)}"
        keys.append(key)
        inner = _object_type(typing.get_type_hints(cls)[f.name])
        if inner:
            keys += schema_keys(inner, key)
    return keys


def test_every_field_of_every_section_is_documented() -> None:
    hints = typing.get_type_hints(StackConfig)
    sections = {f.name: _object_type(hints[f.name]) for f in dataclasses.fields(StackConfig)}
    expected = [
        key for name, cls in sections.items() if cls is not None for key in schema_keys(cls, f"infra:{_camel(name)}")
    ]
    assert {"infra:cluster.nodes.desired", "infra:database.restoreFrom.pointInTime.time"} <= set(expected)
    assert sorted(set(ROWS) - {"aws:region", "infra:dockerhubToken"}) == sorted(expected)
    assert all(ROWS[key]["doc"] != "—" for key in ROWS), "every key has a doc"


def test_stack_wide_keys_and_the_secret() -> None:
    assert ROWS["aws:region"]["default"] == "required"
    assert "--secret" in ROWS["infra:dockerhubToken"]["type"]
    intro = " ".join(REFERENCE.read_text().split("\n## ")[0].split())
    assert "pulumi config set --path 'cluster.nodes.desired' 3 -s foo" in intro
    assert "pulumi config set --secret dockerhubToken" in intro
    assert "validated before anything is created" in intro


@pytest.mark.parametrize(
    ("key", "default", "allowed"),
    [
        ("infra:network.azCount", "`2`", "2..6 (EKS and RDS need subnets in two AZs)"),
        ("infra:network.natGateways", '`"single"`', "'single', 'one-per-az'"),
        ("infra:database.backupRetentionDays", "`7`", "1..35"),
        ("infra:database.storageGb", "`20`", "20..65536 (gp3 minimum is 20)"),
        ("infra:cluster.nodes.capacityType", '`"ON_DEMAND"`', "'ON_DEMAND', 'SPOT'"),
        ("infra:cluster.nodes.instanceTypes", '`["t3.medium"]`', "a non-empty list such as ['t3.medium']"),
        ("infra:database.engineVersion", '`"18"`', "a major, optionally with a minor: '18' or '18.1'"),
        ("infra:dns.name", "unset", "one lowercase DNS label"),
    ],
)
def test_documented_default_and_allowed_values(key: str, default: str, allowed: str) -> None:
    assert (ROWS[key]["default"], ROWS[key]["allowed"]) == (default, allowed)


# A value each schema-checked key refuses (AWS's and the project's limits), one per key.
REFUSED: dict[str, Any] = {
    "infra:network.azCount": 7,
    "infra:network.natGateways": "many",
    "infra:network.subnetLayout": "by-size",
    "infra:cluster.supportType": "extended",
    "infra:cluster.logRetentionDays": 2,  # CloudWatch takes 1, 3, 5, 7, ...
    "infra:cluster.nodes.capacityType": "spot",
    "infra:cluster.nodes.diskSizeGb": 19,
    "infra:cluster.nodes.min": 0,
    "infra:helloworld.replicas": 51,
    "infra:helloworld.workload": "Pod",
    "infra:helloworld.registry": "quay",
    "infra:helloworld.updatePeriodSeconds": 601,
    "infra:database.supportType": "extended",
    "infra:database.storageGb": 65537,
    "infra:database.backupRetentionDays": 0,
    "infra:database.logRetentionDays": 4,
    "infra:dns.weight": 256,
}


def schema_checked_keys(cls: type, prefix: str) -> set[str]:
    found = set()
    for f in dataclasses.fields(cls):
        doc = key_doc(f)
        if doc and isinstance(doc.allowed, Range | OneOf):
            found.add(f"{prefix}.{_camel(f.name)}")
        inner = _object_type(typing.get_type_hints(cls)[f.name])
        if inner:
            found |= schema_checked_keys(inner, f"{prefix}.{_camel(f.name)}")
    return found


def test_every_schema_checked_key_has_a_refused_value_below() -> None:
    hints = typing.get_type_hints(StackConfig)
    checked: set[str] = set()
    for f in dataclasses.fields(StackConfig):
        if (cls := _object_type(hints[f.name])) is not None:
            checked |= schema_checked_keys(cls, f"infra:{_camel(f.name)}")
    assert checked == set(REFUSED)


@pytest.mark.parametrize(("key", "value"), REFUSED.items())
def test_the_refusal_says_what_the_reference_says(key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        run_program(with_changes({key: value}))
    assert f"{key}: {value!r} — allowed: {ROWS[key]['allowed']}" in info.value.problems
