"""Node replacement decisions, without a cluster: what to evict, PDB retries, when done."""

from dataclasses import replace

import pytest
from fakes import FakeClock
from hypothesis import given
from hypothesis import strategies as st

from infra.ops.clients.kube_model import Node, Pod, WorkloadRef
from infra.ops.errors import OpsError
from infra.ops.swap_node import drain
from infra.ops.waiting import Backoff, wait_for

APP = Pod("helloworld-1.0.0-abcde", "helloworld", node="n1", owner_kinds=("ReplicationController",))
DNS = Pod("coredns-1", "kube-system", node="n1", owner_kinds=("ReplicaSet",))
PROXY = Pod("kube-proxy-x", "kube-system", node="n1", owner_kinds=("DaemonSet",))
STATIC = Pod("etcd-n1", "kube-system", node="n1", mirror=True, owner_kinds=("Node",))
DONE = Pod("job-1", "batch", node="n1", phase="Succeeded", owner_kinds=("Job",))
BARE = Pod("debug", "default", node="n1")


def test_plan_skips_daemonset_mirror_and_finished_pods_and_evicts_apps_first() -> None:
    plan = drain.plan_evictions([DNS, PROXY, APP, STATIC, DONE, BARE])
    assert plan.evict == [BARE, APP, DNS]  # kube-system last so DNS serves while apps move
    reasons = {pod.name: reason for pod, reason in plan.skipped}
    assert reasons == {
        "kube-proxy-x": "DaemonSet pod (runs on every node)",
        "etcd-n1": "mirror pod (static, owned by the kubelet)",
        "job-1": "already Succeeded",
    }


pods = st.builds(
    Pod,
    name=st.text("abc", min_size=1, max_size=3),
    namespace=st.sampled_from(["default", "kube-system", "helloworld"]),
    phase=st.sampled_from(["Running", "Pending", "Succeeded"]),
    owner_kinds=st.lists(st.sampled_from(["DaemonSet", "ReplicaSet", "ReplicationController"]), max_size=2).map(tuple),
    mirror=st.booleans(),
)


@given(st.lists(pods, max_size=12))
def test_plan_partitions_pods(found: list[Pod]) -> None:
    plan = drain.plan_evictions(found)
    assert sorted(map(repr, plan.evict + [p for p, _ in plan.skipped])) == sorted(map(repr, found))
    assert not any(p.mirror or "DaemonSet" in p.owner_kinds for p in plan.evict)
    system = [p.namespace == "kube-system" for p in plan.evict]
    assert system == sorted(system)


def test_pdb_429_is_retried_with_backoff_then_succeeds() -> None:
    fake = FakeClock()
    answers = {APP.name: ["blocked", "blocked", "evicted"], DNS.name: ["evicted"]}
    calls: list[str] = []

    def evict(pod: Pod) -> str:
        calls.append(pod.name)
        return answers[pod.name].pop(0)

    lines: list[str] = []
    drain.evict_all([APP, DNS], evict, timeout=60, clock=fake.clock, out=lines.append)
    assert calls == [APP.name, DNS.name, APP.name, APP.name]  # only the blocked pod is retried
    assert fake.sleeps == [1.0, 2.0]
    assert "  evicted: helloworld/helloworld-1.0.0-abcde" in lines
    assert any("PodDisruptionBudget (429)" in ln for ln in lines)


def test_pdb_that_never_yields_times_out_with_the_pod_named() -> None:
    fake = FakeClock()
    with pytest.raises(OpsError, match=r"timed out after 20s: a PodDisruptionBudget still blocks .*helloworld-1\.0\.0"):
        drain.evict_all([APP], lambda p: "blocked", timeout=20, clock=fake.clock, out=lambda _: None)
    assert sum(fake.sleeps) == pytest.approx(20)  # 1+2+4+8, then the 5s left, then give up
    assert fake.sleeps[-1] == pytest.approx(5)


def test_backoff_is_capped() -> None:
    delays = Backoff(initial=1, factor=2, maximum=5).delays()
    assert [next(delays) for _ in range(5)] == [1, 2, 4, 5, 5]


def test_drained_waits_for_evictable_pods_only() -> None:
    assert drain.drained([PROXY, STATIC], node_ready=True) == (True, "no evictable pods left")
    done, detail = drain.drained([PROXY, APP], node_ready=True)
    assert not done and "helloworld/helloworld-1.0.0-abcde" in detail


def test_terminating_pods_count_on_a_ready_node_but_not_on_a_not_ready_one() -> None:
    # kubectl drain --skip-wait-for-delete-timeout: no kubelet will confirm the end of these.
    leaving = replace(APP, deleting=True)
    assert drain.drained([leaving], node_ready=True)[0] is False
    assert drain.drained([leaving], node_ready=False) == (True, "no evictable pods left")
    assert drain.drained([APP], node_ready=False)[0] is False  # not even evicted yet


