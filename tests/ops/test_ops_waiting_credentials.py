"""A wait whose Kubernetes token can no longer be made (`aws eks get-token` fails: expired credentials) stops at once.

swap-node's drain wait (step 3) against a local Kubernetes API, with the stand-in `aws` of fakes.py: its
first token has already expired, and the refresh answers what the AWS CLI prints for expired credentials.
"""

from pathlib import Path

import pytest
from fakes import FakeClock, eks_kubeconfig, kubernetes_api, stand_in_aws

from infra.ops.clients.aws import CredentialsError
from infra.ops.clients.kube import Kube
from infra.ops.swap_node import drain
from infra.ops.waiting import wait_for

EXPIRED = (
    "An error occurred (ExpiredToken) when calling the GetCallerIdentity operation: "
    "The security token included in the request is expired"
)


def test_credentials_expiring_during_the_drain_wait_stop_it_with_the_login_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_aws(tmp_path, monkeypatch, {"error": None, "expires": "2000-01-01T00:00:00Z"}, {"error": EXPIRED})
    fake = FakeClock()
    lines: list[str] = []
    with kubernetes_api() as server:
        kube = Kube.from_kubeconfig(eks_kubeconfig(server), timeout=(2.0, 2.0))
        with pytest.raises(CredentialsError) as caught:
            wait_for(
                "pods to leave",
                lambda: drain.drained(kube.pods(node="n1"), node_ready=True),
                timeout=900,
                interval=10,
                clock=fake.clock,
                out=lines.append,
            )

    assert fake.sleeps == [] and lines == []  # not polled to the timeout: stopped at the first answer
    assert (tmp_path / "calls").read_text() == "2"  # the first token, then the failed refresh
    assert str(caught.value) == (
        f"the kubeconfig's exec plugin `aws eks get-token` failed: {EXPIRED} (while waiting for pods to leave): "
        "run `aws sso login` (SSO profiles, with AWS_PROFILE set) or `aws configure` (access keys), then retry"
    )
