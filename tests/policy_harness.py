"""The policy pack as the Pulumi engine loads it: `policy/__main__.py` run with runpy on the directory, its gRPC
server and its serve-forever sleep stubbed, so a test gets the analyzer servicer the engine would talk to."""

from __future__ import annotations

import runpy
import sys
from types import SimpleNamespace
from typing import Any

import pulumi_policy.policy
import pytest

from tools.offline.runner import ROOT


class _NoServer:
    def add_insecure_port(self, address: str) -> int:
        return 0

    def start(self) -> None:
        pass

    def stop(self, grace: float | None) -> None:
        pass


def _interrupt(seconds: float) -> None:
    raise KeyboardInterrupt  # PolicyPack serves until interrupted; stop at once


def run_policy_pack() -> Any:
    """The one analyzer servicer policy/__main__.py registers; every patch is undone before it returns."""
    servicers: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "path", [*sys.path])  # __main__ puts the project root on it
        patch.setattr(pulumi_policy.policy, "grpc", SimpleNamespace(server=lambda *a, **k: _NoServer()))
        patch.setattr(pulumi_policy.policy, "time", SimpleNamespace(sleep=_interrupt))
        patch.setattr(
            pulumi_policy.policy,
            "analyzer_pb2_grpc",
            SimpleNamespace(add_AnalyzerServicer_to_server=lambda servicer, server: servicers.append(servicer)),
        )
        runpy.run_path(str(ROOT / "policy"), run_name="__main__")
    assert len(servicers) == 1, f"policy/__main__.py registered {len(servicers)} analyzers, not one"
    return servicers[0]
