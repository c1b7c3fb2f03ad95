"""The `database login` verify row: its Job manifest (kubernetes-validate at 1.35, the issue's fields), its shell
script (run for real, with psql stood in), and the check against a fake Kubernetes API: PASS, FAIL, timeout, and
the Job deleted every time. One test drives the real kubernetes client against a local HTTP server, so the
calls' paths and parameters are the API's own.
"""

import json
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import kubernetes_validate
import pytest
import yaml
from fakes import FakeClock, kubeconfig, send_json, serving
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from infra.ops.clients.kube import Kube
from infra.ops.report import CheckResult
from infra.ops.verify import db_login
from infra.ops.verify.db_login import check_login, login_job
from infra.ops.waiting import Clock, Stopped

K8S = "1.35.0"
OUT: dict[str, Any] = {
    "helloworldNamespace": "apps",
    "dbEndpoint": "infra-foo.abc.us-west-2.rds.amazonaws.com",
    "dbPort": 5432,
    "dbName": "app",
    "region": "us-west-2",
}
JOB = "helloworld-dblogin-0a1b2c3d"
WHERE = "infra-foo.abc.us-west-2.rds.amazonaws.com:5432/app"


def manifest() -> dict[str, Any]:
    return login_job(JOB, "apps", OUT["dbEndpoint"], 5432, "app", "us-west-2")


def pod_spec() -> dict[str, Any]:
    return manifest()["spec"]["template"]["spec"]


# ---------------------------------------------------------------- the manifest


