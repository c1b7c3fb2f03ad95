"""Polling with a deadline and progress lines; clock and sleep are injected so tests run instantly."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from botocore.exceptions import ClientError

from infra.ops.clients.aws import ACCESS_DENIED, CREDENTIALS_FIX, CredentialsError, credentials_problem, error_code
from infra.ops.clients.exec_plugin import ExecPluginError
from infra.ops.errors import OpsError, one_line

# AWS errors no retry can fix: a missing permission, or a request AWS rejects as malformed.
# Throttling and 5xx answers stay transient.
PERMANENT_AWS_ERRORS = ACCESS_DENIED | {"ValidationError", "InvalidParameterException"}

# The Kubernetes API's answer to a token it does not accept: on EKS the token comes from the AWS credentials
# (`aws eks get-token`), so expired credentials show up as this.
HTTP_UNAUTHORIZED = 401

Probe = Callable[[], tuple[bool, str]]


class Stopped(BaseException):
    """Work in a worker thread was given up (Ctrl-C reaches only the main thread, which then cleans up itself).
    A BaseException, like KeyboardInterrupt, so that the `except Exception` of retries and checks lets it through."""


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float]
    sleep: Callable[[float], None]


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 16.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


def wait_for(
    what: str,
    probe: Probe,
    *,
    timeout: float,
    interval: float,
    clock: Clock,
    out: Callable[[str], None],
    heartbeat: float = 30.0,
    longer: str = "",
) -> str:
    """Call probe until it reports done; print its detail when it changes (or every heartbeat).

    `longer` is how the operator allows a longer wait (e.g. "--timeout"), for the timeout's message to say;
    empty where waiting longer is not the operator's choice, or not the fix."""
    deadline = clock.now() + timeout
    last_detail: str | None = None
    last_print = float("-inf")
    while True:
        try:
            done, detail = probe()
        except ExecPluginError as err:  # `aws eks get-token` failed (expired credentials): no retry fixes that
            raise CredentialsError(f"{err} (while waiting for {what})", CREDENTIALS_FIX) from err
        except Exception as err:  # API hiccups during node churn are expected: keep polling
            if problem := credentials_problem(err, during=f" while waiting for {what}"):  # no retry fixes that
                raise problem from err
            if isinstance(err, ClientError):
                _raise_if_permanent(err, what)
            _raise_if_unauthorized(err, what)
            done, detail = False, one_line(err)
        now = clock.now()
        if done:
            out(f"  {what}: {detail}")
            return detail
        if now >= deadline:
            raise OpsError(
                f"timed out after {timeout:g}s waiting for {what}: {detail}"
                + (f" ({longer} allows a longer wait)" if longer else "")
            )
        if detail != last_detail or now - last_print >= heartbeat:
            out(f"  waiting for {what}: {detail} ({deadline - now:.0f}s left)")
            last_detail, last_print = detail, now
        clock.sleep(min(interval, deadline - now))


def _raise_if_permanent(err: ClientError, what: str) -> None:
    code = error_code(err)
    if code in PERMANENT_AWS_ERRORS:
        message = " ".join(str(err.response.get("Error", {}).get("Message") or "").split())
        raise OpsError(f"{err.operation_name} answered {code} while waiting for {what}: {message}") from err


def _raise_if_unauthorized(err: Exception, what: str) -> None:
    """A kubernetes ApiException (duck-typed: this module does not load the kubernetes client) for HTTP 401."""
    if getattr(err, "status", None) == HTTP_UNAUTHORIZED:
        problem = f"the Kubernetes API rejected the token ({one_line(err)}) while waiting for {what}"
        raise CredentialsError(problem, CREDENTIALS_FIX) from err
