"""The reviewed snapshot: each stack's resource graph under mocks equals tests/snapshots/<stack>.json.

Any change to what the program would manage (a resource, an input, a parent, a dependency, an output) shows up
here as a readable diff. Review it, then regenerate with `make reviewed-graph STACK=<stack>` and commit the JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from harness import with_changes

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `venv/bin/pytest` does not put the repo (tools/, infra/) on sys.path
    sys.path.insert(0, str(ROOT))

from pulumi.runtime import rpc  # noqa: E402

from tools import reviewed_graph  # noqa: E402

# foo (ephemeral) and prod (durable: protect and deletion protection) are both guarded; a snapshot with no stack
# file left is reported as stale.
STACKS = sorted({"foo", "prod"} | set(reviewed_graph.snapshotted_stacks()))


def _label(stack: str) -> str:
    return str(reviewed_graph.snapshot_path(stack).relative_to(ROOT))


@pytest.mark.parametrize("stack", STACKS)
def test_graph_matches_reviewed_snapshot(stack: str) -> None:
    fix = f"review the change, then `{reviewed_graph.regenerate_command(stack)}`"
    if stack not in reviewed_graph.stack_files():
        pytest.fail(f"{_label(stack)} has no Pulumi.{stack}.yaml: delete the stale snapshot", pytrace=False)
    committed = reviewed_graph.load(stack)
    if committed is None:
        pytest.fail(f"no reviewed snapshot {_label(stack)} yet: {fix}", pytrace=False)
    current_text = reviewed_graph.graph_text(stack)
    committed_text = reviewed_graph.snapshot_path(stack).read_text()
    if current_text == committed_text:
        return
    summary = reviewed_graph.changes(committed, reviewed_graph.graph(stack)).lines() or ["  (formatting only)"]
    pytest.fail(
        f"stack {stack}: the resource graph differs from {_label(stack)}:\n"
        + "\n".join(summary)
        + "\n\n"
        + reviewed_graph.unified_diff(committed_text, current_text, _label(stack))
        + f"\n\n{fix}",
        pytrace=False,
    )


def resource(snap: dict[str, Any], typ: str) -> dict[str, Any]:
    [found] = [r for r in snap["resources"] if r["type"] == typ]
    return found


def test_a_fresh_run_gives_the_same_bytes() -> None:
    """Registration order is asynchronous: the tool must sort, or every run would differ from the snapshot."""
    assert reviewed_graph.dumps(reviewed_graph.capture("foo")) == reviewed_graph.graph_text("foo")


def test_a_config_change_shows_up_as_a_named_diff() -> None:
    """A reviewer relies on the summary line and on the hunk naming the resource that changed."""
    changed = reviewed_graph.capture("foo", with_changes({"infra:cluster.nodes.desired": 3}))
    assert reviewed_graph.changes(reviewed_graph.graph("foo"), changed).lines() == [
        "  ~ aws:eks/nodeGroup:NodeGroup cluster-nodes"
    ]
    diff = reviewed_graph.unified_diff(
        reviewed_graph.graph_text("foo"), reviewed_graph.dumps(changed), "tests/snapshots/foo.json"
    )
    hunks = [line for line in diff.splitlines() if line.startswith("@@")]
    assert len(hunks) == 1 and hunks[0].endswith(" @@ aws:eks/nodeGroup:NodeGroup cluster-nodes"), diff
    assert [line for line in diff.splitlines()[2:] if line[:1] in "+-"] == [
        '-     "desiredSize": 2,',
        '+     "desiredSize": 3,',
    ]


def test_secrets_are_rendered_as_secret() -> None:
    """Each secret value the program handles is `[secret]` in the snapshot, and its plain value appears nowhere:
    the ECR password (foo), a `secure:` config value (dockerhubToken), the kubeconfig and the database Secret."""
    foo_text = reviewed_graph.graph_text("foo")
    config = with_changes(
        {
            "infra:helloworld.registry": "dockerhub",
            "infra:helloworld.dockerhubUsername": "someone",
            "infra:dockerhubToken": {"secure": "v1:token"},
        }
    )
    dockerhub = reviewed_graph.capture("foo", config)
    dockerhub_text = reviewed_graph.dumps(dockerhub)
    assert "ecr-token" not in foo_text and "secret-placeholder" not in dockerhub_text
    for snap in (reviewed_graph.graph("foo"), dockerhub):
        assert resource(snap, "docker:index/image:Image")["inputs"]["registry"] == "[secret]"
        assert resource(snap, "kubernetes:core/v1:Secret")["inputs"]["stringData"] == "[secret]"
        provider = resource(snap, "pulumi:providers:kubernetes")
        assert provider["inputs"]["kubeconfig"] == "[secret]"
        assert snap["outputs"]["kubeconfig"] == "[secret]"
        # Provider references keep the URN only: the mock's id would change with every mock change.
        namespaced = [r for r in snap["resources"] if r["type"].startswith("kubernetes:")]
        assert namespaced and {r["provider"] for r in namespaced} == {provider["urn"]}
    for leaked in ("1b47061264138c4ac30d75fd1eb44270", "cluster-k8s-id"):
        assert leaked not in foo_text


def test_redact() -> None:
    secret = rpc.wrap_rpc_secret({"password": "hunter2"})
    assert reviewed_graph.redact({"a": [1.0, 2.5, secret], "b": {"c": True, "d": None}}) == {
        "a": [1, 2.5, "[secret]"],
        "b": {"c": True, "d": None},
    }
    assert reviewed_graph.redact(object()) == "[object]"
    urn = "urn:pulumi:foo::infra::infra:index:Cluster$pulumi:providers:kubernetes::cluster-k8s"
    assert reviewed_graph.provider_urn(f"{urn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9") == urn
    assert reviewed_graph.provider_urn(urn) == urn
    assert reviewed_graph.provider_urn("") == ""


def test_diff_is_limited_and_names_both_sides() -> None:
    old = "\n".join(f"line {i}" for i in range(1000))
    new = "\n".join(f"line {i}!" for i in range(1000))
    diff = reviewed_graph.unified_diff(old, new, "tests/snapshots/foo.json", max_lines=20)
    lines = diff.splitlines()
    assert len(lines) == 21 and lines[-1].endswith("more diff lines")
    assert "(committed)" in lines[0] and "(current program)" in lines[1]
