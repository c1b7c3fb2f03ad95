"""`verify`'s `database login` row: a short Job logs in to PostgreSQL the way the app does, over verified TLS.

The Job runs as the app's ServiceAccount: an AWS CLI init container makes an IAM auth token for the app's role
(`aws rds generate-db-auth-token`, signed locally with the Pod Identity role's credentials) into an in-memory
emptyDir, then psql logs in as that role with it. A PASS proves the whole chain: the Pod Identity association, the
role's `rds-db:connect` on exactly that user, the role in PostgreSQL (created by the bootstrap Job), the
NetworkPolicy to port 5432, the security group and TLS against the RDS CA. The Job is always deleted afterwards;
on Ctrl-C by the main thread (LoginJobs.interrupt), since the check runs in a worker thread no signal reaches.
"""

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from infra import contract, db_pods
from infra.ops.clients import outputs
from infra.ops.clients.kube import TIMEOUT, Timeout, transport_problem
from infra.ops.errors import OpsError, one_line
from infra.ops.report import CheckResult, failed, passed
from infra.ops.verify.rds_ca import CONFIGMAP as CA_CONFIGMAP
from infra.ops.verify.rds_ca import KEY as CA_KEY
from infra.ops.waiting import Clock, Stopped, wait_for

NAME = "database login"
APP_LABEL = contract.DB_LOGIN_LABELS["app"]
CA_DIR = "/etc/rds"
TOKEN_CONTAINER, PSQL_CONTAINER = "iam-token", "psql"
DEADLINE_SECONDS = 120  # Kubernetes stops the pod even if this process dies mid-check
TTL_SECONDS = 300  # ... and removes the finished Job
JOB_LABEL = "batch.kubernetes.io/job-name"  # set by the Job controller on its pods (Kubernetes >= 1.27)
LOG_LINES = 5
# Deleting the Job must not hold up the end of the run (an interrupted one least of all): a short limit per call.
DELETE_TIMEOUT = (2.0, 3.0)
SELF_REMOVAL = f"Kubernetes stops it {DEADLINE_SECONDS}s after it starts and removes it {TTL_SECONDS}s after it ends"

# A token is valid for 15 minutes and is the password of this one connection; it never leaves the pod's memory.
TOKEN_SCRIPT = f"""set -eu
umask 077
aws rds generate-db-auth-token --hostname "$DB_HOST" --port "$DB_PORT" --username "$DB_USER" \
  --region "$AWS_REGION" > {db_pods.WORK_DIR}/token
"""
# Values arrive as environment variables, so nothing from the stack is ever parsed as shell. `set -eu` stops before
# psql when the token is missing; connect_timeout keeps an unreachable host from using up the deadline.
SCRIPT = f"""set -eu
PGPASSWORD="$(cat {db_pods.WORK_DIR}/token)"
export PGPASSWORD
exec psql -X -v ON_ERROR_STOP=1 -At \
  "host=$DB_HOST port=$DB_PORT dbname=$DB_NAME user=$DB_USER connect_timeout=10 sslmode=verify-full \
sslrootcert={CA_DIR}/{CA_KEY}" -c 'select 1'
"""


def job_name() -> str:
    """Chosen here, not by generateName: the Job can be deleted even when the create call's answer was lost."""
    return f"{APP_LABEL}-{secrets.token_hex(4)}"


def login_job(name: str, namespace: str, host: str, port: int, dbname: str, region: str) -> dict[str, Any]:
    """The Job manifest: one try, bounded in time, Pod Security `restricted`, read-only everything."""
    where = {"DB_HOST": host, "DB_PORT": str(port), "DB_USER": contract.APP_DB_USER}
    token = db_pods.aws_cli(TOKEN_CONTAINER, TOKEN_SCRIPT, db_pods.env({**where, "AWS_REGION": region}))
    ca_mount = {"name": "rds-ca", "mountPath": CA_DIR, "readOnly": True}
    psql = db_pods.psql(SCRIPT, db_pods.env({**where, "DB_NAME": dbname}), [ca_mount])
    ca = {"name": "rds-ca", "configMap": {"name": CA_CONFIGMAP, "items": [{"key": CA_KEY, "path": CA_KEY}]}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": contract.DB_LOGIN_LABELS},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {
                "metadata": {"labels": contract.DB_LOGIN_LABELS},
                "spec": db_pods.pod(contract.APP_SERVICE_ACCOUNT, token, psql, [ca]),
            },
        },
    }


class JobsApi(Protocol):
    """The BatchV1Api calls the check makes (a fake in tests)."""

    def create_namespaced_job(self, namespace: str, body: Any, *, _request_timeout: Timeout) -> Any: ...
    def read_namespaced_job_status(self, name: str, namespace: str, *, _request_timeout: Timeout) -> Any: ...
    def delete_namespaced_job(
        self, name: str, namespace: str, *, propagation_policy: str, _request_timeout: Timeout
    ) -> Any: ...


