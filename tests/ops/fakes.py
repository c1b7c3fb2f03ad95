"""Test doubles the ops tests share: a clock whose sleeps pass at once, and a kubeconfig for a local API server."""

from __future__ import annotations

from typing import Any

from infra.ops.waiting import Clock


class FakeClock:
    """Sleeps pass instantly and are recorded; time moves only when something sleeps."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    @property
    def clock(self) -> Clock:
        return Clock(self.now, self.sleep)


def kubeconfig(server: str) -> dict[str, Any]:
    """A token kubeconfig for a Kubernetes API server the test runs on loopback."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t0k"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
