"""Which resources the update is changing at this moment, from the engine's events (read on the probe's thread).

A step starts with a ResourcePreEvent and ends with a ResOutputsEvent (custom resources and deletes) or a
ResOpFailedEvent, each carrying the step's op and the resource's URN. Component resources and `same` steps change
nothing in the cloud, so they are not counted as in progress.
"""

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi.automation import events

UNCHANGED = frozenset({"same", "read", "refresh"})  # steps that do not touch the resource


def describe(metadata: "events.StepEventMetadata") -> str:
    """`helloworld-rc (kubernetes:core/v1:ReplicationController delete-replaced)`: the URN's name, type and op."""
    name = metadata.urn.rsplit("::", 1)[-1]
    return f"{name} ({metadata.type} {metadata.op.value})"


def _changes_the_cloud(metadata: "events.StepEventMetadata") -> bool:
    state = metadata.new or metadata.old
    custom = state.custom if state is not None else None
    return metadata.op.value not in UNCHANGED and custom is not False


class ResourcesInProgress:
    """`on_event` for Stack.up; `doing()` for the probe. The events arrive on the Automation API's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], str] = {}  # (urn, op) → description, in the order they started
        self._last: str | None = None

    def on_event(self, event: "events.EngineEvent") -> None:
        started = event.resource_pre_event
        ended = event.res_outputs_event or event.res_op_failed_event
        with self._lock:
            if started is not None and not started.planning and _changes_the_cloud(started.metadata):
                meta = started.metadata
                self._running[(meta.urn, meta.op.value)] = describe(meta)
            elif ended is not None and not getattr(ended, "planning", False):
                meta = ended.metadata
                done = self._running.pop((meta.urn, meta.op.value), None)
                self._last = done or self._last
            elif event.summary_event is not None or event.cancel_event is not None:
                self._running.clear()

    def doing(self) -> str:
        with self._lock:
            if self._running:
                return "; ".join(self._running.values())
            if self._last is not None:
                return f"no resource in progress, after {self._last}"
            return "no resource in progress yet"
