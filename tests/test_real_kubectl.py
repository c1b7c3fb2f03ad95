"""The stack's kubeconfig through the real clients: kubectl runs the exec plugin, the AWS CLI presigns the token,
and a TLS API server on loopback receives it. The token is checked the way EKS checks it (aws-iam-authenticator):
a presigned STS GetCallerIdentity URL in the stack's region that signs the `x-k8s-aws-id` header with the
cluster's name, and whose SigV4 signature verifies with the credentials that should have signed it."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from harness import Run, shared_run, with_changes
from moto.server import ThreadedMotoServer
from moto.sts.models import sts_backends
from real_clients import BOUNDED_WAIT, LOOPBACK, VERSION_INFO, FakeKubeApi, TestCA, client_env, kube_api, require_client

from infra.ops import cli
from infra.ops.clients import stack

CLUSTER = "infra-foo"  # the foo stack's EKS cluster: physical names carry the stack
REGION = "us-west-2"  # Pulumi.foo.yaml's aws:region
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/eks-admin"
PROFILE = "infra-admin"
# AWS's documentation example keys: static, fake, never valid anywhere.
BASE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
PROFILE_KEYS = Credentials("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
TOKEN_PREFIX = "k8s-aws-v1."


@dataclass(frozen=True)
class Api:
    server: FakeKubeApi
    ca_file: Path


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("kube-api")
    ca = TestCA("Test Kubernetes CA")
    ca_file = folder / "ca.crt"
    ca_file.write_bytes(ca.pem)
    with kube_api(*ca.issue(folder, "apiserver")) as server:
        yield Api(server, ca_file)


@pytest.fixture(scope="module")
def sts_endpoint() -> Iterator[str]:
    """moto's server answering STS (AssumeRole) on loopback."""
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def written_by_the_verb(run: Run, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file `python -m infra.ops kubeconfig foo -o PATH` writes from the stack's outputs."""
    monkeypatch.setattr(stack, "read_outputs", lambda name: run.outputs)
    path = folder / "foo.kubeconfig"
    assert cli.main(["kubeconfig", "foo", "-o", str(path)]) == 0
    return path


def exported(run: Run, folder: Path, _: pytest.MonkeyPatch) -> Path:
    """The `kubeconfig` stack output saved as it is (`pulumi stack output kubeconfig --show-secrets > FILE`)."""
    path = folder / "exported.kubeconfig"
    path.write_text(run.outputs["kubeconfig"])
    return path


def kubectl_tokens(api: Api, kubeconfig: Path, env: dict[str, str]) -> list[str]:
    """Run `kubectl get --raw /version` with the kubeconfig, only its server and CA pointed at the local API; the
    bearer tokens the API received (the base image's kubectl is gcloud's dispatcher: it asks the server's version
    with the same kubeconfig before it runs the matching kubectl, so there may be more than one)."""
    kubectl = require_client("kubectl")
    before = len(api.server.tokens)
    location = ["--server", api.server.url, "--certificate-authority", str(api.ca_file)]
    done = subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig), *location, "get", "--raw", "/version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUNDED_WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == VERSION_INFO
    received = api.server.tokens[before:]
    assert received, "the API server received no bearer token"
    return received


@dataclass(frozen=True)
class Presigned:
    url: str
    query: dict[str, str]

    @property
    def access_key(self) -> str:
        return self.query["X-Amz-Credential"].split("/")[0]


def presigned(token: str) -> Presigned:
    """The URL inside an EKS token: `k8s-aws-v1.` + unpadded base64url."""
    assert token.startswith(TOKEN_PREFIX)
    encoded = token.removeprefix(TOKEN_PREFIX)
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    return Presigned(url, query)


def expected_signature(url: str, cluster: str, credentials: Credentials) -> str:
    """Recompute the SigV4 query signature with botocore's signer over the URL as received (minus the signature)
    and the header `x-k8s-aws-id: cluster`, as STS does when EKS forwards the call."""
    parts = urlsplit(url)
    unsigned = "&".join(p for p in parts.query.split("&") if not p.startswith("X-Amz-Signature="))
    request = AWSRequest(method="GET", url=parts._replace(query=unsigned).geturl(), headers={"x-k8s-aws-id": cluster})
    request.context["timestamp"] = parse_qs(unsigned)["X-Amz-Date"][0]
    signer = SigV4QueryAuth(credentials, "sts", REGION)
    return str(signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request))


