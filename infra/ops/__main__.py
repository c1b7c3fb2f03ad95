"""Entry point for `python -m infra.ops`."""

from infra.ops.cli import main

raise SystemExit(main())
