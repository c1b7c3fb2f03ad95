"""swap-node's lock: one run at a time per cluster, so two runs cannot take both nodes out of the ELB.

A coordination.k8s.io Lease, kube-system/infra-swap-node, names the holder (user@host pid N) and
its start. Creating it is atomic: of two runs started together, the API server lets one create
it and answers the other 409. Released on every way out but SIGKILL, and only while it is still
this run's (the delete names its uid); `--break-lock` clears one whose holder is gone.
"""

import contextlib
import getpass
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from infra.ops.errors import OpsError, one_line
from infra.ops.kube_model import Lease

NAMESPACE, NAME = "kube-system", "infra-swap-node"
LEASE = f"Lease {NAMESPACE}/{NAME}"


class Leases(Protocol):
    """kube.Kube's lease calls."""

    def create_lease(self, namespace: str, name: str, holder: str, acquired: datetime) -> str | None: ...

    def read_lease(self, namespace: str, name: str) -> Lease | None: ...

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


@dataclass(frozen=True)
class SwapLock:
    kube: Leases
    cluster: str
    holder: str
    wall: Callable[[], datetime]
    say: Callable[[str], None]

    @contextlib.contextmanager
    def held(self, *, break_lock: bool) -> Iterator[None]:
        uid = self._take(break_lock=break_lock)
        try:
            yield
        finally:
            try:
                if not self.kube.delete_lease(NAMESPACE, NAME, uid):
                    self.say(f"the lock {LEASE} was no longer this run's (broken with --break-lock?): left as it is")
            except BaseException as err:  # a second Ctrl-C too: the first error is the one to report
                self.say(f"could not release the lock {LEASE} ({one_line(err)}); the next swap-node needs --break-lock")

    def _take(self, *, break_lock: bool) -> str:
        for _ in range(2):  # a second try when the holder released it between our create and our read
            uid = self.kube.create_lease(NAMESPACE, NAME, self.holder, self.wall())
            if uid is not None:
                return uid
            held = self.kube.read_lease(NAMESPACE, NAME)
            if held is None:
                continue
            since = self._since(held)
            if not break_lock:
                raise OpsError(
                    f"another swap-node is running on cluster {self.cluster}: {held.holder}, {since} ({LEASE}). "
                    "If that process is gone (killed, machine lost), check that its node is uncordoned and "
                    "unlabelled, then run again with --break-lock"
                )
            self.say(f"breaking the lock held by {held.holder}, {since}")
            self.kube.delete_lease(NAMESPACE, NAME, held.uid)
        raise OpsError(f"the lock {LEASE} keeps changing hands; run again")

    def _since(self, lease: Lease) -> str:
        if lease.acquired is None:
            return "since an unknown time"
        seconds = max(0, int((self.wall() - lease.acquired).total_seconds()))
        hours, rest = divmod(seconds, 3600)
        age = f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
        return f"since {lease.acquired.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({age} ago)"
