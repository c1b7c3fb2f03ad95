"""The tagging function components are given: `StackConfig.tags` (contract.resource_tags for the stack)."""

from __future__ import annotations

from typing import Protocol


class Tagger(Protocol):
    def __call__(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """`Name: <cluster>-<name>`, the project and stack tags, and `extra`."""
        ...