class PodsApi(Protocol):
    """The CoreV1Api calls that explain a failure."""

    def list_namespaced_pod(self, namespace: str, *, label_selector: str, _request_timeout: Timeout) -> Any: ...
    def read_namespaced_pod_log(
        self, name: str, namespace: str, *, container: str, tail_lines: int, _request_timeout: Timeout
    ) -> Any: ...
    def list_namespaced_event(self, namespace: str, *, field_selector: str, _request_timeout: Timeout) -> Any: ...


def batch_api(core: client.CoreV1Api) -> client.BatchV1Api:
    """A BatchV1Api on the same connection settings (timeouts, no retries) as the CoreV1Api."""
    return client.BatchV1Api(core.api_client)


def _outcome(job: Any) -> str | None:
    """ "succeeded", "failed", or None while the Job runs."""
    status = job.status
    if status is None:
        return None
    if status.succeeded:
        return "succeeded"
    if status.failed or any(c.type == "Failed" and c.status == "True" for c in status.conditions or []):
        return "failed"
    return None


def _started(statuses: Any) -> bool:
    return any(c.state and (c.state.terminated or c.state.running) for c in statuses or [])  # else no log yet


def _token_failed(statuses: Any) -> bool:
    return any(c.state and c.state.terminated and c.state.terminated.exit_code for c in statuses or [])


def _pod_story(core: PodsApi, name: str, namespace: str, timeout: Timeout) -> str:
    """Why the Job's pod did not log in: the token container's log tail when it failed, else psql's, else the pod's
    last warning event (an image pull, a volume), else its phase."""
    pods = core.list_namespaced_pod(namespace, label_selector=f"{JOB_LABEL}={name}", _request_timeout=timeout).items
    if not pods:
        return "no pod was created (quota, admission or an unknown ServiceAccount: `kubectl describe job`)"
    pod = pods[0]
    status = pod.status
    token_failed = _token_failed(status.init_container_statuses if status else None)
    if token_failed or _started(status.container_statuses if status else None):
        container = TOKEN_CONTAINER if token_failed else PSQL_CONTAINER
        log = core.read_namespaced_pod_log(
            pod.metadata.name, namespace, container=container, tail_lines=LOG_LINES, _request_timeout=timeout
        )
        lines = " / ".join(ln.strip() for ln in str(log or "").splitlines() if ln.strip())
        if lines:
            return f"no IAM auth token for {contract.APP_DB_USER}: {lines}" if token_failed else lines
    selector = f"involvedObject.name={pod.metadata.name},type=Warning"
    events = core.list_namespaced_event(namespace, field_selector=selector, _request_timeout=timeout).items
    if events:
        last = max(events, key=lambda e: str(e.last_timestamp or e.event_time or ""))
        return f"{last.reason}: {' '.join(str(last.message or '').split())}"
    return f"pod {pod.metadata.name} is {(status.phase if status else None) or 'unknown'}"


