"""What the helloworld image is built from (and, for an RC, the pod template), as a short hash: the image tag is
`<version>_<hash>`.

The tag changes whenever the build's inputs change (sources, Dockerfile, build args, platform), so an image under
a tag never changes, and two builds of one version from different sources can be told apart before anything is
pushed (see infra/account/images.py). `_` never appears in a semantic version, so the tag splits unambiguously.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

HASH_CHARS = 12
TAG_SEPARATOR = "_"


def _ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: a pattern is matched segment by segment from the context's root (`*` never
    crosses a `/`), and excluding a directory excludes everything under it. Matching differently would let the
    hash and pulumi-docker's own context check disagree, and a re-push of one tag would fail (immutable tags)."""
    parts = relative.split("/")
    for pattern in patterns:
        wanted = pattern.strip("/").split("/")
        if len(wanted) <= len(parts) and all(
            fnmatch.fnmatchcase(part, want) for part, want in zip(parts, wanted, strict=False)
        ):
            return True
    return False


def build_files(app_dir: Path) -> list[Path]:
    """The files the build reads: its context as .dockerignore filters it, plus the Dockerfile (which
    .dockerignore leaves out of the context but which defines the build)."""
    ignore = app_dir / ".dockerignore"
    patterns = [line.strip() for line in (ignore.read_text().splitlines() if ignore.exists() else []) if line.strip()]
    patterns = [p for p in patterns if not p.startswith("#")]
    files = {
        path
        for path in app_dir.rglob("*")
        if path.is_file() and not _ignored(path.relative_to(app_dir).as_posix(), patterns)
    }
    files.add(app_dir / "Dockerfile")
    return sorted(files)


def source_hash(app_dir: Path, build_args: Mapping[str, str], platform: str, extra: object = None) -> str:
    """`extra`: anything else one version must pin (JSON-serialisable), e.g. a ReplicationController's pod
    template, which an RC never rolls out under the same name."""
    digest = hashlib.sha256()
    for path in build_files(app_dir):
        digest.update(path.relative_to(app_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps({"args": dict(build_args), "platform": platform, "extra": extra}, sort_keys=True).encode())
    return digest.hexdigest()[:HASH_CHARS]


def image_tag(version: str, hash_: str) -> str:
    return f"{version}{TAG_SEPARATOR}{hash_}"


def conflicting_tags(version: str, tag: str, existing: list[str]) -> list[str]:
    """Tags of the same version built from other inputs: pushing ours would make one version two images."""
    prefix = f"{version}{TAG_SEPARATOR}"
    return sorted(t for t in existing if t.startswith(prefix) and t != tag)