def assert_eks_accepts(
    token: str, signed_by: Credentials, sts: str = "https://sts.us-west-2.amazonaws.com"
) -> Presigned:
    """What EKS checks before it forwards the call to STS, and what STS checks of the signature."""
    call = presigned(token)
    parts = urlsplit(call.url)
    assert (f"{parts.scheme}://{parts.netloc}", parts.path) == (sts, "/")
    assert call.query["Action"] == "GetCallerIdentity"
    assert call.query["Version"] == "2011-06-15"
    assert call.query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    access_key, _date, region, service, terminator = call.query["X-Amz-Credential"].split("/")
    assert (access_key, region, service, terminator) == (signed_by.access_key, REGION, "sts", "aws4_request")
    assert "x-k8s-aws-id" in call.query["X-Amz-SignedHeaders"].split(";")
    assert call.query["X-Amz-Expires"] == "60"
    signed_for_this_cluster = expected_signature(call.url, CLUSTER, signed_by)
    assert call.query["X-Amz-Signature"] == signed_for_this_cluster, (
        f"not signed for {CLUSTER} by {signed_by.access_key}"
    )
    assert call.query.get("X-Amz-Security-Token") == signed_by.token
    return call


@pytest.mark.parametrize("write", [exported, written_by_the_verb], ids=["stack output", "kubeconfig verb"])
def test_the_aws_cli_signs_a_token_eks_accepts_for_this_cluster(
    write: Callable[[Run, Path, pytest.MonkeyPatch], Path],
    foo: Run,
    api: Api,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = client_env(tmp_path, AWS_ACCESS_KEY_ID=BASE.access_key, AWS_SECRET_ACCESS_KEY=BASE.secret_key)
    for token in kubectl_tokens(api, write(foo, tmp_path, monkeypatch), env):
        call = assert_eks_accepts(token, signed_by=BASE)
        assert call.query["X-Amz-Signature"] != expected_signature(call.url, "infra-prod", BASE)  # one cluster only


def test_with_a_role_the_token_carries_the_roles_credentials(
    api: Api, sts_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = shared_run(with_changes({"infra:cluster.kubeconfigRoleArn": ROLE_ARN, "infra:cluster.adminArns": [ROLE_ARN]}))
    env = client_env(
        tmp_path,
        AWS_ACCESS_KEY_ID=BASE.access_key,
        AWS_SECRET_ACCESS_KEY=BASE.secret_key,
        AWS_ENDPOINT_URL_STS=sts_endpoint,  # AssumeRole goes to moto (and so does the presigned URL's host)
    )
    for token in kubectl_tokens(api, written_by_the_verb(run, tmp_path, monkeypatch), env):
        access_key = presigned(token).access_key
        assert access_key != BASE.access_key
        # STS's side: the session this key belongs to, and its secret, to check the signature with.
        role = sts_backends[ACCOUNT]["aws"].get_assumed_role_from_access_key(access_key)
        assert role is not None, f"{access_key} is not a key STS issued by AssumeRole"
        assert (role.role_arn, role.session_name) == (ROLE_ARN, "EKSGetTokenAuth")
        session = Credentials(role.access_key_id, role.secret_access_key, role.session_token)
        assert_eks_accepts(token, signed_by=session, sts=sts_endpoint)


def test_with_a_profile_the_profiles_keys_sign(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = shared_run(with_changes({"infra:cluster.kubeconfigProfile": PROFILE}))
    env = client_env(tmp_path)  # no keys in the environment: they would win over any profile
    Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[default]\naws_access_key_id = {BASE.access_key}\naws_secret_access_key = {BASE.secret_key}\n"
        f"[{PROFILE}]\naws_access_key_id = {PROFILE_KEYS.access_key}\n"
        f"aws_secret_access_key = {PROFILE_KEYS.secret_key}\n"
    )
    for token in kubectl_tokens(api, written_by_the_verb(run, tmp_path, monkeypatch), env):
        assert_eks_accepts(token, signed_by=PROFILE_KEYS)
