"""The image the app runs: this build's tag, and the digest a registry already holds under it.

An existing tag is never built or pushed again: an IMMUTABLE ECR repository refuses the push
(ImageTagAlreadyExistsException) and Docker Hub would silently overwrite it. The workload then runs the digest the
registry holds. pulumi-docker's `Image` is registered only for a tag the registry does not hold yet, so its own
context digest (which also hashes file modes) can only ever trigger a build that was due anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

# docker_registry_image's error when the registry answers 404 to the manifest request for a tag it does not hold
# (kreuzwerker/terraform-provider-docker, data_source_docker_registry_image.go: "got bad response from registry").
TAG_NOT_FOUND = "got bad response from registry: 404 Not Found"
DOCKERHUB_REGISTRY = "registry-1.docker.io"  # where the provider sends the manifest request for `user/repo:tag`


@dataclass(frozen=True)
class ImageFacts:
    tag: str  # `<version>_<source hash>`: one tag, one image
    pushed_digest: str | None = None  # `sha256:…` when the registry already holds the tag (nothing is built)


def dockerhub_digest(name: str, provider: pulumi.ProviderResource) -> str | None:
    """The digest Docker Hub holds for `user/repo:tag` (the provider carries the token, so a private repository
    answers too), or None when it holds no such tag. Any other failure is the provider's own error."""
    try:
        return str(docker.get_registry_image(name=name, opts=pulumi.InvokeOptions(provider=provider)).sha256_digest)
    except Exception as err:
        if TAG_NOT_FOUND not in str(err):
            raise
        return None
