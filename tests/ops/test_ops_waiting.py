"""wait_for and AWS errors: a refusal no retry can fix stops at once; throttling and 5xx are retried.

The errors come from botocore's Stubber on a real EKS client, so they are ClientErrors exactly as
boto3 raises them (code and operation name from the request that failed).
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError, TokenRetrievalError
from botocore.stub import Stubber
from fakes import FakeClock
from kubernetes.client.exceptions import ApiException

from infra.ops.errors import OpsError
from infra.ops.waiting import wait_for

UPDATE = {"name": "foo", "updateId": "u-1", "nodegroupName": "ng"}


@pytest.fixture
def eks() -> Iterator[tuple[Any, Stubber]]:
    session = boto3.session.Session(
        region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    client = session.client("eks")
    with Stubber(client) as stubber:
        yield client, stubber


def wait_update(client: Any, time: FakeClock, lines: list[str]) -> str:
    def finished() -> tuple[bool, str]:
        status = str(client.describe_update(**UPDATE)["update"]["status"])
        return status != "InProgress", status

    return wait_for("EKS update u-1", finished, timeout=600, interval=10, clock=time.clock, out=lines.append)


@pytest.mark.parametrize(
    "code",
    ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "ValidationError", "InvalidParameterException"],
)
def test_errors_no_retry_can_fix_stop_the_wait_at_once(eks: tuple[Any, Stubber], code: str) -> None:
    client, stubber = eks
    stubber.add_client_error(
        "describe_update",
        service_error_code=code,
        service_message="User: arn:aws:iam::123456789012:user/ops is not authorized\nto perform: eks:DescribeUpdate",
        http_status_code=403 if code.startswith(("Access", "Unauthorized")) else 400,
        expected_params=UPDATE,
    )
    time, lines = FakeClock(), list[str]()

    with pytest.raises(OpsError) as raised:
        wait_update(client, time, lines)

    assert str(raised.value) == (
        f"DescribeUpdate answered {code} while waiting for EKS update u-1: "
        "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: eks:DescribeUpdate"
    )
    assert time.sleeps == []  # not one retry
    stubber.assert_no_pending_responses()


def test_throttling_and_server_errors_are_retried_until_the_answer(eks: tuple[Any, Stubber]) -> None:
    client, stubber = eks
    stubber.add_client_error("describe_update", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_client_error("describe_update", service_error_code="ServerException", http_status_code=500)
    stubber.add_response("describe_update", {"update": {"id": "u-1", "status": "Successful"}}, UPDATE)
    time, lines = FakeClock(), list[str]()

    assert wait_update(client, time, lines) == "Successful"

    assert time.sleeps == [10, 10]
    assert any("ThrottlingException" in ln for ln in lines) and any("ServerException" in ln for ln in lines)
    stubber.assert_no_pending_responses()


LOGIN_HINT = "run `aws sso login` (SSO profiles, with AWS_PROFILE set) or `aws configure` (access keys), then retry"


@pytest.mark.parametrize(
    "code", ["ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"]
)
def test_rejected_credentials_stop_the_wait_after_one_call_with_the_login_hint(
    eks: tuple[Any, Stubber], code: str
) -> None:
    client, stubber = eks
    stubber.add_client_error(
        "describe_update",
        service_error_code=code,
        service_message="The security token included in the request is expired",
        http_status_code=403,
        expected_params=UPDATE,
    )
    time, lines = FakeClock(), list[str]()

    with pytest.raises(OpsError) as raised:
        wait_update(client, time, lines)

    assert str(raised.value) == f"AWS rejected the credentials ({code}) while waiting for EKS update u-1: {LOGIN_HINT}"
    assert time.sleeps == [] and time.now() == 0  # exactly one call, no polling until the timeout
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "error",
    [
        TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed"),
        NoCredentialsError(),
    ],
    ids=["TokenRetrievalError", "NoCredentialsError"],
)
def test_credentials_botocore_cannot_load_stop_the_wait_at_once(error: Exception) -> None:
    calls: list[str] = []

    def probe() -> tuple[bool, str]:  # what botocore raises before sending the request
        calls.append("describe")
        raise error

    time = FakeClock()
    with pytest.raises(OpsError) as raised:
        wait_for("ELB drain", probe, timeout=900, interval=10, clock=time.clock, out=lambda _: None)

    name = type(error).__name__
    assert str(raised.value) == f"no usable AWS credentials ({name}) while waiting for ELB drain: {LOGIN_HINT}"
    assert calls == ["describe"] and time.sleeps == []


def test_kubernetes_401_stops_the_wait_with_the_login_hint() -> None:
    # On EKS the bearer token is made from the AWS credentials (`aws eks get-token`): expired, the API answers 401.
    calls: list[str] = []

    def probe() -> tuple[bool, str]:
        calls.append("list nodes")
        raise ApiException(status=401, reason="Unauthorized")

    time = FakeClock()
    with pytest.raises(OpsError) as raised:
        wait_for("replacement node", probe, timeout=900, interval=10, clock=time.clock, out=lambda _: None)

    assert str(raised.value) == (
        "the Kubernetes API rejected the token (HTTP 401 Unauthorized) while waiting for replacement node: "
        + LOGIN_HINT
    )
    assert calls == ["list nodes"] and time.sleeps == []


def test_other_kubernetes_errors_are_still_retried() -> None:
    answers: list[Exception | None] = [ApiException(status=503, reason="Service Unavailable"), None]

    def probe() -> tuple[bool, str]:
        error = answers.pop(0)
        if error:
            raise error
        return True, "2/2 Ready"

    time = FakeClock()
    assert wait_for("nodes", probe, timeout=900, interval=10, clock=time.clock, out=lambda _: None) == "2/2 Ready"
    assert time.sleeps == [10]


def test_a_timeout_names_the_option_that_allows_a_longer_wait() -> None:
    def probe() -> tuple[bool, str]:
        return False, "1/2 Ready"

    time = FakeClock()
    with pytest.raises(OpsError) as raised:
        wait_for(
            "replacement node", probe, timeout=60, interval=10, clock=time.clock, out=lambda _: None, longer="--timeout"
        )

    assert (
        str(raised.value)
        == "timed out after 60s waiting for replacement node: 1/2 Ready (--timeout allows a longer wait)"
    )


def test_a_timeout_without_an_option_to_name_says_what_it_waited_for() -> None:
    time = FakeClock()
    with pytest.raises(OpsError) as raised:
        wait_for("Job x", lambda: (False, "running"), timeout=30, interval=10, clock=time.clock, out=lambda _: None)

    assert str(raised.value) == "timed out after 30s waiting for Job x: running"