def test_job_passes_strict_schema_of_kubernetes_1_35(tmp_path: Path) -> None:
    assert K8S in kubernetes_validate.utils.all_versions()  # else validate() silently uses older schemas
    assert kubernetes_validate.validate(manifest(), K8S, strict=True) == "1.35"  # the schema set it used
    # the command-line validator on the YAML `kubectl apply -f` would read
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(manifest()))
    tool = Path(sys.executable).parent / "kubernetes-validate"
    done = subprocess.run([str(tool), "--strict", "-k", K8S, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_job_tries_once_ends_by_itself_and_is_not_selected_by_the_app() -> None:
    job = manifest()
    assert job["metadata"] == {"name": JOB, "namespace": "apps", "labels": {"app": "helloworld-dblogin"}}
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert 0 < spec["activeDeadlineSeconds"] <= 300
    assert 0 < spec["ttlSecondsAfterFinished"] <= 3600
    assert spec["template"]["metadata"]["labels"] == {"app": "helloworld-dblogin"}
    assert pod_spec()["restartPolicy"] == "Never"


def containers() -> tuple[dict[str, Any], dict[str, Any]]:
    pod = pod_spec()
    ((token,), (psql,)) = pod["initContainers"], pod["containers"]
    return token, psql


def test_job_makes_an_iam_token_as_the_apps_identity_and_mounts_no_credentials() -> None:
    pod = pod_spec()
    assert pod["serviceAccountName"] == "helloworld"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert not any("csi" in v or "secret" in v for v in volumes.values()), "no credential is mounted"
    token, psql = containers()
    assert token["image"].startswith(
        "public.ecr.aws/aws-cli/aws-cli:2.36.15@sha256:"
    )  # >= 2.15.0: reads Pod Identity credentials
    assert "aws rds generate-db-auth-token" in token["command"][2]
    token_env = {e["name"]: e["value"] for e in token["env"]}
    assert {k: token_env[k] for k in ("DB_HOST", "DB_PORT", "DB_USER", "AWS_REGION")} == {
        "DB_HOST": OUT["dbEndpoint"],
        "DB_PORT": "5432",
        "DB_USER": "helloworld_app",
        "AWS_REGION": "us-west-2",
    }
    # The token goes from one container to the other through memory only.
    (shared,) = {m["name"] for m in token["volumeMounts"]} & {m["name"] for m in psql["volumeMounts"]}
    assert volumes[shared] == {"name": shared, "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}}
    mounts = {m["mountPath"]: m for m in psql["volumeMounts"]}
    ca = volumes[mounts["/etc/rds"]["name"]]
    assert ca["configMap"] == {
        "name": "rds-ca-bundle",
        "items": [{"key": "global-bundle.pem", "path": "global-bundle.pem"}],
    }
    assert mounts["/etc/rds"]["readOnly"] is True


def test_job_is_the_official_postgres_client_under_pod_security_restricted() -> None:
    pod = pod_spec()
    token, container = containers()
    reference, _, digest = container["image"].partition("@")
    repository, _, tag = reference.partition(":")
    assert repository == "public.ecr.aws/docker/library/postgres"  # Docker's official image, via AWS's mirror
    assert tag.split("-")[0].isdigit() and tag.endswith("-alpine")  # a pinned major...
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64  # ...and image, by digest
    for each in (token, container):
        assert each["command"][:2] == ["sh", "-c"]  # not the image's entrypoint
        sc = each["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 65532 and sc["runAsGroup"] == 65532
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert set(each["resources"]["requests"]) == {"cpu", "memory"}
        assert set(each["resources"]["limits"]) == {"cpu", "memory"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "HOME": "/work",  # the root filesystem is read-only
        "DB_HOST": OUT["dbEndpoint"],
        "DB_PORT": "5432",
        "DB_USER": "helloworld_app",
        "DB_NAME": "app",
    }


# ---------------------------------------------------------------- the scripts, run by a real shell

FAKE_PSQL = """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD"
printf '%s' "$PGPASSWORD" > "$RECORD.password"
"""
FAKE_AWS = """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD.aws"
printf 'host:5432/?Action=connect&X-Amz-Signature=abc\\n'
"""


def tools(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("psql", FAKE_PSQL), ("aws", FAKE_AWS)):
        tool = bin_dir / name
        tool.write_text(text)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def run_script(
    tmp_path: Path, script: str, *, files: dict[str, str], host: str = OUT["dbEndpoint"]
) -> tuple[int, list[str], str]:
    """A Job script with /work pointed at a temporary directory and a psql/aws that record what they were given."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    for name, text in files.items():
        (work / name).write_text(text)
    record = tmp_path / "argv"
    env = {
        "PATH": f"{tools(tmp_path)}:/usr/bin:/bin",
        "RECORD": str(record),
        "DB_HOST": host,
        "DB_PORT": "5432",
        "DB_NAME": "app",
        "DB_USER": "helloworld_app",
        "AWS_REGION": "us-west-2",
    }
    done = subprocess.run(["sh", "-c", script.replace("/work/", f"{work}/")], env=env, capture_output=True, text=True)
    if not record.exists():
        return done.returncode, [], ""
    return done.returncode, record.read_text().splitlines(), Path(f"{record}.password").read_text()


def test_token_script_asks_for_the_app_users_token_into_the_work_dir(tmp_path: Path) -> None:
    code, _, _ = run_script(tmp_path, db_login.TOKEN_SCRIPT, files={})
    assert code == 0
    argv = (tmp_path / "argv.aws").read_text().splitlines()
    assert argv[:2] == ["rds", "generate-db-auth-token"]
    asked = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert asked == {
        "--hostname": OUT["dbEndpoint"],
        "--port": "5432",
        "--username": "helloworld_app",
        "--region": "us-west-2",
    }
    token = tmp_path / "work" / "token"
    assert token.read_text() == "host:5432/?Action=connect&X-Amz-Signature=abc\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_script_runs_psql_as_the_app_user_with_verified_tls_and_the_token(tmp_path: Path) -> None:
    code, argv, password = run_script(tmp_path, db_login.SCRIPT, files={"token": "tok$(x)en\n"})
    assert code == 0
    conninfo = (
        f"host={OUT['dbEndpoint']} port=5432 dbname=app user=helloworld_app connect_timeout=10 sslmode=verify-full "
        "sslrootcert=/etc/rds/global-bundle.pem"
    )
    assert conninfo in argv
    assert argv[argv.index("-c") + 1] == "select 1"
    assert password == "tok$(x)en"  # from the file, verbatim, never on the command line
    assert not any("tok" in a for a in argv)


def test_script_stops_before_psql_without_a_token(tmp_path: Path) -> None:
    code, argv, _ = run_script(tmp_path, db_login.SCRIPT, files={})
    assert code != 0 and argv == []


def test_stack_values_are_never_run_as_shell(tmp_path: Path) -> None:
    code, argv, _ = run_script(tmp_path, db_login.SCRIPT, files={"token": "t"}, host="$(touch pwned)")
    assert code == 0
    assert not (tmp_path / "pwned").exists()
    assert any(a.startswith("host=$(touch pwned) ") for a in argv)


@pytest.mark.skipif(shutil.which("psql") is None, reason="no psql client here")
def test_real_psql_accepts_the_connection_string(tmp_path: Path) -> None:
    """libpq parses the conninfo: an unknown or misspelled keyword would fail with "invalid connection option"."""
    _, argv, _ = run_script(tmp_path, db_login.SCRIPT, files={"token": "t"})
    conninfo = next(a for a in argv if a.startswith("host="))
    free = 1  # port 1 on 127.0.0.1: nothing listens, so libpq gets as far as connecting
    conninfo = conninfo.replace(OUT["dbEndpoint"], "127.0.0.1").replace("port=5432", f"port={free}")
    done = subprocess.run(["psql", "-X", conninfo, "-c", "select 1"], capture_output=True, text=True, timeout=20)
    assert done.returncode == 2, done.stderr
    assert "invalid connection option" not in done.stderr and "127.0.0.1" in done.stderr


# ---------------------------------------------------------------- the check against a fake API


class FakeBatch:
    """BatchV1Api's three calls; Job status answers play in order (the last one repeats)."""

    def __init__(
        self,
        statuses: list[client.V1JobStatus | Exception],
        *,
        create_error: Exception | None = None,
        delete_error: Exception | None = None,
    ) -> None:
        self.statuses = statuses
        self.create_error = create_error
        self.delete_error = delete_error
        self.created: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str, dict[str, Any]]] = []
        self.timeouts: list[Any] = []

    def create_namespaced_job(self, namespace: str, body: Any, **kwargs: Any) -> Any:
        self.timeouts.append(kwargs.pop("_request_timeout", None))
        assert namespace == body["metadata"]["namespace"] and not kwargs
        self.created.append(body)
        if self.create_error:
            raise self.create_error
        return client.V1Job(metadata=client.V1ObjectMeta(name=body["metadata"]["name"], namespace=namespace))

    def read_namespaced_job_status(self, name: str, namespace: str, **kwargs: Any) -> Any:
        self.timeouts.append(kwargs.pop("_request_timeout", None))
        assert name == self.created[-1]["metadata"]["name"] and not kwargs
        answer = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if isinstance(answer, Exception):
            raise answer
        return client.V1Job(metadata=client.V1ObjectMeta(name=name, namespace=namespace), status=answer)

    def delete_namespaced_job(self, name: str, namespace: str, **kwargs: Any) -> Any:
        self.timeouts.append(kwargs.pop("_request_timeout", None))
        self.deleted.append((namespace, name, kwargs))
        if self.delete_error:
            raise self.delete_error
        return client.V1Status(status="Success")


def exited(name: str, code: int) -> client.V1ContainerStatus:
    state = client.V1ContainerState(terminated=client.V1ContainerStateTerminated(exit_code=code))
    return client.V1ContainerStatus(name=name, image="", image_id="", ready=False, restart_count=0, state=state)


def terminated_pod(name: str, token_exit: int = 0) -> client.V1Pod:
    """psql exited 2 after the token container exited 0; or (token_exit) the token container failed first."""
    state = client.V1ContainerState(terminated=client.V1ContainerStateTerminated(exit_code=2, reason="Error"))
    if token_exit:
        state = client.V1ContainerState(waiting=client.V1ContainerStateWaiting(reason="PodInitializing"))
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        status=client.V1PodStatus(
            phase="Failed",
            init_container_statuses=[exited("iam-token", token_exit)],
            container_statuses=[
                client.V1ContainerStatus(
                    name="psql", image="postgres:17-alpine", image_id="", ready=False, restart_count=0, state=state
                )
            ],
        ),
    )


def creating_pod(name: str) -> client.V1Pod:
    state = client.V1ContainerState(waiting=client.V1ContainerStateWaiting(reason="ContainerCreating"))
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        status=client.V1PodStatus(
            phase="Pending",
            container_statuses=[
                client.V1ContainerStatus(
                    name="psql", image="postgres:17-alpine", image_id="", ready=False, restart_count=0, state=state
                )
            ],
        ),
    )


