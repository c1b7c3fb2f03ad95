"""swap-node's lock: one run at a time per cluster, so two runs cannot take both nodes out of the ELB.

A coordination.k8s.io Lease, kube-system/infra-swap-node, names the holder (user@host pid N) and
its start; its annotations say which node the run swaps and, once it grows the node group, the sizes
to give back, so whoever meets a stale lock gets the commands that undo that run. Creating it is
atomic: of two runs started together, the API server lets one create it and answers the other 409.
Released on every way out but SIGKILL, and only while it is still this run's (the delete names its uid);
`--break-lock` clears one whose holder is gone.
"""

import contextlib
import getpass
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from infra.ops.clients.kube_model import EXCLUDE_FROM_LB_LABEL, Lease
from infra.ops.errors import OpsError, one_line
from infra.ops.limits import SWAP_LOCK_NAME, SWAP_LOCK_NAMESPACE

NAMESPACE, NAME = SWAP_LOCK_NAMESPACE, SWAP_LOCK_NAME
LEASE = f"Lease {NAMESPACE}/{NAME}"
NODE_NOTE = "infra.ops/node"  # the node the holder swaps
SIZES_NOTE = "infra.ops/original-sizes"  # set before it grows the node group: `--scaling-config ...` to restore


class Leases(Protocol):
    """kube.Kube's lease calls."""

    def create_lease(self, namespace: str, name: str, holder: str, acquired: datetime) -> str | None: ...

    def read_lease(self, namespace: str, name: str) -> tuple[Lease, dict[str, str]] | None: ...

    def annotate_lease(self, namespace: str, name: str, uid: str, annotations: Mapping[str, str]) -> None: ...

    def delete_lease(self, namespace: str, name: str, uid: str) -> bool: ...


def this_process() -> str:
    """Who holds the lock: user@host pid N (enough to find the process, or to know it is gone)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (containers)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def nodegroup_sizes_command(cluster: str, nodegroup: str, scaling_args: str) -> str:
    return f"aws eks update-nodegroup-config --cluster-name {cluster} --nodegroup-name {nodegroup} {scaling_args}"


def undo_commands(cluster: str, nodegroup: str, notes: Mapping[str, str]) -> str:
    """What undoes a run that died holding the lock, from what it noted (its own undo never ran)."""
    node, sizes = notes.get(NODE_NOTE), notes.get(SIZES_NOTE)
    if node is None:
        return "check that its node is uncordoned and unlabelled"
    undo = (
        f"undo what it may have left on {node} (unless you cordoned or labelled it yourself): "
        f"`kubectl uncordon {node}`, `kubectl label node {node} {EXCLUDE_FROM_LB_LABEL}-`"
    )
    if sizes:
        undo += f"; it grew the node group: `{nodegroup_sizes_command(cluster, nodegroup, sizes)}`"
    return undo


@dataclass(frozen=True)
class SwapLock:
    kube: Leases
    cluster: str
    nodegroup: str
    holder: str
    wall: Callable[[], datetime]
    say: Callable[[str], None]

    @contextlib.contextmanager
    def held(self, *, break_lock: bool) -> Iterator["HeldLock"]:
        """Yields the lock, with what a lock broken on the way in had noted (empty when none was broken)."""
        uid, broken = self._take(break_lock=break_lock)
        try:
            yield HeldLock(self, uid, broken)
        finally:
            try:
                if not self.kube.delete_lease(NAMESPACE, NAME, uid):
                    self.say(f"the lock {LEASE} was no longer this run's (broken with --break-lock?): left as it is")
            except BaseException as err:  # a second Ctrl-C too: the first error is the one to report
                self.say(f"could not release the lock {LEASE} ({one_line(err)}); the next swap-node needs --break-lock")

    def _take(self, *, break_lock: bool) -> tuple[str, dict[str, str]]:
        broken: dict[str, str] = {}
        for _ in range(2):  # a second try when the holder released it between our create and our read
            uid = self.kube.create_lease(NAMESPACE, NAME, self.holder, self.wall())
            if uid is not None:
                return uid, broken
            found = self.kube.read_lease(NAMESPACE, NAME)
            if found is None:
                continue
            held, notes = found
            since = self._since(held)
            undo = undo_commands(self.cluster, self.nodegroup, notes)
            if not break_lock:
                raise OpsError(
                    f"another swap-node is running on cluster {self.cluster}: {held.holder}, {since} ({LEASE}). "
                    f"If that process is gone (killed, machine lost), {undo}; then run again with --break-lock"
                )
            self.say(f"breaking the lock held by {held.holder}, {since}; if it stopped without its undo, {undo}")
            self.kube.delete_lease(NAMESPACE, NAME, held.uid)
            broken = notes
        raise OpsError(f"the lock {LEASE} keeps changing hands; run again")

    def _since(self, lease: Lease) -> str:
        if lease.acquired is None:
            return "since an unknown time"
        seconds = max(0, int((self.wall() - lease.acquired).total_seconds()))
        hours, rest = divmod(seconds, 3600)
        age = f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
        return f"since {lease.acquired.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({age} ago)"


@dataclass(frozen=True)
class HeldLock:
    lock: SwapLock
    uid: str
    broken_notes: dict[str, str]  # what the lock broken with --break-lock had noted

    def note(self, annotations: Mapping[str, str]) -> None:
        """Write down what a run that dies without its undo leaves behind (the next run's refusal prints it)."""
        self.lock.kube.annotate_lease(NAMESPACE, NAME, self.uid, annotations)
