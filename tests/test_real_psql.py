"""verify's `database login` through real psql: the Job that check_login creates is run here by a local stand-in
for the kubelet (its psql container's own command, environment, mounts and user), against a local PostgreSQL 15
with TLS from a CA made here; check_login turns the outcome into verify's row."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from real_clients import LocalPostgres, TestCA, local_postgres, run_in_container

from infra.ops.report import CheckResult
from infra.ops.verify.db_login import check_login
from infra.ops.waiting import Clock

APP_USER = "helloworld_app"  # the app's own PostgreSQL role, which verify logs in as
APP_DB = "helloworld"
# What the Job's init container (`aws rds generate-db-auth-token`) writes into the work emptyDir: the token RDS
# accepts as this role's password for 15 minutes.
TOKEN_FILE = "token"
TOKEN = f"localhost:5432/?Action=connect&DBUser={APP_USER}&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE&X-Amz-Signature=1f"
# The image's default PATH: the Job's manifest sets none.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NO_WAIT = Clock(lambda: 0.0, lambda _: None)  # the stand-in runs the Job to its end inside create


@pytest.fixture(scope="module")
def rds_ca() -> TestCA:
    return TestCA("Test RDS Root CA")


@pytest.fixture(scope="module")
def database(rds_ca: TestCA) -> Iterator[LocalPostgres]:
    with local_postgres(rds_ca) as server:
        server.sql(f"create role {APP_USER} login password '{TOKEN}'")
        server.sql(f"create database {APP_DB} owner {APP_USER}")
        yield server


def outputs(database: LocalPostgres, host: str) -> dict[str, Any]:
    """The stack outputs check_login reads."""
    return {
        "helloworldNamespace": "helloworld",
        "dbEndpoint": host,
        "dbPort": database.port,
        "dbName": APP_DB,
        "region": "us-west-2",
    }


class LocalKubelet:
    """BatchV1Api and CoreV1Api as check_login calls them. Creating the Job runs it: its volumes are folders (a
    ConfigMap's items as files, the work emptyDir holding what the init container wrote), then each container's
    command at its mount paths as its user. Pod, log and status reads answer from that run."""

    def __init__(self, folder: Path, config_maps: Mapping[str, Mapping[str, str]], written: Mapping[str, str]) -> None:
        self.folder, self.config_maps, self.written = folder, config_maps, written
        self.exit_codes: dict[str, int] = {}
        self.logs: dict[str, str] = {}
        self.deleted: list[str] = []

    def _volume(self, volume: dict[str, Any], user: tuple[int, int]) -> Path:
        path = self.folder / volume["name"]
        path.mkdir()
        if "configMap" in volume:
            data = self.config_maps[volume["configMap"]["name"]]
            for item in volume["configMap"]["items"]:
                (path / item["path"]).write_text(data[item["key"]])
        elif "emptyDir" in volume:  # the init container's output, owned by the user both containers run as
            shutil.chown(path, *user)
            for name, text in self.written.items():
                (path / name).touch(mode=0o600)
                (path / name).write_text(text)
                shutil.chown(path / name, *user)
        return path

    def create_namespaced_job(self, namespace: str, body: Any, *, _request_timeout: Any) -> None:
        spec = body["spec"]["template"]["spec"]
        users = {(c["securityContext"]["runAsUser"], c["securityContext"]["runAsGroup"]) for c in spec["containers"]}
        assert len(users) == 1, f"the containers share the work emptyDir as one user, not {users}"
        user = users.pop()
        folders = {volume["name"]: self._volume(volume, user) for volume in spec["volumes"]}
        for container in spec["containers"]:
            mounts = [(folders[mount["name"]], mount["mountPath"]) for mount in container["volumeMounts"]]
            env = {"PATH": IMAGE_PATH, **{e["name"]: e["value"] for e in container["env"]}}
            done = run_in_container(container["command"], env, mounts, user, self.folder)
            self.exit_codes[container["name"]], self.logs[container["name"]] = done.returncode, done.stdout

    def read_namespaced_job_status(self, name: str, namespace: str, *, _request_timeout: Any) -> client.V1Job:
        ok = all(code == 0 for code in self.exit_codes.values())
        return client.V1Job(status=client.V1JobStatus(succeeded=1) if ok else client.V1JobStatus(failed=1))

    def delete_namespaced_job(self, name: str, namespace: str, **_: Any) -> None:
        self.deleted.append(name)

    def list_namespaced_pod(self, namespace: str, **_: Any) -> client.V1PodList:
        statuses = [
            client.V1ContainerStatus(
                name=name,
                image="",
                image_id="",
                ready=False,
                restart_count=0,
                state=client.V1ContainerState(terminated=client.V1ContainerStateTerminated(exit_code=code)),
            )
            for name, code in self.exit_codes.items()
        ]
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="dblogin-pod"),
            status=client.V1PodStatus(phase="Failed", container_statuses=statuses),
        )
        return client.V1PodList(items=[pod])

    def read_namespaced_pod_log(self, name: str, namespace: str, *, container: str, tail_lines: int, **_: Any) -> str:
        return "\n".join(self.logs[container].splitlines()[-tail_lines:])

    def list_namespaced_event(self, namespace: str, **_: Any) -> client.CoreV1EventList:
        return client.CoreV1EventList(items=[])


def verify_row(
    database: LocalPostgres, tmp_path: Path, ca: TestCA, token: str = TOKEN, host: str = "localhost"
) -> tuple[CheckResult, LocalKubelet]:
    """`host`: the endpoint the stack reports; the server's certificate names `localhost`."""
    kubelet = LocalKubelet(tmp_path, {"rds-ca-bundle": {"global-bundle.pem": ca.pem.decode()}}, {TOKEN_FILE: token})
    row = check_login(outputs(database, host), kubelet, kubelet, timeout=60, clock=NO_WAIT, name="helloworld-dblogin-t")
    assert kubelet.deleted == ["helloworld-dblogin-t"]
    return row, kubelet


def test_psql_logs_in_over_tls_verified_against_the_rds_ca(
    database: LocalPostgres, rds_ca: TestCA, tmp_path: Path
) -> None:
    row, kubelet = verify_row(database, tmp_path, rds_ca)
    assert kubelet.logs == {"psql": "1\n"}
    assert row == CheckResult(
        "database login",
        "PASS",
        f"psql logged in to localhost:{database.port}/helloworld as helloworld_app (IAM token, verified TLS)",
    )


def test_a_server_certificate_from_another_ca_is_refused(database: LocalPostgres, tmp_path: Path) -> None:
    row, kubelet = verify_row(database, tmp_path, TestCA("Some Other CA"))
    assert kubelet.exit_codes == {"psql": 2}
    port = database.port
    assert row == CheckResult(
        "database login",
        "FAIL",
        f'psql could not log in to localhost:{port}/helloworld: psql: error: connection to server at "localhost" '
        f"(127.0.0.1), port {port} failed: SSL error: certificate verify failed",
    )


def test_a_certificate_for_another_name_is_refused(database: LocalPostgres, rds_ca: TestCA, tmp_path: Path) -> None:
    """The right CA, the wrong name: only verify-full (not verify-ca, nor require with a root certificate) sees it."""
    row, _ = verify_row(database, tmp_path, rds_ca, host="127.0.0.1")
    port = database.port
    assert row == CheckResult(
        "database login",
        "FAIL",
        f'psql could not log in to 127.0.0.1:{port}/helloworld: psql: error: connection to server at "127.0.0.1", '
        f'port {port} failed: server certificate for "localhost" (and 1 other name) does not match host name '
        '"127.0.0.1"',  # libpq counts the subject's CN as the other name
    )


def test_a_token_rds_does_not_accept_fails_with_postgresqls_reason(
    database: LocalPostgres, rds_ca: TestCA, tmp_path: Path
) -> None:
    row, _ = verify_row(database, tmp_path, rds_ca, token=TOKEN.replace("Signature=1f", "Signature=2e"))
    port = database.port
    assert row == CheckResult(
        "database login",
        "FAIL",
        f'psql could not log in to localhost:{port}/helloworld: psql: error: connection to server at "localhost" '
        f'(127.0.0.1), port {port} failed: FATAL:  password authentication failed for user "helloworld_app"',
    )
