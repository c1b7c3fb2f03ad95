"""report.py: the result table, and the common end of verify, upgrade-check and destroy (table, error line, exit)."""

import pytest

from infra.ops import report
from infra.ops.report import CheckResult, failed, passed


def test_report_table() -> None:
    table = report.table([passed("nodes", "2/2 Ready"), failed("GET /dbz", "HTTP 503")])
    assert table.splitlines() == [
        "check     status  detail",
        "--------  ------  ---------",
        "nodes     PASS    2/2 Ready",
        "GET /dbz  FAIL    HTTP 503",
    ]


ROWS = [
    passed("nodes", "2/2 Ready"),
    CheckResult("certificate", "WARN", "expires in 20 days"),
    failed("GET /", "HTTP 503"),
]


def test_checks_end_with_exit_1_naming_every_failing_row(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    assert report.finish_checks([*ROWS, failed("GET /dbz", "HTTP 503")], lines.append) == 1
    assert lines[0].splitlines()[2:] == [
        "nodes        PASS    2/2 Ready",
        "certificate  WARN    expires in 20 days",
        "GET /        FAIL    HTTP 503",
        "GET /dbz     FAIL    HTTP 503",
    ]
    assert capsys.readouterr().err == "error: 2 check(s) failed: GET /, GET /dbz\n"


def test_warnings_alone_end_with_exit_0_and_no_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    assert report.finish_checks(ROWS[:2], lines.append) == 0
    assert len(lines) == 1 and capsys.readouterr().err == ""


def test_a_verb_with_its_own_exit_code_keeps_it(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    assert report.finish(ROWS, lines.append, error="pulumi destroy succeeded, but teardown is incomplete", code=3) == 3
    assert lines[0].startswith("check        status  detail\n")
    assert capsys.readouterr().err == "error: pulumi destroy succeeded, but teardown is incomplete\n"
    assert report.finish([], lines.append, error=None, code=0) == 0
    assert capsys.readouterr().err == ""