class FakeCore:
    """CoreV1Api's pod, log and event reads, recording their parameters."""

    def __init__(self, pods: list[client.V1Pod], log: str = "", events: list[client.CoreV1Event] | None = None) -> None:
        self.pods, self.log, self.events = pods, log, events or []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list_namespaced_pod(self, namespace: str, **kwargs: Any) -> Any:
        self.calls.append(("pods", kwargs))
        return client.V1PodList(items=self.pods)

    def read_namespaced_pod_log(self, name: str, namespace: str, **kwargs: Any) -> Any:
        self.calls.append(("log", {"name": name, **kwargs}))
        return self.log

    def list_namespaced_event(self, namespace: str, **kwargs: Any) -> Any:
        self.calls.append(("events", kwargs))
        return client.CoreV1EventList(items=self.events)


RUNNING = client.V1JobStatus(active=1)
SUCCEEDED = client.V1JobStatus(succeeded=1, conditions=[client.V1JobCondition(type="Complete", status="True")])
FAILED = client.V1JobStatus(
    failed=1, conditions=[client.V1JobCondition(type="Failed", status="True", reason="BackoffLimitExceeded")]
)


def run(batch: FakeBatch, core: FakeCore, timeout: float = 90.0) -> CheckResult:
    return check_login(OUT, batch, core, timeout=timeout, clock=FakeClock().clock, name=JOB)


