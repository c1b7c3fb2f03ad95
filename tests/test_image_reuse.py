"""A tag the registry already holds is never built or pushed again (issue 17, item 1): the pods run its digest.

ECR answers like ListImages (tags with their digests) and refuses a push of a tag an IMMUTABLE repository holds,
with `docker push`'s text; Docker Hub answers the provider's manifest lookup (404 for a tag it does not hold).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pulumi
import pytest
from harness import ACCOUNT, InfraMocks, InvokeRefused, Run, World, run_program, shared_run, with_changes
from pulumi.runtime import rpc

from infra import image_source, registry_image

IMAGE = "docker:index/image:Image"
RC = "kubernetes:core/v1:ReplicationController"
REPOSITORY = "infra-foo/helloworld"
REPOSITORY_URL = f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/{REPOSITORY}"
V2 = {"infra:helloworld.version": "2.0.0", "infra:helloworld.greeting": "Foo bar"}
DOCKERHUB = {"infra:helloworld.registry": "dockerhub", "infra:helloworld.dockerhubUsername": "yourname"}


def pushed_tag(run: Run) -> str:
    return str(run.one(IMAGE).inputs["imageName"]).rsplit(":", 1)[1]


def pod_image(run: Run) -> str:
    return str(run.one(RC).plain("spec")["template"]["spec"]["containers"][0]["image"])


def test_rollback_2_to_1_to_2_builds_each_version_once(foo: Run) -> None:
    first = foo  # the first `up`, into an empty repository: builds and pushes 1.0.0
    world = World(ecr_tags={REPOSITORY: [pushed_tag(first)]})  # the push succeeded: ECR holds 1.0.0_<hash>

    upgraded = shared_run(with_changes(V2), world=world)
    assert pushed_tag(upgraded).startswith("2.0.0_"), "a new version is built and pushed"
    world.ecr_tags[REPOSITORY].append(pushed_tag(upgraded))

    rolled_back = run_program(with_changes({}), world=world)
    assert rolled_back.of_type(IMAGE) == [], "1.0.0 is in ECR: nothing is built or pushed"
    assert rolled_back.one(RC).plain("metadata")["name"] == "helloworld-1.0.0"
    assert pod_image(rolled_back) == pod_image(first), "the pods run the digest 1.0.0 was pushed with"
    assert pod_image(rolled_back).startswith(f"{REPOSITORY_URL}@sha256:")

    forward_again = run_program(with_changes(V2), world=world)
    assert forward_again.of_type(IMAGE) == []
    assert pod_image(forward_again) == pod_image(upgraded)
    assert forward_again.outputs["helloworldImage"] == pod_image(upgraded)


def test_a_no_change_up_builds_nothing(foo: Run) -> None:
    world = World(ecr_tags={REPOSITORY: [pushed_tag(foo)]})
    again = shared_run(with_changes({}), world=world)
    assert again.of_type(IMAGE) == []
    assert pod_image(again) == pod_image(foo)
    # The repository stays in the stack: it is what the digest reference points into.
    assert again.one("aws:ecr/repository:Repository").inputs["name"] == REPOSITORY


def test_ecr_mock_refuses_a_push_of_a_tag_it_holds() -> None:
    """The harness answers as an IMMUTABLE repository does, so a program that pushed again would fail loudly."""
    mocks = InfraMocks(World(ecr_tags={REPOSITORY: ["1.0.0_0123456789ab"]}))
    push = pulumi.runtime.MockResourceArgs(
        typ=IMAGE,
        name="helloworld-image",
        inputs={"imageName": f"{REPOSITORY_URL}:1.0.0_0123456789ab"},
        provider=None,
        resource_id=None,
    )
    with pytest.raises(InvokeRefused) as refused:
        mocks.new_resource(push)
    assert refused.value.details() == (
        "tag invalid: The image tag '1.0.0_0123456789ab' already exists in the 'infra-foo/helloworld' repository"
        " and cannot be overwritten because the repository is immutable."
    )


def dockerhub_config() -> dict[str, Any]:
    config = with_changes(DOCKERHUB)
    config["infra:dockerhubToken"] = {"secure": "v1:ciphertext"}
    return config


def test_dockerhub_tag_already_pushed_is_not_overwritten() -> None:
    built = shared_run(dockerhub_config())
    tag = pushed_tag(built)
    again = run_program(dockerhub_config(), world=World(dockerhub_tags={"yourname/helloworld": [tag]}))
    assert again.of_type(IMAGE) == [], "Docker Hub would silently overwrite the tag"
    assert pod_image(again) == pod_image(built)
    assert pod_image(again).startswith("docker.io/yourname/helloworld@sha256:")
    (lookup,) = again.of_type("pulumi:providers:docker")
    assert rpc.is_rpc_secret(lookup.inputs["registryAuth"]), "the token asks for private repositories too"
    # A provider's inputs travel as JSON text.
    assert json.loads(lookup.plain("registryAuth")) == [
        {"address": "registry-1.docker.io", "username": "yourname", "password": "secret-placeholder"}
    ]


def test_dockerhub_lookup_failures_other_than_a_missing_tag_stop_the_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    def unauthorized(**_: Any) -> Any:
        raise InvokeRefused(
            "Got error when attempting to fetch image version yourname/helloworld:1.0.0_x from registry: got bad"
            " response from registry: 401 Unauthorized"
        )

    monkeypatch.setattr(registry_image.docker, "get_registry_image", unauthorized)
    with pytest.raises(InvokeRefused, match="401 Unauthorized"):
        registry_image.dockerhub_digest("yourname/helloworld:1.0.0_x", provider=None)  # type: ignore[arg-type]


def test_the_tag_ignores_file_modes(tmp_path: Path) -> None:
    """pulumi-docker's context digest hashes modes; the tag does not: a checkout with another umask (CI) builds the
    same program, so it must find the same tag in the registry and reuse it, never build it again."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text("FROM scratch\n")
    (app / "main.go").write_text("package main\n")
    os.chmod(app / "main.go", 0o644)
    before = image_source.source_hash(app, {}, "linux/amd64")
    os.chmod(app / "main.go", 0o755)
    os.chmod(app / "Dockerfile", 0o600)
    assert image_source.source_hash(app, {}, "linux/amd64") == before
