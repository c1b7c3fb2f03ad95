"""The reviewed snapshot: each stack's resource graph under mocks equals tests/snapshots/<stack>.json.

Any change to what the program would manage (a resource, an input, a parent, a dependency, an output) shows up
here as a readable diff. Review it, then regenerate with `make snapshot STACK=<stack>` and commit the JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `venv/bin/pytest` does not put the repo (tools/, infra/) on sys.path
    sys.path.insert(0, str(ROOT))

from pulumi.runtime import rpc  # noqa: E402

from tools import snapshot  # noqa: E402

STACKS = sorted(set(snapshot.snapshotted_stacks()) | {"foo"})


def _label(stack: str) -> str:
    return str(snapshot.snapshot_path(stack).relative_to(ROOT))


@pytest.mark.parametrize("stack", STACKS)
def test_graph_matches_reviewed_snapshot(stack: str) -> None:
    fix = f"review the change, then `{snapshot.regenerate_command(stack)}`"
    if stack not in snapshot.stack_files():
        pytest.fail(f"{_label(stack)} has no Pulumi.{stack}.yaml: delete the stale snapshot", pytrace=False)
    committed = snapshot.load(stack)
    if committed is None:
        pytest.fail(f"no reviewed snapshot {_label(stack)} yet: {fix}", pytrace=False)
    current_text = snapshot.graph_text(stack)
    committed_text = snapshot.snapshot_path(stack).read_text()
    if current_text == committed_text:
        return
    summary = snapshot.changes(committed, snapshot.graph(stack)).lines() or ["  (formatting only)"]
    pytest.fail(
        f"stack {stack}: the resource graph differs from {_label(stack)}:\n"
        + "\n".join(summary)
        + "\n\n"
        + snapshot.unified_diff(committed_text, current_text, _label(stack))
        + f"\n\n{fix}",
        pytrace=False,
    )


def test_snapshot_is_stable_and_holds_no_secret_values() -> None:
    """Secrets are redacted (the mocks' ECR password and the placeholder of a `secure:` value never appear), no
    mock id leaks in through provider references, and the JSON is already in its canonical form."""
    text = snapshot.graph_text("foo")
    for leaked in ("ecr-token", "secret-placeholder", "1b47061264138c4ac30d75fd1eb44270", "cluster-k8s-id"):
        assert leaked not in text
    current = snapshot.graph("foo")
    assert snapshot.dumps(current) == text
    provider = next(r for r in current["resources"] if r["type"] == "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == snapshot.SECRET
    assert current["outputs"]["kubeconfig"] == snapshot.SECRET
    namespaced = [r for r in current["resources"] if r["type"].startswith("kubernetes:")]
    assert namespaced and {r["provider"] for r in namespaced} == {provider["urn"]}


def test_redact() -> None:
    secret = rpc.wrap_rpc_secret({"password": "hunter2"})
    assert snapshot.redact({"a": [1.0, 2.5, secret], "b": {"c": True, "d": None}}) == {
        "a": [1, 2.5, snapshot.SECRET],
        "b": {"c": True, "d": None},
    }
    assert snapshot.redact(object()) == "[object]"
    urn = "urn:pulumi:foo::infra::infra:index:Cluster$pulumi:providers:kubernetes::cluster-k8s"
    assert snapshot.provider_urn(f"{urn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9") == urn
    assert snapshot.provider_urn(urn) == urn
    assert snapshot.provider_urn("") == ""


def test_diff_is_limited_and_names_both_sides() -> None:
    old = "\n".join(f"line {i}" for i in range(1000))
    new = "\n".join(f"line {i}!" for i in range(1000))
    diff = snapshot.unified_diff(old, new, "tests/snapshots/foo.json", max_lines=20)
    lines = diff.splitlines()
    assert len(lines) == 21 and lines[-1].endswith("more diff lines")
    assert "(committed)" in lines[0] and "(current program)" in lines[1]