def assert_deleted_once(batch: FakeBatch) -> None:
    assert batch.deleted == [("apps", JOB, {"propagation_policy": "Background"})]


def test_pass_only_when_the_job_succeeds_and_the_job_is_deleted() -> None:
    batch, core = FakeBatch([RUNNING, RUNNING, SUCCEEDED]), FakeCore([])
    result = run(batch, core)
    assert (result.name, result.status) == ("database login", "PASS")
    assert WHERE in result.detail
    assert batch.created[0]["metadata"]["name"] == JOB and batch.created[0]["kind"] == "Job"
    assert_deleted_once(batch)
    assert all(t is not None for t in batch.timeouts)  # every call is bounded
    assert core.calls == []  # nothing to explain


def test_fail_carries_the_psql_error_from_the_log_and_the_job_is_deleted() -> None:
    log = (
        'psql: error: connection to server at "10.0.3.7", port 5432 failed: FATAL:  PAM authentication failed '
        'for user "helloworld_app"\n'
    )
    batch, core = FakeBatch([RUNNING, FAILED]), FakeCore([terminated_pod(f"{JOB}-x7k2p")], log=log)
    result = run(batch, core)
    assert result.status == "FAIL"
    assert result.detail.startswith(f"psql could not log in to {WHERE}: psql: error:")
    assert "PAM authentication failed" in result.detail and "\n" not in result.detail
    assert_deleted_once(batch)
    (pods_call, log_call) = core.calls
    assert pods_call[1]["label_selector"] == f"batch.kubernetes.io/job-name={JOB}"
    assert log_call[1]["name"] == f"{JOB}-x7k2p" and log_call[1]["tail_lines"] > 0
    assert log_call[1]["container"] == "psql"  # a pod of two containers: the API refuses a log read without one


def test_a_token_that_could_not_be_made_says_so_from_the_token_containers_log() -> None:
    log = '\nUnable to locate credentials. You can configure credentials by running "aws configure".\n'
    batch, core = FakeBatch([FAILED]), FakeCore([terminated_pod(f"{JOB}-x7k2p", token_exit=255)], log=log)
    result = run(batch, core)
    assert result.detail == (
        f"psql could not log in to {WHERE}: no IAM auth token for helloworld_app: Unable to locate credentials. "
        'You can configure credentials by running "aws configure".'
    )
    assert core.calls[1][1]["container"] == "iam-token"
    assert_deleted_once(batch)


def test_a_pod_that_never_starts_times_out_with_its_warning_and_the_job_is_deleted() -> None:
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="e1"),
        involved_object=client.V1ObjectReference(name=f"{JOB}-x7k2p"),
        reason="Failed",
        type="Warning",
        message='Failed to pull image "public.ecr.aws/aws-cli/aws-cli:2.36.15":\n i/o timeout',
        last_timestamp=datetime(2026, 11, 27, 22, 0, tzinfo=UTC),
    )
    batch, core = FakeBatch([RUNNING]), FakeCore([creating_pod(f"{JOB}-x7k2p")], events=[event])
    result = run(batch, core, timeout=30)
    assert result.status == "FAIL"
    assert result.detail.startswith("no result within 30s: Failed: Failed to pull image")
    assert "i/o timeout" in result.detail and "\n" not in result.detail
    assert_deleted_once(batch)
    assert [c[0] for c in core.calls] == ["pods", "events"]  # no log: the container never started
    assert core.calls[1][1]["field_selector"] == f"involvedObject.name={JOB}-x7k2p,type=Warning"


