"""boto3 clients with short call limits, AWS error codes, and whether the credentials work.

Every verb that calls AWS makes its clients here and checks the credentials first (caller_identity).
"""

import functools
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
NO_CREDENTIALS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError, TokenRetrievalError, SSOError)
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
# What AWS answers an identity that lacks the permission (IAM-style services, EC2).
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# What STS answers for expired or unknown credentials.
REJECTED = {
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
    if isinstance(err, NO_CREDENTIALS):
        return CredentialsError(f"no usable AWS credentials ({type(err).__name__}){during}", CREDENTIALS_FIX)
    if isinstance(err, ClientError) and error_code(err) in REJECTED:
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
