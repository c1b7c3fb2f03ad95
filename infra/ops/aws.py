"""Thin boto3 lookups and the one instance-terminating call (clients are passed in)."""

import functools
import re
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
    SSOError,
    TokenRetrievalError,
)

from infra.ops.errors import OpsError, one_line

# e.g. aws:///us-west-2a/i-0abc123def4567890
_PROVIDER_ID = re.compile(r"^aws:///[a-z0-9-]*/(i-[0-9a-f]+)$")


@dataclass(frozen=True)
class CallLimits:
    """How long one AWS call may take: botocore's defaults (60 s read timeout, retried) let a hung endpoint hold a
    verb for minutes before any of its own deadlines is looked at."""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    attempts: int = 3  # the first try included

    def config(self) -> Config:
        retries: Any = {"mode": "standard", "total_max_attempts": self.attempts}
        return Config(connect_timeout=self.connect_timeout, read_timeout=self.read_timeout, retries=retries)


EVERY_CALL = CallLimits()
# A last call made after an interrupt (destroy's log groups): it must not hold the exit for long.
ONE_SHORT_TRY = CallLimits(connect_timeout=2.0, read_timeout=5.0, attempts=1)


@functools.cache
def _session(region: str) -> boto3.session.Session:
    # One session per region: clients share its credential lookup and loaded API models.
    return boto3.session.Session(region_name=region)


def client(service: str, region: str, limits: CallLimits = EVERY_CALL) -> Any:
    return _session(region).client(service, config=limits.config())


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


CREDENTIALS_FIX = (
    "run `aws sso login` (SSO profiles, with AWS_PROFILE set) or `aws configure` (access keys), then retry"
)
# No credentials found, or an SSO token that cannot be loaded or refreshed.
_NO_CREDENTIALS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError, TokenRetrievalError, SSOError)
# What AWS answers a caller that calls too often (botocore's standard retry mode backs off on these).
THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    }
)
# What STS answers for expired or unknown credentials.
_REJECTED = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "RequestExpired",
}


class CredentialsError(OpsError):
    """The AWS credentials cannot be used: `problem`, and the `fix` when logging in again is it."""

    def __init__(self, problem: str, fix: str | None) -> None:
        super().__init__(f"{problem}: {fix}" if fix else problem)
        self.problem, self.fix = problem, fix


@dataclass(frozen=True)
class Identity:
    arn: str
    account: str

    def __str__(self) -> str:
        return f"{self.arn} (account {self.account})"


def credentials_problem(err: BaseException, during: str = "") -> CredentialsError | None:
    """The CredentialsError `err` amounts to (`during`: e.g. " while checking X"), if logging in again is the fix."""
    if isinstance(err, _NO_CREDENTIALS):
        return CredentialsError(f"no usable AWS credentials ({type(err).__name__}){during}", CREDENTIALS_FIX)
    if isinstance(err, ClientError) and error_code(err) in _REJECTED:
        return CredentialsError(f"AWS rejected the credentials ({error_code(err)}){during}", CREDENTIALS_FIX)
    return None


def caller_identity(sts: Any) -> Identity:
    """Who the AWS credentials act as (the first call of verify and destroy); CredentialsError when they do not work."""
    try:
        found = sts.get_caller_identity()
    except (ClientError, BotoCoreError) as err:
        if problem := credentials_problem(err):
            raise problem from err
        # e.g. STS unreachable or hung: logging in again would not help
        raise CredentialsError(f"cannot check the AWS credentials ({one_line(err)})", None) from err
    return Identity(str(found["Arn"]), str(found["Account"]))


def instance_id(provider_id: str) -> str:
    match = _PROVIDER_ID.match(provider_id)
    if not match:
        raise OpsError(f"cannot find an EC2 instance id in providerID {provider_id!r}")
    return match.group(1)


@dataclass(frozen=True)
class Scaling:
    min_size: int
    max_size: int
    desired: int

    def __str__(self) -> str:
        return f"min {self.min_size}, max {self.max_size}, desired {self.desired}"

    def cli_args(self) -> str:
        return f"--scaling-config minSize={self.min_size},maxSize={self.max_size},desiredSize={self.desired}"


@dataclass(frozen=True)
class NodeGroup:
    scaling: Scaling
    asg_names: tuple[str, ...]

    @property
    def desired(self) -> int:
        return self.scaling.desired


