"""tools/pulumi-login.sh (what `make up`/`make preview` run first) with a stand-in `pulumi` on PATH.

Issue 18 item 8: a failing `pulumi whoami` falls back to local state only when no backend was ever configured.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "pulumi-login.sh"
# The stand-in records its argv; `whoami` fails (with the Cloud's own wording) unless whoami.ok exists.
STAND_IN = """#!/usr/bin/env bash
echo "$*" >> "$PULUMI_CALLS"
case "$1" in
  whoami)
    if [ -e "$HOME/whoami.ok" ]; then
      echo alice; [ "${2:-}" = -v ] && echo "Backend URL: https://app.pulumi.com"; exit 0
    fi
    echo "error: getting user info: [401] Unauthorized: No credentials provided or are invalid." >&2; exit 255;;
  login) touch "$HOME/whoami.ok";;
esac
"""


def run(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "pulumi").write_text(STAND_IN)
    (bin_dir / "pulumi").chmod(0o755)
    calls = tmp_path / "calls"
    base = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "PULUMI_CALLS": str(calls)}
    done = subprocess.run([str(SCRIPT)], env={**base, **(env or {})}, capture_output=True, text=True, timeout=20)
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_no_backend_ever_configured_logs_in_to_local_state(tmp_path: Path) -> None:
    done, calls = run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "login --local" in calls
    assert "no Pulumi backend configured yet: using local state (pulumi login --local)" in done.stdout


@pytest.mark.parametrize("configured", ["credentials", "env"])
def test_a_failing_whoami_on_a_configured_backend_stops_without_logging_in(tmp_path: Path, configured: str) -> None:
    env = {}
    if configured == "credentials":  # what `pulumi login` leaves behind
        (tmp_path / ".pulumi").mkdir()
        (tmp_path / ".pulumi" / "credentials.json").write_text(json.dumps({"current": "https://api.pulumi.com"}))
    else:
        env = {"PULUMI_BACKEND_URL": "s3://team-state"}
    done, calls = run(tmp_path, env)
    assert done.returncode == 1
    assert not any(call.startswith("login") for call in calls), calls
    assert "[401] Unauthorized" in done.stderr
    assert "log in to it again, e.g. 'pulumi login' (Pulumi Cloud) or 'pulumi login s3://<bucket>'" in done.stderr


def test_a_working_backend_is_named_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "whoami.ok").touch()
    done, calls = run(tmp_path)
    assert done.returncode == 0
    assert calls == ["whoami", "whoami -v"]
    assert done.stdout.strip() == "pulumi backend: https://app.pulumi.com"


def test_the_makefile_runs_the_script_for_up_and_preview() -> None:
    makefile = (SCRIPT.parent.parent / "Makefile").read_text()
    assert "@tools/pulumi-login.sh" in makefile
    assert "login --local" not in makefile.replace("# Local file state", "")
    assert os.access(SCRIPT, os.X_OK)


def test_ci_without_a_backend_stops_instead_of_using_the_runners_disk(tmp_path: Path) -> None:
    done, calls = run(tmp_path, {"CI": "true"})
    assert done.returncode == 1
    assert not any(call.startswith("login") for call in calls), calls
    assert "no Pulumi backend for CI: set PULUMI_BACKEND_URL (s3://<bucket>) or PULUMI_ACCESS_TOKEN" in done.stderr
