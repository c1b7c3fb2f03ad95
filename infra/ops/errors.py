"""The one exception type the CLI reports as a one-line error, and one-line error text."""


class OpsError(Exception):
    """An operation failed for a reason the operator should read (not a bug)."""


def one_line(err: BaseException) -> str:
    """A single readable line for any error (kubernetes ApiException str() spans many lines)."""
    status, reason = getattr(err, "status", None), getattr(err, "reason", None)
    if isinstance(status, int) and isinstance(reason, str):
        return f"HTTP {status} {reason}"
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if isinstance(err, OpsError) and lines:
        return lines[0]
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
