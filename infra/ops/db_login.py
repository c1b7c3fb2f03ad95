"""`verify`'s `database login` row: a short Job logs in to PostgreSQL the way the app would, over verified TLS.

The Job runs as the app's ServiceAccount with the app's CSI-mounted secret (username and password files, fetched by
the AWS provider through EKS Pod Identity), so a PASS proves the whole chain: the Pod Identity association, the IAM
policy, the SecretProviderClass, the NetworkPolicy to port 5432, the security group, TLS against the RDS CA, and the
credentials themselves. The Job is always deleted afterwards.
"""

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from infra.ops import checks, outputs
from infra.ops.checks import CheckResult
from infra.ops.errors import OpsError, one_line
from infra.ops.kube import TIMEOUT
from infra.ops.waiting import Clock, wait_for

NAME = "database login"
APP_LABEL = "helloworld-dblogin"  # not `helloworld`: the app's Service and PodDisruptionBudget must not select it
SERVICE_ACCOUNT = "helloworld"
SECRET_PROVIDER_CLASS = "helloworld-db"
CA_CONFIGMAP, CA_KEY = "rds-ca-bundle", "global-bundle.pem"
SECRET_DIR, CA_DIR = "/mnt/db", "/etc/rds"
# The official image's client; its alpine variant runs as user postgres, UID/GID 70 (docker-library/postgres).
# Docker Hub's official image through AWS's public mirror: no anonymous pull limit shared by every node behind the NAT.
IMAGE = "public.ecr.aws/docker/library/postgres:17-alpine"
POSTGRES_UID = 70
DEADLINE_SECONDS = 120  # Kubernetes stops the pod even if this process dies mid-check
TTL_SECONDS = 300  # ... and removes the finished Job
JOB_LABEL = "batch.kubernetes.io/job-name"  # set by the Job controller on its pods (Kubernetes >= 1.27)
LOG_LINES = 5

# Values arrive as environment variables, so nothing from the stack is ever parsed as shell. `set -eu` stops before
# psql when a secret file is missing; connect_timeout keeps an unreachable host from using up the deadline.
SCRIPT = f"""set -eu
user="$(cat {SECRET_DIR}/username)"
PGPASSWORD="$(cat {SECRET_DIR}/password)"
export PGPASSWORD
exec psql -X -v ON_ERROR_STOP=1 -At \\
  "host=$DB_HOST port=$DB_PORT dbname=$DB_NAME user=$user connect_timeout=10 sslmode=verify-full \\
sslrootcert={CA_DIR}/{CA_KEY}" -c 'select 1'
"""


def job_name() -> str:
    """Chosen here, not by generateName: the Job can be deleted even when the create call's answer was lost."""
    return f"{APP_LABEL}-{secrets.token_hex(4)}"