@pytest.mark.parametrize(
    "status",
    [
        # the failed pod is counted before the Job's Failed condition (FailureTarget first, Kubernetes >= 1.31)
        client.V1JobStatus(failed=1, conditions=[client.V1JobCondition(type="FailureTarget", status="True")]),
        client.V1JobStatus(conditions=[client.V1JobCondition(type="Failed", status="True", reason="DeadlineExceeded")]),
    ],
)
def test_either_sign_of_failure_ends_the_wait(status: client.V1JobStatus) -> None:
    batch, core = FakeBatch([RUNNING, status]), FakeCore([terminated_pod(f"{JOB}-x7k2p")], log="psql: error: x")
    result = run(batch, core)
    assert (result.status, result.detail) == ("FAIL", f"psql could not log in to {WHERE}: psql: error: x")
    assert_deleted_once(batch)


def test_job_without_a_pod_says_so() -> None:
    batch, core = FakeBatch([FAILED]), FakeCore([])
    result = run(batch, core)
    assert result.status == "FAIL" and "no pod was created" in result.detail
    assert_deleted_once(batch)


def test_api_hiccups_while_waiting_do_not_decide() -> None:
    batch, core = FakeBatch([ApiException(status=503, reason="Service Unavailable"), SUCCEEDED]), FakeCore([])
    assert run(batch, core).status == "PASS"
    assert_deleted_once(batch)


def test_create_refused_is_a_fail_and_still_deletes_in_case_it_exists() -> None:
    batch = FakeBatch([RUNNING], create_error=ApiException(status=403, reason="Forbidden"))
    result = run(batch, FakeCore([]))
    assert result.status == "FAIL"
    assert result.detail == f"cannot create Job apps/{JOB}: HTTP 403 Forbidden"
    assert_deleted_once(batch)


def test_a_name_taken_by_another_job_is_left_alone() -> None:
    batch = FakeBatch([RUNNING], create_error=ApiException(status=409, reason="Conflict"))
    assert run(batch, FakeCore([])).status == "FAIL"
    assert batch.deleted == []


def test_a_job_that_could_not_be_deleted_is_named_in_the_detail() -> None:
    batch = FakeBatch([SUCCEEDED], delete_error=ApiException(status=500, reason="Internal Server Error"))
    result = run(batch, FakeCore([]))
    assert result.status == "PASS"  # the login happened; the leftover ends by itself
    assert f"Job apps/{JOB} not deleted (HTTP 500 Internal Server Error)" in result.detail


def test_a_job_already_gone_is_fine() -> None:
    batch = FakeBatch([SUCCEEDED], delete_error=ApiException(status=404, reason="Not Found"))
    result = run(batch, FakeCore([]))
    assert result.status == "PASS" and "not deleted" not in result.detail


def test_ctrl_c_while_waiting_still_deletes_the_job() -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    batch = FakeBatch([RUNNING])
    with pytest.raises(KeyboardInterrupt):
        check_login(OUT, batch, FakeCore([]), timeout=90, clock=Clock(lambda: 0.0, interrupted), name=JOB)
    assert_deleted_once(batch)


class BlockingBatch(FakeBatch):
    """Its first status read blocks until released (a hung API), so an interrupt lands while the check waits;
    records which thread deletes."""

    def __init__(self) -> None:
        super().__init__([RUNNING])
        self.polling, self.release = threading.Event(), threading.Event()
        self.deleters: list[threading.Thread] = []
        self.delete_timeouts: list[tuple[float, float]] = []

    def read_namespaced_job_status(self, name: str, namespace: str, **kwargs: Any) -> Any:
        self.polling.set()
        self.release.wait(timeout=5)
        return super().read_namespaced_job_status(name, namespace, **kwargs)

    def delete_namespaced_job(self, name: str, namespace: str, **kwargs: Any) -> Any:
        self.deleters.append(threading.current_thread())
        self.delete_timeouts.append(kwargs["_request_timeout"])
        return super().delete_namespaced_job(name, namespace, **kwargs)


def check_in_a_worker(batch: FakeBatch, started: db_login.LoginJobs) -> tuple[threading.Thread, list[BaseException]]:
    ended: list[BaseException] = []

    def check() -> None:
        try:
            check_login(OUT, batch, FakeCore([]), timeout=90, clock=FakeClock().clock, name=JOB, started=started)
        except BaseException as err:  # Stopped, once the main thread has taken over
            ended.append(err)

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    return worker, ended