def test_unmanaged_and_emptydir_pods_are_refused_like_kubectl_drain() -> None:
    cache = Pod("cache-0", "helloworld", node="n1", owner_kinds=("StatefulSet",), local_storage=True)
    plan = drain.plan_evictions([APP, BARE, cache, PROXY])
    assert plan.refused == [(BARE, "no controller recreates it"), (cache, "its emptyDir data would be lost")]
    assert drain.refusal_message(plan.refused) == (
        "refusing to evict default/debug (no controller recreates it); "
        "helloworld/cache-0 (its emptyDir data would be lost); "
        "run again with --force to evict them anyway (like kubectl drain --force)"
    )
    # Pods that are not evicted at all are not asked about (kubectl drain --ignore-daemonsets does the same).
    assert drain.plan_evictions([APP, DNS, replace(PROXY, local_storage=True), STATIC]).refused == []


def test_replacement_waits_for_old_node_gone_and_desired_ready() -> None:
    old = Node("n1", ready=False)
    new = Node("n3", ready=True)
    other = Node("n2", ready=True)
    assert drain.replacement_progress([old, other], "n1", 2) == (False, "1/2 Ready, old node n1 still registered")
    assert drain.replacement_progress([old, other, new], "n1", 2)[0] is False  # old still there
    assert drain.replacement_progress([other, Node("n3", ready=False)], "n1", 2) == (False, "1/2 Ready")
    assert drain.replacement_progress([other, new], "n1", 2) == (True, "2/2 Ready")


def test_find_node_by_name_or_instance_id() -> None:
    nodes = [Node("ip-10-0-1-5.ec2.internal", True, provider_id="aws:///us-west-2a/i-0abc")]
    assert drain.find_node(nodes, "i-0abc") is nodes[0]
    assert drain.find_node(nodes, "ip-10-0-1-5.ec2.internal") is nodes[0]
    with pytest.raises(OpsError, match="node 'nope' not found"):
        drain.find_node(nodes, "nope")


def test_spare_capacity_ignores_the_leaving_cordoned_and_not_ready() -> None:
    nodes = [Node("a", True), Node("b", True, unschedulable=True), Node("c", False), Node("d", True)]
    assert drain.spare_capacity(nodes, "a") == 1
    assert drain.ready_spares(nodes, "a") == (True, "1 other Ready node(s)")
    assert drain.ready_spares(nodes[:3], "a") == (False, "0 other Ready node(s)")


def test_wait_for_reports_progress_and_times_out() -> None:
    fake = FakeClock()
    states = iter([(False, "1/2 Ready"), (False, "1/2 Ready"), (True, "2/2 Ready")])
    lines: list[str] = []
    assert wait_for("nodes", lambda: next(states), timeout=60, interval=10, clock=fake.clock, out=lines.append) == (
        "2/2 Ready"
    )
    assert lines == ["  waiting for nodes: 1/2 Ready (60s left)", "  nodes: 2/2 Ready"]  # unchanged detail not repeated

    def flaky() -> tuple[bool, str]:
        raise ConnectionResetError("peer reset")

    with pytest.raises(OpsError, match="timed out after 30s waiting for api: ConnectionResetError: peer reset"):
        wait_for("api", flaky, timeout=30, interval=10, clock=fake.clock, out=lambda _: None)


def test_serving_pods_are_the_workloads_ready_pods_not_being_deleted() -> None:
    rc, deployment = WorkloadRef("rc", "helloworld-1.0.0"), WorkloadRef("deployment", "helloworld")
    deployed = Pod("helloworld-5d9c7-x2x4q", "helloworld", node="n2", owner_kinds=("ReplicaSet",))
    login_job = Pod("helloworld-dblogin-1a2b3c4d-q7x2k", "helloworld", node="n2", owner_kinds=("Job",))
    other_rc = Pod("helloworld-0.9.0-zzzzz", "helloworld", node="n2", owner_kinds=("ReplicationController",))
    pods = [
        replace(APP, name="helloworld-1.0.0-b"),
        APP,
        replace(APP, name="helloworld-1.0.0-c", ready=False),  # not ready yet: kube-proxy does not count it
        replace(APP, name="helloworld-1.0.0-d", deleting=True),  # terminating: nor this one
        replace(APP, namespace="other"),
        deployed,
        login_job,
        other_rc,
    ]
    assert drain.serving_pods(pods, "helloworld", rc) == [APP, replace(APP, name="helloworld-1.0.0-b")]
    assert drain.serving_pods(pods, "helloworld", deployment) == [deployed]
