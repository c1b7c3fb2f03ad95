"""Shared fixtures: the foo stack run once per session under mocks (runs are deterministic and read-only)."""

from __future__ import annotations

import pytest
from harness import Run, run_program, stack_config


@pytest.fixture(scope="session")
def foo() -> Run:
    return run_program(stack_config("foo"))