def test_an_interrupt_stops_the_check_and_deletes_the_job_in_the_calling_thread() -> None:
    batch, started = BlockingBatch(), db_login.LoginJobs()
    worker, ended = check_in_a_worker(batch, started)
    assert batch.polling.wait(timeout=5)
    lines = started.interrupt()
    batch.release.set()
    worker.join(timeout=5)
    assert lines == [f"interrupted: deleted Job apps/{JOB} (database login check)"]
    assert batch.deleters == [threading.main_thread()]  # and the check, stopped, does not delete it again
    assert_deleted_once(batch)
    assert [type(err) for err in ended] == [Stopped]
    assert [sum(limits) <= 5.0 for limits in batch.delete_timeouts] == [True]  # an interrupted run ends soon


def test_an_interrupt_before_the_job_is_created_creates_none_and_deletes_nothing() -> None:
    batch, started = FakeBatch([RUNNING]), db_login.LoginJobs()
    assert started.interrupt() == []
    with pytest.raises(Stopped):
        check_login(OUT, batch, FakeCore([]), timeout=90, clock=FakeClock().clock, name=JOB, started=started)
    assert batch.created == [] and batch.deleted == []


def test_an_interrupt_just_before_the_create_call_stops_it() -> None:
    class InterruptedAfterAdding(db_login.LoginJobs):
        def add(self, job: Any) -> None:
            super().add(job)
            self.lines = self.interrupt()  # Ctrl-C between the check's registration and its create call

    batch, started = FakeBatch([RUNNING]), InterruptedAfterAdding()
    with pytest.raises(Stopped):
        check_login(OUT, batch, FakeCore([]), timeout=90, clock=FakeClock().clock, name=JOB, started=started)
    assert batch.created == [] and batch.deleted == [] and started.lines == []


def test_an_interrupt_after_the_check_deleted_its_job_says_nothing() -> None:
    batch, started = FakeBatch([SUCCEEDED]), db_login.LoginJobs()
    check_login(OUT, batch, FakeCore([]), timeout=90, clock=FakeClock().clock, name=JOB, started=started)
    assert started.interrupt() == []
    assert_deleted_once(batch)


def test_an_interrupt_finding_the_job_gone_says_so() -> None:
    batch = BlockingBatch()
    batch.delete_error = ApiException(status=404, reason="Not Found")
    started = db_login.LoginJobs()
    worker, _ = check_in_a_worker(batch, started)
    assert batch.polling.wait(timeout=5)
    assert started.interrupt() == [f"interrupted: Job apps/{JOB} was already gone"]
    batch.release.set()
    worker.join(timeout=5)


def test_names_are_fresh_valid_and_labelled() -> None:
    first, second = db_login.job_name(), db_login.job_name()
    assert first != second and first.startswith("helloworld-dblogin-") and len(first) <= 63


# ---------------------------------------------------------------- the real client against a local API server


@contextmanager
def api_server(job_states: list[dict[str, Any]]) -> Iterator[tuple[str, list[tuple[str, str, Any]]]]:
    """Answers the check's calls as the API server would; records (method, path+query, body)."""
    seen: list[tuple[str, str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def answer(self, body: dict[str, Any], code: int = 200) -> None:
            send_json(self, code, body)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(("POST", self.path, body))
            self.answer(body, 201)

        def do_GET(self) -> None:
            seen.append(("GET", self.path, None))
            status = job_states.pop(0) if len(job_states) > 1 else job_states[0]
            self.answer({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": JOB}, "status": status})

        def do_DELETE(self) -> None:
            seen.append(("DELETE", self.path, None))
            self.answer({"apiVersion": "v1", "kind": "Status", "status": "Success"})

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        yield f"http://127.0.0.1:{port}", seen


def test_real_client_creates_polls_and_deletes_with_background_propagation(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with api_server([{"active": 1}, {"succeeded": 1}]) as (url, seen):
        kube = Kube.from_kubeconfig(kubeconfig(url), timeout=(2.0, 2.0))
        result = check_login(
            OUT, db_login.batch_api(kube.core), kube.core, timeout=60, clock=FakeClock().clock, name=JOB
        )
    assert result.status == "PASS"
    (post, *gets, delete) = seen
    assert post[:2] == ("POST", "/apis/batch/v1/namespaces/apps/jobs") and post[2] == manifest()
    assert [g[1] for g in gets] == [f"/apis/batch/v1/namespaces/apps/jobs/{JOB}/status"] * 2
    path = urlparse(delete[1])
    assert (delete[0], path.path) == ("DELETE", f"/apis/batch/v1/namespaces/apps/jobs/{JOB}")
    assert parse_qs(path.query) == {"propagationPolicy": ["Background"]}
