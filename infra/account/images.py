"""Account check for the app's image: is this build's tag already in ECR, and under which digest?

A conflicting build of the same version is a problem (pods would never move to it); this very tag, already pushed,
is reused by digest (see infra/registry_image.py). Docker Hub is looked up by the component, which holds the token.
"""

from __future__ import annotations

import pulumi_aws as aws

from infra import contract, image_source
from infra.config import StackConfig
from infra.registry_image import ImageFacts


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
