"""Which instance a resize of the node group launched, as the Auto Scaling group itself records it: its scaling
activities. Anything else that launched meanwhile (an EKS node-repair replacement, an AZ rebalance, someone else's
scale-out) has another Cause, so it is never taken for the surge instance."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# The ASG's clock, not ours, stamps StartTime. SigV4 refuses a request signed more than 15 minutes off AWS's time,
# so an answered call means our clock is within 15 minutes of it.
CLOCK_SKEW = timedelta(minutes=15)
PAGE = 100  # DescribeScalingActivities' MaxRecords: default and maximum 100
# e.g. "Launching a new EC2 instance: i-0abc123def4567890"; a failed launch reads "Launching a new EC2 instance.
# Status Reason: ..." (no instance, or one already gone); one still waiting for EC2 names none yet.
_LAUNCHING = re.compile(r"^Launching a new EC2 instance: (i-[0-9a-f]{8,17})\b")
NO_INSTANCE = frozenset({"Failed", "Cancelled"})  # StatusCodes of a launch that left no instance running
# Any other StatusCode (WaitingForInstanceId, PreInService, InProgress, MidLifecycleAction, ...) is a launch under way.
SUCCESSFUL = "Successful"


@dataclass(frozen=True)
class Launch:
    asg: str
    activity: str
    status: str  # the activity's StatusCode
    instance: str | None  # None: not named (yet)
    started: datetime

    @property
    def finished(self) -> bool:
        """Over for good: a running instance named, or none left (the ASG retries a failed launch separately)."""
        return self.status in NO_INSTANCE or (self.status == SUCCESSFUL and self.instance is not None)

    @property
    def live(self) -> bool:
        return self.status == SUCCESSFUL and self.instance is not None

    def __str__(self) -> str:
        return f"{self.instance or 'no instance'} ({self.status}, activity {self.activity} in ASG {self.asg})"


def resize_cause(desired: int) -> str:
    """The part of a launch's Cause the ASG writes when a request raises the desired capacity from `desired` by one,
    e.g. "At 2026-11-27T10:00:00Z a user request update of AutoScalingGroup constraints to min: 1, max: 2, desired: 2
    changing the desired capacity from 1 to 2.  At 2026-11-27T10:00:09Z an instance was started in response to a
    difference between desired and actual capacity, increasing the capacity from 1 to 2." The request's own wording
    after EKS's UpdateNodegroupConfig is not confirmed (docs/nodes.md), so only this part is matched."""
    return f"changing the desired capacity from {desired} to {desired + 1}"


def retry_cause(desired: int) -> str:
    """The Cause, in full but for its time, of the launch the ASG starts again after a failed one while the group is
    still one short: no request, no replacement ("taken out of service", "rebalancing", "health check")."""
    return (
        "an instance was started in response to a difference between desired and actual capacity, increasing the "
        f"capacity from {desired} to {desired + 1}."
    )


def _is_retry(cause: str, desired: int) -> bool:
    return re.fullmatch(rf"At \S+ {re.escape(retry_cause(desired))}", cause.strip()) is not None


def activities(autoscaling: Any, asg_names: tuple[str, ...], since: datetime) -> Iterator[dict[str, Any]]:
    """The groups' activities started since `since` (less CLOCK_SKEW), newest first per group.

    AWS filters by StartTimeLowerBound itself; the check here stays for a service that ignores the filter. AWS lists
    activities still in progress first, then by start time, newest first: the first finished one older than the bound
    ends the paging."""
    bound = since - CLOCK_SKEW
    lower = [{"Name": "StartTimeLowerBound", "Values": [bound.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]}]
    for asg in asg_names:
        token: str | None = None
        while True:
            more = {"NextToken": token} if token else {}
            page = autoscaling.describe_scaling_activities(
                AutoScalingGroupName=asg, MaxRecords=PAGE, Filters=lower, **more
            )
            older = False
            for activity in page["Activities"]:
                if activity.get("EndTime") is not None and activity["StartTime"] < bound:
                    older = True
                    break
                yield activity
            token = page.get("NextToken")
            if older or not token:
                break


def resize_launches(
    autoscaling: Any, asg_names: tuple[str, ...], since: datetime, desired: int, earlier: frozenset[str]
) -> list[Launch]:
    """The launches a resize from `desired` to one more caused, oldest first, leaving out the activities in `earlier`
    (there before the resize): those whose Cause names the resize, and after each of them (or of its retries) that
    failed, the ASG's next retry (retry_cause), whose instance closes the same gap."""
    chosen: list[Launch] = []
    for asg in asg_names:
        owed = 0  # failed launches of the resize the ASG has not retried yet
        for launch, cause in sorted(_launches(autoscaling, asg, since, earlier), key=lambda found: found[0].started):
            if resize_cause(desired) in cause:
                chosen.append(launch)
            elif owed and _is_retry(cause, desired):
                chosen.append(launch)
                owed -= 1
            else:
                continue
            owed += launch.status in NO_INSTANCE
    return chosen


def _launches(autoscaling: Any, asg: str, since: datetime, earlier: frozenset[str]) -> Iterator[tuple[Launch, str]]:
    for activity in activities(autoscaling, (asg,), since):
        description = str(activity.get("Description") or "")
        if activity["ActivityId"] in earlier or not description.startswith("Launching a new EC2 instance"):
            continue
        named = _LAUNCHING.match(description)
        launch = Launch(
            str(activity["AutoScalingGroupName"]),
            str(activity["ActivityId"]),
            str(activity["StatusCode"]),
            named.group(1) if named else None,
            activity["StartTime"],
        )
        yield launch, str(activity.get("Cause") or "")
