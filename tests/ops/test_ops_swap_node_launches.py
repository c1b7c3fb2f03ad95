"""Reading which instance a resize launched from DescribeScalingActivities, as AWS pages and orders them: "Activities
still in progress are described first", then by start time (newest first), at most MaxRecords (100) a page and
possibly fewer, with a NextToken while more are left. A launch is under way until its StatusCode is Successful,
Failed or Cancelled (the model's ScalingActivityStatusCode also has WaitingForInstanceId, PreInService, InProgress,
...); the ASG retries a failed one with a Cause that names no request."""

from datetime import UTC, datetime, timedelta
from typing import Any

from infra.ops.swap_node.launches import resize_launches

RESIZED_AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
GROWN = (  # desired 2 -> 3; the request's own words before "changing" are not confirmed for EKS, so they vary here
    "At 2026-11-27T10:00:02Z a user request update of AutoScalingGroup constraints to min: 1, max: 4, desired: 3 "
    "changing the desired capacity from 2 to 3.  At 2026-11-27T10:00:09Z an instance was started in response to a "
    "difference between desired and actual capacity, increasing the capacity from 2 to 3."
)
SET_DESIRED = (
    "At 2026-11-27T09:46:02Z a user request explicitly set group desired capacity changing the desired capacity from 2 "
    "to 3.  At 2026-11-27T09:46:09Z an instance was started in response to a difference between desired and actual "
    "capacity, increasing the capacity from 2 to 3."
)
RETRIED = (
    "At 2026-11-27T10:00:40Z an instance was started in response to a difference between desired and actual "
    "capacity, increasing the capacity from 2 to 3."
)
REPAIRED = (
    "At 2026-11-27T10:01:00Z an instance was taken out of service in response to a user request.  At "
    "2026-11-27T10:01:05Z an instance was started in response to a difference between desired and actual capacity, "
    "increasing the capacity from 2 to 3."
)
SICK = "i-0a1b2c3d4e5f60007"
UNHEALTHY = "Instance became unhealthy while waiting for instance to be in InService state."
NO_CAPACITY = "We currently do not have sufficient t3.medium capacity in the Availability Zone you requested."
LAUNCHING = "Launching a new EC2 instance"


def activity(asg: str, n: int, description: str, cause: str, minutes: float, status: str = "Successful") -> Any:
    start = RESIZED_AT + timedelta(minutes=minutes)
    finished = status in ("Successful", "Failed", "Cancelled")
    ended = {"EndTime": start + timedelta(seconds=30)} if finished else {}
    found = {"ActivityId": f"{asg}-{n}", "AutoScalingGroupName": asg, "Description": description, "Cause": cause}
    return found | {"StartTime": start, "StatusCode": status} | ended


class Paged:
    """DescribeScalingActivities over fixed histories, `page` activities a call, recording each call. Like moto, it
    ignores Filters."""

    def __init__(self, histories: dict[str, list[Any]], page: int) -> None:
        self.histories, self.page = histories, page
        self.calls: list[str] = []
        self.filters: list[Any] = []

    def describe_scaling_activities(
        self,
        AutoScalingGroupName: str,  # noqa: N803
        MaxRecords: int,  # noqa: N803
        Filters: list[Any],  # noqa: N803
        NextToken: str = "0",  # noqa: N803
    ) -> Any:
        assert MaxRecords == 100  # all AWS allows
        self.calls.append(f"{AutoScalingGroupName} {NextToken}")
        self.filters.append(Filters)
        listed = sorted(
            self.histories[AutoScalingGroupName], key=lambda a: ("EndTime" in a, -a["StartTime"].timestamp())
        )
        start = int(NextToken)
        end = start + self.page
        return {"Activities": listed[start:end]} | ({"NextToken": str(end)} if end < len(listed) else {})


def test_the_resize_launch_and_the_retries_of_its_failures_are_found_and_paging_stops_at_older_history() -> None:
    ng = [
        activity("ng", 9, "never read", GROWN, -60 * 25),
        activity("ng", 0, f"{LAUNCHING}: i-0a1b2c3d4e5f60005", "At … created", -60 * 24),  # older: ends paging
        activity("ng", 1, f"{LAUNCHING}: i-0a1b2c3d4e5f60004", GROWN, -3),  # before the resize: in `earlier`
        activity("ng", 8, f"{LAUNCHING}: i-0a1b2c3d4e5f60008", RETRIED, 0.1),  # nothing failed yet: not a retry of it
        activity("ng", 2, f"{LAUNCHING}.  Status Reason: {NO_CAPACITY}", GROWN, 0.2, "Failed"),
        activity("ng", 6, f"{LAUNCHING}: {SICK}.  Status Reason: {UNHEALTHY}", RETRIED, 0.7, "Failed"),
        activity("ng", 4, f"{LAUNCHING}: i-0a1b2c3d4e5f60002", REPAIRED, 1),  # a replacement
        activity("ng", 3, "Terminating EC2 instance: i-0a1b2c3d4e5f60003", REPAIRED, 1),
        activity("ng", 5, LAUNCHING, RETRIED, 1.5, "WaitingForInstanceId"),  # no instance named yet
        activity("ng", 7, f"{LAUNCHING}: i-0a1b2c3d4e5f60009", RETRIED, 2),  # the failures are retried already
    ]
    # Our clock 14 minutes ahead of the ASG's: its launch looks older than the resize, yet is found. The request is
    # worded otherwise (the wording after EKS's UpdateNodegroupConfig is not confirmed): the desired change is enough.
    second = [activity("ng-b", 0, f"{LAUNCHING}: i-0a1b2c3d4e5f60006", SET_DESIRED, -14)]
    autoscaling = Paged({"ng": ng, "ng-b": second}, page=2)

    found = resize_launches(autoscaling, ("ng", "ng-b"), RESIZED_AT, 2, frozenset({"ng-1"}))

    assert [(f.activity, f.instance, f.status, f.finished, f.live) for f in found] == [
        ("ng-2", None, "Failed", True, False),
        ("ng-6", SICK, "Failed", True, False),  # terminated by the ASG: not the surge instance
        ("ng-5", None, "WaitingForInstanceId", False, False),  # the second failure's retry, under way
        ("ng-b-0", "i-0a1b2c3d4e5f60006", "Successful", True, True),
    ]
    # The fifth page's older finished activity ends the paging of "ng".
    assert autoscaling.calls == ["ng 0", "ng 2", "ng 4", "ng 6", "ng 8", "ng-b 0"]
    # AWS filters too, from 15 minutes (SigV4's allowed clock skew) before our clock's start, in ISO 8601 UTC.
    assert autoscaling.filters[0] == [{"Name": "StartTimeLowerBound", "Values": ["2026-11-27T09:45:00Z"]}]

    ng[-2] = activity("ng", 5, f"{LAUNCHING}: i-0a1b2c3d4e5f6000a", RETRIED, 1.5)  # EC2 gave it an instance
    found = resize_launches(autoscaling, ("ng",), RESIZED_AT, 2, frozenset({"ng-1"}))
    assert [(f.instance, f.finished, f.live) for f in found] == [
        (None, True, False),
        (SICK, True, False),
        ("i-0a1b2c3d4e5f6000a", True, True),
    ]
