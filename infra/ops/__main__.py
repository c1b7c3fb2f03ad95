"""Entry point for `python -m infra.ops`."""

import sys

try:
    from infra.ops.cli import main
except ModuleNotFoundError as missing:
    # A third-party module missing means a python other than the venv's (e.g. `python3 -m infra.ops` outside it):
    # say how to run the verbs instead of a traceback. A missing infra module is a bug and keeps its traceback.
    if (missing.name or "infra").partition(".")[0] == "infra":
        raise
    print(
        f"python -m infra.ops runs in the project's venv ({missing}): use `make verify STACK=foo` (`make help` lists"
        " the verbs) or `venv/bin/python -m infra.ops ...`",
        file=sys.stderr,
    )
    raise SystemExit(2) from None

raise SystemExit(main())
