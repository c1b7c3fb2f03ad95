"""Servers on loopback for tests that drive real clients (kubectl, the AWS CLI, psql): a test CA, a TLS server
playing the Kubernetes API, and a throwaway PostgreSQL with TLS. Every process started here is stopped here."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NoReturn

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
# The names a loopback server's certificate is valid for: clients dial `localhost` (psql) or the address (kubectl).
LOOPBACK_NAMES: Sequence[x509.GeneralName] = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
)
BOUNDED_WAIT = 20  # seconds: the longest any server start, stop or client run here may take
# This venv's `aws` (requirements-dev.txt) first, then the machine's kubectl, psql and PostgreSQL.
CLIENT_PATH = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])


def skip_loudly(reason: str) -> NoReturn:
    """Skip, and say so in the warnings summary that every pytest run prints (a bare skip is one letter)."""
    warnings.warn(f"real-client test skipped: {reason}", UserWarning, stacklevel=2)
    pytest.skip(reason)


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class TestCA:
    """A certificate authority made for one test module; `issue` signs server certificates."""

    __test__ = False  # not a pytest test class, whatever its name
    name: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def subject(self) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])

    @cached_property
    def certificate(self) -> x509.Certificate:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(self.subject)
            .issuer_name(self.subject)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )  # keyCertSign, cRLSign
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, folder: Path, stem: str, names: Sequence[x509.GeneralName] = LOOPBACK_NAMES) -> tuple[Path, Path]:
        """A server certificate for `names`, written as `stem.crt` and `stem.key` (0600) in folder."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, stem)]))
            .issuer_name(self.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = folder / f"{stem}.crt", folder / f"{stem}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.touch(mode=0o600)
        key_file.write_bytes(_pem(key))
        return cert_file, key_file


# ---------------------------------------------------------------------------------------------- the Kubernetes API
# What `kubectl get --raw /version` prints from EKS: the API server's version.Info.
VERSION_INFO = {"major": "1", "minor": "33", "gitVersion": "v1.33.5-eks-3025e55", "platform": "linux/amd64"}


class FakeKubeApi(ThreadingHTTPServer):
    """Answers GET /version over TLS like an API server and keeps each request's bearer token, in order."""

    daemon_threads = True

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        super().__init__((LOOPBACK, 0), _KubeApiHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.tokens: list[str] = []

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.server_address[1]}"


class _KubeApiHandler(BaseHTTPRequestHandler):
    server: FakeKubeApi

    def do_GET(self) -> None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer" or not token:
            self._answer(401, {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401})
            return
        self.server.tokens.append(token)
        if self.path == "/version":
            self._answer(200, VERSION_INFO)
        else:
            self._answer(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})

    def _answer(self, status: int, body: Mapping[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: a test reads `tokens`, not the access log


@contextmanager
def kube_api(cert_file: Path, key_file: Path) -> Iterator[FakeKubeApi]:
    server = FakeKubeApi(cert_file, key_file)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(BOUNDED_WAIT)


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a real client: this venv's `aws` first on PATH, a private HOME, no proxy, no
    credentials or AWS config from the machine, and never the EC2 instance metadata service."""
    env = {
        "PATH": CLIENT_PATH,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_PROXY": "*",
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update(extra)
    return env


def require_client(name: str) -> str:
    """The client's path; skips loudly when the machine lacks it (the base image and requirements-dev.txt have all)."""
    found = shutil.which(name, path=CLIENT_PATH)
    if found is None:
        skip_loudly(f"`{name}` is not installed, so the real-client test cannot run")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


# ---------------------------------------------------------------------------------------------- PostgreSQL
@dataclass(frozen=True)
class LocalPostgres:
    """A PostgreSQL server in a temporary directory: TLS on (a certificate from `ca` for the name `localhost` only),
    TCP on localhost only with hostssl + scram-sha-256, the unix socket (trust, for setup) inside the directory."""

    folder: Path
    port: int
    bindir: Path
    os_user: str

    def as_os_user(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.os_user, "--", *argv] if os.geteuid() == 0 else list(argv)

    def sql(self, statement: str) -> str:
        """Run one statement as the superuser over the unix socket."""
        psql = str(self.bindir / "psql")
        argv = [psql, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.folder), "-p", str(self.port), "-d"]
        done = _run(self.as_os_user(*argv, "postgres", "-c", statement))
        return done.stdout.strip()


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=BOUNDED_WAIT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def _postgres_bindir() -> Path:
    initdb = shutil.which("initdb") or "/usr/lib/postgresql/15/bin/initdb"
    bindir = Path(os.path.realpath(initdb)).parent
    if not (bindir / "pg_ctl").exists():
        skip_loudly(f"no PostgreSQL server binaries (initdb, pg_ctl) at {bindir}")
    return bindir


def _os_user() -> str:
    """initdb refuses root: as root, run the server as the image's `postgres` user."""
    if os.geteuid() != 0:
        return ""
    if shutil.which("runuser") is None:
        skip_loudly("running as root without `runuser`, and initdb refuses to run as root")
    try:
        subprocess.run(["id", "-u", "postgres"], capture_output=True, check=True, timeout=BOUNDED_WAIT)
    except subprocess.CalledProcessError:
        skip_loudly("running as root and there is no `postgres` user for initdb to run as")
    return "postgres"


@contextmanager
def local_postgres(ca: TestCA) -> Iterator[LocalPostgres]:
    bindir, os_user = _postgres_bindir(), _os_user()
    # Not pytest's tmp_path: its parents are root's 0700 directories, which the server's user cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="infra-pg-"))
    server = LocalPostgres(folder=folder, port=free_port(), bindir=bindir, os_user=os_user)
    data = folder / "data"
    try:
        cert_file, key_file = ca.issue(folder, "localhost", [x509.DNSName("localhost")])  # as RDS: a name, no address
        if os_user:
            shutil.chown(folder, os_user)
            for path in (cert_file, key_file):
                shutil.chown(path, os_user)
        _run(server.as_os_user(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust"))
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n"
        )
        options = {
            "port": server.port,
            "listen_addresses": "localhost",
            "unix_socket_directories": folder,
            "ssl": "on",
            "ssl_cert_file": cert_file,
            "ssl_key_file": key_file,
            "fsync": "off",  # a throwaway server: start fast
        }
        settings = " ".join(f"-c {key}={value}" for key, value in options.items())
        pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", settings]
        _run(server.as_os_user(*pg_ctl, "-w", "-t", str(BOUNDED_WAIT), "start"))
        try:
            yield server
        finally:
            _run(server.as_os_user(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- a container, locally
# Runs in a private mount namespace: binds each volume at its mount path (a missing mount point is made on an
# overlay of its nearest existing parent, so the machine's own directories never change), then runs the
# container's command as its user. Arguments: UID GID WORKDIR SCRATCH [SOURCE TARGET]... -- COMMAND...
_MOUNT_AND_RUN = r"""set -eu
uid=$1 gid=$2 workdir=$3 scratch=$4
shift 4
while [ "$1" != "--" ]; do
  source=$1 target=$2
  shift 2
  if [ ! -d "$target" ]; then
    parent=$(dirname "$target")
    while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done
    layer=$(mktemp -d "$scratch/overlay.XXXXXX")
    mkdir "$layer/upper" "$layer/work"
    mount -t overlay overlay -o "lowerdir=$parent,upperdir=$layer/upper,workdir=$layer/work" "$parent"
    mkdir -p "$target"
  fi
  mount --bind "$source" "$target"
done
shift
cd "$workdir"
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"
"""


def run_in_container(
    command: Sequence[str],
    env: Mapping[str, str],
    mounts: Sequence[tuple[Path, str]],
    user: tuple[int, int],
    scratch: Path,
    workdir: str = "/",  # where a container starts when neither its image nor its spec says otherwise
) -> subprocess.CompletedProcess[str]:
    """Run a container's command on this machine with its volumes at their mount paths (`mounts`: local folder,
    mount path) as its user; stdout and stderr together, as `kubectl logs` shows them. Needs root (a mount
    namespace); skips loudly without it."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        skip_loudly("running a container's command at its mount paths needs root, unshare and setpriv")
    pairs = [str(part) for source, target in mounts for part in (source, target)]
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _MOUNT_AND_RUN, "sh"]
    argv += [str(user[0]), str(user[1]), workdir, str(scratch), *pairs, "--", *command]
    return subprocess.run(
        argv, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=BOUNDED_WAIT
    )