class LoginJobs:
    """The login Jobs of one verify run. The checks run in worker threads, which Ctrl-C does not reach: on an
    interrupt the main thread calls interrupt(), which stops every check and deletes their Jobs itself."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._jobs: list[_LoginJob] = []

    def add(self, job: "_LoginJob") -> None:
        """Before the Job is created; after an interrupt none is."""
        with self._lock:
            if self.stop.is_set():
                raise Stopped
            self._jobs.append(job)

    def interrupt(self) -> list[str]:
        """Stop the checks; delete, in this thread, each Job no check has deleted yet: one line per Job."""
        with self._lock:
            self.stop.set()
            jobs = list(self._jobs)
        return [line for job in jobs if (line := job.delete_on_interrupt())]


def check_login(
    out: Mapping[str, Any],
    jobs: JobsApi,
    core: PodsApi,
    *,
    timeout: float,
    clock: Clock,
    say: Callable[[str], None] = lambda _: None,
    interval: float = 2.0,
    request_timeout: Timeout = TIMEOUT,
    name: str | None = None,
    started: LoginJobs | None = None,
) -> CheckResult:
    """PASS only when the Job's `psql ... -c 'select 1'` exits 0; FAIL with one line otherwise. Always deletes it,
    Ctrl-C included. With `started`, the main thread can stop the check and delete the Job (worker threads)."""
    namespace = outputs.text(out, "helloworldNamespace")
    host, port, dbname = outputs.text(out, "dbEndpoint"), outputs.integer(out, "dbPort"), outputs.text(out, "dbName")
    region = outputs.text(out, "region")
    stop = started.stop if started else threading.Event()
    job = _LoginJob(jobs, core, name or job_name(), namespace, request_timeout, stop)
    body = login_job(job.name, namespace, host, port, dbname, region)
    if started:
        started.add(job)
    leftover = ""
    try:
        result = job.run(body, f"{host}:{port}/{dbname}", timeout=timeout, interval=interval, clock=clock, say=say)
    finally:
        leftover = job.delete_after_check()
    return CheckResult(result.name, result.status, f"{result.detail}; {leftover}") if leftover else result


@dataclass
class _LoginJob:
    jobs: JobsApi
    core: PodsApi
    name: str
    namespace: str
    timeout: Timeout
    stop: threading.Event  # set by the main thread on an interrupt: the check ends at its next step
    taken: bool = False  # the name belongs to another Job: never delete it
    creating: bool = False  # the create call was (about to be) sent
    created: bool = False  # ... and answered
    _claim: threading.Lock = field(default_factory=threading.Lock)
    _claimed: bool = False  # one deleter: the check when it ends, or the main thread on an interrupt

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    def run(
        self,
        body: dict[str, Any],
        where: str,
        *,
        timeout: float,
        interval: float,
        clock: Clock,
        say: Callable[[str], None],
    ) -> CheckResult:
        self.creating = True  # before looking at stop: interrupt() reads them in the other order
        if self.stop.is_set():
            raise Stopped
        try:
            self.jobs.create_namespaced_job(self.namespace, body, _request_timeout=self.timeout)
        except Exception as err:  # without an answer the Job may exist all the same: it is deleted anyway
            self.taken = isinstance(err, ApiException) and err.status == 409
            return failed(NAME, f"cannot create Job {self}: {_problem(err, self.timeout)}")
        self.created = True
        outcome: list[str | None] = [None]

        def probe() -> tuple[bool, str]:
            outcome[0] = _outcome(
                self.jobs.read_namespaced_job_status(self.name, self.namespace, _request_timeout=self.timeout)
            )
            return outcome[0] is not None, outcome[0] or "running"

        def sleep(seconds: float) -> None:
            clock.sleep(seconds)
            if self.stop.is_set():  # interrupted: the main thread deletes the Job
                raise Stopped

        try:
            wait_for(f"Job {self}", probe, timeout=timeout, interval=interval, clock=Clock(clock.now, sleep), out=say)
        except OpsError:
            return failed(NAME, f"no result within {timeout:g}s: {self.explain()}")
        if outcome[0] == "succeeded":
            return passed(NAME, f"psql logged in to {where} as {contract.APP_DB_USER} (IAM token, verified TLS)")
        return failed(NAME, f"psql could not log in to {where}: {self.explain()}")

    def explain(self) -> str:
        try:
            return _pod_story(self.core, self.name, self.namespace, self.timeout)
        except Exception as err:  # the verdict stands without the story
            return f"(pod details unavailable: {_problem(err, self.timeout)})"

    def _claimed_now(self) -> bool:
        """True for the first caller only; a Job whose name was another's is never ours to delete."""
        with self._claim:
            first, self._claimed = not self._claimed, True
        return first and not self.taken

    def delete_after_check(self) -> str:
        """The check's own delete: what is left behind, in words ("" when nothing)."""
        if not self._claimed_now():
            return ""
        try:
            self._delete()
        except Exception as err:
            return f"Job {self} not deleted ({_problem(err, DELETE_TIMEOUT)}): {SELF_REMOVAL}"
        return ""

    def delete_on_interrupt(self) -> str:
        """The main thread's delete after Ctrl-C: one line saying what happened to the Job ("" if the check had
        already deleted it)."""
        if not self._claimed_now() or not self.creating:  # not creating: it never will be (stop is set)
            return ""
        try:
            deleted = self._delete()
        except Exception as err:
            return f"interrupted: Job {self} not deleted ({_problem(err, DELETE_TIMEOUT)}): {SELF_REMOVAL}"
        if deleted:
            return f"interrupted: deleted Job {self} (database login check)"
        if self.created:
            return f"interrupted: Job {self} was already gone"
        return f"interrupted while Job {self} was being created: not found; if it appears, {SELF_REMOVAL}"

    def _delete(self) -> bool:
        """Delete the Job and, by Background propagation, its pod: False when there is none (never created, or
        already removed)."""
        try:
            self.jobs.delete_namespaced_job(
                self.name, self.namespace, propagation_policy="Background", _request_timeout=DELETE_TIMEOUT
            )
        except ApiException as err:
            if err.status == 404:
                return False
            raise
        return True


def _problem(err: Exception, timeout: Timeout) -> str:
    """One line: a transport failure in a few words (urllib3's text runs to hundreds of characters)."""
    if isinstance(err, urllib3.exceptions.HTTPError):
        return f"Kubernetes API: {transport_problem(err, timeout)}"
    return one_line(err)
