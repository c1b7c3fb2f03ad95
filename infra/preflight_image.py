"""Deploy-time image facts: is this build's tag already in the registry, and under which digest?

An existing tag is never built or pushed again: an IMMUTABLE ECR repository refuses the push
(ImageTagAlreadyExistsException) and Docker Hub would silently overwrite it. The workload then runs the digest the
registry holds. pulumi-docker's `Image` is registered only for a tag the registry does not hold yet, so its own
context digest (which also hashes file modes) can only ever trigger a build that was due anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from infra import contract, image_source
from infra.config import StackConfig

# docker_registry_image's error when the registry answers 404 to the manifest request for a tag it does not hold
# (kreuzwerker/terraform-provider-docker, data_source_docker_registry_image.go: "got bad response from registry").
TAG_NOT_FOUND = "got bad response from registry: 404 Not Found"
DOCKERHUB_REGISTRY = "registry-1.docker.io"  # where the provider sends the manifest request for `user/repo:tag`


@dataclass(frozen=True)
class ImageFacts:
    tag: str  # `<version>_<source hash>`: one tag, one image
    pushed_digest: str | None = None  # `sha256:…` when the registry already holds the tag (nothing is built)


def image_problem(version: str, tag: str, repository: str, pushed: list[str]) -> str | None:
    others = image_source.conflicting_tags(version, tag, pushed)
    if not others:
        return None
    return (
        f"infra:helloworld.version: {version} — already built from other sources ({repository} has"
        f" {', '.join(others)}; this build is {tag}: apps/helloworld, the greeting or the pod template changed). Pods"
        f" never move to a new image or template under an unchanged version: bump infra:helloworld.version (e.g. to"
        f" the next patch)"
    )


def check_ecr(cfg: StackConfig, tag: str) -> tuple[ImageFacts, list[str]]:
    """The ECR repository's tags and digests (ListImages): a conflicting build of this version is a problem; this
    very tag, already pushed, is reused by digest."""
    repository = contract.ecr_repository(cfg.cluster_name)  # known before it exists
    if repository not in (aws.ecr.get_repositories().names or []):
        return ImageFacts(tag), []
    pushed = {i.image_tag: i.image_digest for i in aws.ecr.get_images(repository_name=repository).image_ids or []}
    problem = image_problem(cfg.helloworld.version, tag, repository, [t for t in pushed if t])
    return ImageFacts(tag, pushed.get(tag)), [problem] if problem else []


def dockerhub_digest(name: str, provider: pulumi.ProviderResource) -> str | None:
    """The digest Docker Hub holds for `user/repo:tag` (the provider carries the token, so a private repository
    answers too), or None when it holds no such tag. Any other failure is the provider's own error."""
    try:
        return str(docker.get_registry_image(name=name, opts=pulumi.InvokeOptions(provider=provider)).sha256_digest)
    except Exception as err:
        if TAG_NOT_FOUND not in str(err):
            raise
        return None