def login_job(name: str, namespace: str, host: str, port: int, dbname: str) -> dict[str, Any]:
    """The Job manifest: one try, bounded in time, Pod Security `restricted`, read-only everything."""
    labels = {"app": APP_LABEL}
    container = {
        "name": "psql",
        "image": IMAGE,
        "command": ["sh", "-c", SCRIPT],  # replaces the image's server entrypoint
        "env": [
            {"name": "DB_HOST", "value": host},
            {"name": "DB_PORT", "value": str(port)},
            {"name": "DB_NAME", "value": dbname},
        ],
        "resources": {
            "requests": {"cpu": "50m", "memory": "32Mi"},
            "limits": {"cpu": "250m", "memory": "64Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": POSTGRES_UID,
            "runAsGroup": POSTGRES_UID,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "db-secret", "mountPath": SECRET_DIR, "readOnly": True},
            {"name": "rds-ca", "mountPath": CA_DIR, "readOnly": True},
        ],
    }
    pod = {
        "serviceAccountName": SERVICE_ACCOUNT,
        # The CSI driver requests the ServiceAccount's token for Pod Identity itself; psql needs no Kubernetes API.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [
            {
                "name": "db-secret",
                "csi": {
                    "driver": "secrets-store.csi.k8s.io",
                    "readOnly": True,
                    "volumeAttributes": {"secretProviderClass": SECRET_PROVIDER_CLASS},
                },
            },
            {"name": "rds-ca", "configMap": {"name": CA_CONFIGMAP, "items": [{"key": CA_KEY, "path": CA_KEY}]}},
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


Timeout = tuple[float, float]


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
        self, name: str, namespace: str, *, tail_lines: int, _request_timeout: Timeout
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


def _pod_story(core: PodsApi, name: str, namespace: str, timeout: Timeout) -> str:
    """Why the Job's pod did not log in: its log tail, else its last warning event (a failed CSI mount shows only
    there), else its phase."""
    pods = core.list_namespaced_pod(namespace, label_selector=f"{JOB_LABEL}={name}", _request_timeout=timeout).items
    if not pods:
        return "no pod was created (quota, admission or an unknown ServiceAccount: `kubectl describe job`)"
    pod = pods[0]
    status = pod.status
    containers = (status.container_statuses if status else None) or []
    if any(c.state and (c.state.terminated or c.state.running) for c in containers):  # else there is no log yet
        log = core.read_namespaced_pod_log(pod.metadata.name, namespace, tail_lines=LOG_LINES, _request_timeout=timeout)
        lines = [ln.strip() for ln in str(log or "").splitlines() if ln.strip()]
        if lines:
            return " / ".join(lines)
    selector = f"involvedObject.name={pod.metadata.name},type=Warning"
    events = core.list_namespaced_event(namespace, field_selector=selector, _request_timeout=timeout).items
    if events:
        last = max(events, key=lambda e: str(e.last_timestamp or e.event_time or ""))
        return f"{last.reason}: {' '.join(str(last.message or '').split())}"
    return f"pod {pod.metadata.name} is {(status.phase if status else None) or 'unknown'}"


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
) -> CheckResult:
    """PASS only when the Job's `psql ... -c 'select 1'` exits 0; FAIL with one line otherwise. Always deletes it,
    Ctrl-C included."""
    namespace = outputs.text(out, "helloworldNamespace")
    host, port, dbname = outputs.text(out, "dbEndpoint"), outputs.integer(out, "dbPort"), outputs.text(out, "dbName")
    job = _LoginJob(jobs, core, name or job_name(), namespace, request_timeout)
    leftover = ""
    try:
        body = login_job(job.name, namespace, host, port, dbname)
        result = job.run(body, f"{host}:{port}/{dbname}", timeout=timeout, interval=interval, clock=clock, say=say)
    finally:
        leftover = "" if job.taken else job.delete()
    return CheckResult(result.name, result.status, f"{result.detail}; {leftover}") if leftover else result


@dataclass
class _LoginJob:
    jobs: JobsApi
    core: PodsApi
    name: str
    namespace: str
    timeout: Timeout
    taken: bool = False  # the name belongs to another Job: never delete it

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
        try:
            self.jobs.create_namespaced_job(self.namespace, body, _request_timeout=self.timeout)
        except Exception as err:  # without an answer the Job may exist all the same: it is deleted anyway
            self.taken = isinstance(err, ApiException) and err.status == 409
            return checks.failed(NAME, f"cannot create Job {self}: {one_line(err)}")
        outcome: list[str | None] = [None]

        def probe() -> tuple[bool, str]:
            outcome[0] = _outcome(
                self.jobs.read_namespaced_job_status(self.name, self.namespace, _request_timeout=self.timeout)
            )
            return outcome[0] is not None, outcome[0] or "running"

        try:
            wait_for(f"Job {self}", probe, timeout=timeout, interval=interval, clock=clock, out=say)
        except OpsError:
            return checks.failed(NAME, f"no result within {timeout:g}s: {self.explain()}")
        if outcome[0] == "succeeded":
            return checks.passed(NAME, f"psql logged in to {where} over verified TLS (select 1)")
        return checks.failed(NAME, f"psql could not log in to {where}: {self.explain()}")

    def explain(self) -> str:
        try:
            return _pod_story(self.core, self.name, self.namespace, self.timeout)
        except Exception as err:  # the verdict stands without the story
            return f"(pod details unavailable: {one_line(err)})"

    def delete(self) -> str:
        """Delete the Job and, by Background propagation, its pod; what is left behind, in words ("" when nothing)."""
        try:
            self.jobs.delete_namespaced_job(
                self.name, self.namespace, propagation_policy="Background", _request_timeout=self.timeout
            )
        except ApiException as err:
            if err.status == 404:  # never created, or already gone
                return ""
            problem = one_line(err)
        except Exception as err:
            problem = one_line(err)
        else:
            return ""
        return f"Job {self} not deleted ({problem}): Kubernetes removes it {TTL_SECONDS}s after it ends"
