"""What the verbs report: result rows, the plain-text table, and the common end (table, error line, exit code).

verify, upgrade-check and destroy all end the same way: print the rows as a table, then one `error: …` line on
stderr when something is wrong, and exit with the verb's code. Tables have no dependency: output must survive any
terminal.
"""

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from infra.ops.errors import one_line
from infra.ops.waiting import HTTP_UNAUTHORIZED

Status = Literal["PASS", "FAIL", "WARN", "INFO"]  # only FAIL makes a verb exit non-zero
_SHOW = 3  # names listed in a detail before "(+N more)"
CHECK_HEADERS = ("check", "status", "detail")


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    final: bool = False  # no re-run can change it (the cluster refused the token): --wait does not re-run it

    @property
    def ok(self) -> bool:
        return self.status != "FAIL"


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "PASS", detail)


def failed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "FAIL", detail)


def warned(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "WARN", detail)


def crashed(name: str, err: BaseException, cluster: str | None = None) -> CheckResult:
    """A check whose data could not be fetched (API error, missing output...). The Kubernetes API's 401 is final:
    the verb's own AWS credentials work (checked first), so the cluster does not admit that identity."""
    if getattr(err, "status", None) == HTTP_UNAUTHORIZED:
        entries = f"`aws eks list-access-entries --cluster-name {cluster}`" if cluster else "its access entries"
        detail = f"{one_line(err)}: the cluster refused the token of your AWS identity (see {entries})"
        return CheckResult(name, "FAIL", detail, final=True)
    return failed(name, one_line(err))


def few(items: Sequence[str]) -> str:
    """The first names, then how many more: `a, b, c (+2 more)`."""
    shown = ", ".join(items[:_SHOW])
    return shown + (f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else "")


def render(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, with a dashed rule under the header."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def table(results: Sequence[CheckResult]) -> str:
    return render(CHECK_HEADERS, [(r.name, r.status, r.detail) for r in results])


def finish(results: Sequence[CheckResult], say: Callable[[str], None], *, error: str | None, code: int) -> int:
    """The table, then `error: <error>` on stderr when there is one; returns the exit code."""
    say(table(results))
    if error:
        print(f"error: {error}", file=sys.stderr)
    return code


def finish_checks(results: Sequence[CheckResult], say: Callable[[str], None]) -> int:
    """verify's and upgrade-check's end: exit 1 naming every FAIL row, else 0."""
    failing = [r.name for r in results if not r.ok]
    error = f"{len(failing)} check(s) failed: {', '.join(failing)}" if failing else None
    return finish(results, say, error=error, code=1 if failing else 0)
