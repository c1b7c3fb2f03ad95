"""The kubeconfig: exec auth only, loadable by the official client, a secret stack output."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import Run, shared_run, with_changes
from kubernetes import client, config

from infra.kubeconfig import build_kubeconfig

# The exec credential API kubectl (>= 1.24) and the AWS CLI speak; v1alpha1 was removed from kubectl in 1.24.
EXEC_API = "client.authentication.k8s.io/v1beta1"
ROLE_ARN = "arn:aws:iam::123456789012:role/eks-admin"


def load(kubeconfig: dict[str, Any], tmp_path: Path) -> Any:
    """The official client's loader over the file as `make kubeconfig` writes it."""
    path = tmp_path / "foo.kubeconfig"
    path.write_text(json.dumps(kubeconfig))
    return config.kube_config.KubeConfigLoader(
        config_dict=yaml.safe_load(path.read_text()), config_base_path=str(tmp_path)
    )


def test_stack_output_is_secret_and_exec_only(foo: Run, tmp_path: Path) -> None:
    assert "kubeconfig" in foo.secret_outputs
    kubeconfig = json.loads(foo.outputs["kubeconfig"])
    loader = load(kubeconfig, tmp_path)
    assert loader.current_context["name"] == "infra-foo"
    cluster = loader._cluster  # what load_and_set would use
    assert cluster["server"] == "https://cluster-eks.gr7.us-west-2.eks.amazonaws.com"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"certificate"
    user = loader._user
    assert user["exec"]["apiVersion"] == EXEC_API
    assert user["exec"]["command"] == "aws"
    assert list(user["exec"]["args"]) == [
        "eks",
        "get-token",
        "--cluster-name",
        "infra-foo",
        "--region",
        "us-west-2",
        "--output",
        "json",
    ]
    assert not {"token", "password", "client-key-data", "client-certificate-data"} & set(user.value)


def test_client_configuration_runs_the_exec_plugin(monkeypatch: pytest.MonkeyPatch, foo: Run, tmp_path: Path) -> None:
    """Load it the way kubectl users do; the exec plugin is faked at the process boundary only."""
    calls = []

    class FakeExec:
        def __init__(self, exec_config, cwd, cluster=None):
            calls.append(list(exec_config["args"]))

        def run(self) -> dict:
            return {"token": "k8s-aws-v1.fake"}

    monkeypatch.setattr(config.kube_config, "ExecProvider", FakeExec)
    path = tmp_path / "foo.kubeconfig"
    path.write_text(foo.outputs["kubeconfig"])  # what `make kubeconfig STACK=foo` writes
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.host == "https://cluster-eks.gr7.us-west-2.eks.amazonaws.com"
    assert configuration.api_key == {"BearerToken": "Bearer k8s-aws-v1.fake"}
    assert Path(str(configuration.ssl_ca_cert)).read_bytes() == b"certificate"
    assert calls and calls[0][:4] == ["eks", "get-token", "--cluster-name", "infra-foo"]


def exported_exec(changes: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The exec section of the kubeconfig the whole program exports with `changes` (and the client loads)."""
    kubeconfig = json.loads(shared_run(with_changes(changes)).outputs["kubeconfig"])
    assert load(kubeconfig, tmp_path).current_context["name"] == "infra-foo"
    exec_: dict[str, Any] = kubeconfig["users"][0]["user"]["exec"]
    return exec_


def test_program_passes_kubeconfig_role_arn(tmp_path: Path) -> None:
    # The role needs an access entry too (the stack's own Kubernetes provider uses this kubeconfig).
    changes = {"infra:cluster.kubeconfigRoleArn": ROLE_ARN, "infra:cluster.adminArns": [ROLE_ARN]}
    exec_ = exported_exec(changes, tmp_path)
    assert exec_["apiVersion"] == EXEC_API
    assert exec_["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "infra-foo",
        "--region",
        "us-west-2",
        "--output",
        "json",
        "--role-arn",
        "arn:aws:iam::123456789012:role/eks-admin",
    ]
    assert exec_["env"] is None


def test_program_passes_kubeconfig_profile(tmp_path: Path) -> None:
    exec_ = exported_exec({"infra:cluster.kubeconfigProfile": "infra-admin"}, tmp_path)
    assert exec_["env"] == [{"name": "AWS_PROFILE", "value": "infra-admin"}]
    assert "--role-arn" not in exec_["args"]


def test_role_and_profile_options() -> None:
    kc = build_kubeconfig(
        cluster_name="infra-bar",
        endpoint="https://x",
        ca_data="Y2E=",
        region="eu-west-1",
        role_arn=ROLE_ARN,
        profile="infra",
    )
    exec_ = kc["users"][0]["user"]["exec"]
    assert exec_["args"][-2:] == ["--role-arn", "arn:aws:iam::123456789012:role/eks-admin"]
    assert exec_["env"] == [{"name": "AWS_PROFILE", "value": "infra"}]
    plain = build_kubeconfig(cluster_name="c", endpoint="https://x", ca_data="Y2E=", region="eu-west-1")
    assert "--role-arn" not in plain["users"][0]["user"]["exec"]["args"]
    assert plain["users"][0]["user"]["exec"]["env"] is None