def describe_nodegroup(eks: Any, cluster: str, nodegroup: str) -> NodeGroup:
    found = eks.describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]
    asgs = found.get("resources", {}).get("autoScalingGroups", [])
    sizes = found["scalingConfig"]
    return NodeGroup(
        scaling=Scaling(int(sizes["minSize"]), int(sizes["maxSize"]), int(sizes["desiredSize"])),
        asg_names=tuple(a["name"] for a in asgs),
    )


def resize_nodegroup(eks: Any, cluster: str, nodegroup: str, scaling: Scaling) -> str:
    """Ask EKS for new sizes (EKS resizes the ASG, so the node group and the ASG agree). Returns the update id."""
    config = {"minSize": scaling.min_size, "maxSize": scaling.max_size, "desiredSize": scaling.desired}
    found = eks.update_nodegroup_config(clusterName=cluster, nodegroupName=nodegroup, scalingConfig=config)
    return str(found["update"]["id"])


def update_status(eks: Any, cluster: str, nodegroup: str, update_id: str) -> tuple[str, str]:
    """An EKS update's status (InProgress, Failed, Cancelled, Successful) and its error messages."""
    found = eks.describe_update(name=cluster, updateId=update_id, nodegroupName=nodegroup)["update"]
    errors = "; ".join(str(e.get("errorMessage") or e.get("errorCode")) for e in found.get("errors") or [])
    return str(found["status"]), errors


def asg_of_instance(autoscaling: Any, instance: str, allowed: tuple[str, ...]) -> str:
    """The instance's ASG, refusing any instance outside the node group's ASGs."""
    found = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance])
    groups = [i["AutoScalingGroupName"] for i in found["AutoScalingInstances"]]
    if not groups:
        raise OpsError(f"instance {instance} is not in any Auto Scaling group; refusing to terminate")
    if groups[0] not in allowed:
        raise OpsError(
            f"instance {instance} belongs to ASG {groups[0]!r}, not the node group's "
            f"({', '.join(allowed) or 'none'}); refusing to terminate"
        )
    return str(groups[0])


def terminate_in_asg(autoscaling: Any, instance: str, allowed: tuple[str, ...], *, decrement: bool = False) -> str:
    """Terminate the instance; without `decrement` the ASG launches a replacement. Returns the ASG."""
    group = asg_of_instance(autoscaling, instance, allowed)
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=decrement)
    return group


def classic_elb_named_by_host(elb: Any, hostname: str) -> str | None:
    """The classic ELB whose DNS name is the Service's hostname (None: not a classic ELB)."""
    for page in elb.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancerDescriptions"]:
            if lb.get("DNSName", "").lower() == hostname.lower():
                return str(lb["LoadBalancerName"])
    return None


def elb_routes_to(elb: Any, name: str, instance: str) -> tuple[bool, str]:
    """Whether the classic ELB may still send requests to the instance, and its state as AWS words it.

    DescribeLoadBalancers stops listing an instance when connection draining *starts*. Only
    DescribeInstanceHealth shows the draining ("InService", "Instance deregistration currently in
    progress.") until it ends with OutOfService; an instance named in the request is reported even
    once deregistered, and a terminated one not at all.
    """
    try:
        found = elb.describe_instance_health(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    except ClientError as err:
        if error_code(err) == "InvalidInstance":  # no such instance for this ELB
            return False, "unknown to the load balancer"
        raise
    for state in found.get("InstanceStates", []):
        if state.get("InstanceId") == instance:
            words = [str(state.get(k) or "") for k in ("State", "Description")]
            return state.get("State") != "OutOfService", ": ".join(w for w in words if w and w != "N/A")
    return False, "not listed"


def elb_in_service(elb: Any, name: str) -> set[str]:
    """The registered instances the classic ELB sends new requests to.

    A new instance is OutOfService ("Instance registration is still in progress.") until its health
    checks pass; a deregistering one stays InService while draining but takes no new requests.
    """
    found = elb.describe_instance_health(LoadBalancerName=name)  # no Instances: every registered one
    return {
        str(state["InstanceId"])
        for state in found.get("InstanceStates", [])
        if state.get("State") == "InService" and "deregistration" not in str(state.get("Description") or "")
    }


def cluster_status(eks: Any, name: str) -> str | None:
    """The EKS cluster's status, or None once it no longer exists."""
    try:
        return str(eks.describe_cluster(name=name)["cluster"]["status"])
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return None
        raise


def snapshot_status(rds: Any, identifier: str) -> str | None:
    """The DB snapshot's status, or None when there is no such snapshot."""
    from infra.ops import db_snapshot  # it imports this module

    found = db_snapshot.describe(rds, identifier)
    return found.status if found else None
