"""Cost before apply: a stack's idle monthly cost, line by line, and what the planned change adds — offline.

Runs the real program for STACK under the offline mocks (the same run as `make plan`), prices the graph from
infra/cost/prices/<region>.json, and prints the delta against the reviewed snapshot tests/snapshots/<STACK>.json.
`--graph FILE` prices a graph file instead of running the program (a snapshot); `--state FILE` prices a deployed
stack (`pulumi stack export --stack STACK > FILE`) and prints the planned change against what runs.
`--write-docs` writes docs/cost.md from the reviewed snapshot. Extended support is billed from the dates given
with --eks-standard-end / --rds-standard-end (the program reads them from EKS and RDS at deploy time).

    venv/bin/python tools/cost.py foo [--state export.json] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "tools":
    sys.path.pop(0)  # run as a script: import tools.* as a package, not its modules as top-level names
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.cost import render  # noqa: E402
from infra.cost.advice import setting_notes  # noqa: E402
from infra.cost.delta import delta_of  # noqa: E402
from infra.cost.estimate import Estimate, SupportDates, estimate  # noqa: E402
from infra.cost.graph import region_of, resources_of  # noqa: E402
from infra.cost.prices import load_table  # noqa: E402

DOCS = ROOT / "docs" / "cost.md"
SNAPSHOTS = ROOT / "tests" / "snapshots"
DOCS_STACK = "foo"


def docs_text(stack: str = DOCS_STACK) -> str:
    """docs/cost.md as the reviewed snapshot and today's tables give it."""
    graph = json.loads((SNAPSHOTS / f"{stack}.json").read_text())
    table = load_table(region_of(resources_of(graph)) or "unknown-region")
    priced = estimate(graph, table)
    regenerate = f"venv/bin/python tools/cost.py {stack} --write-docs"
    return render.markdown(stack, priced, setting_notes(priced, table), regenerate)


def _planned(stack: str, graph_file: str | None) -> Any:
    if graph_file:
        return json.loads(Path(graph_file).read_text())
    from tools import reviewed_graph  # runs the program offline: imported only when needed (pulumi, mocks)

    return reviewed_graph.graph(stack)


def _delta_lines(label: str, before: Estimate, after: Estimate) -> list[str]:
    changes, unpriced = delta_of(before, after)
    return render.delta(label, changes, unpriced, after.total - before.total)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="the stack, as in Pulumi.<stack>.yaml")
    parser.add_argument("--graph", help="price this graph file (a snapshot) instead of running the program")
    parser.add_argument("--state", help="a `pulumi stack export` of the deployed stack: price it, and the change")
    parser.add_argument("--write-docs", action="store_true", help="write docs/cost.md from the reviewed snapshot")
    parser.add_argument("--eks-standard-end", type=_date, help="end of EKS standard support of the cluster version")
    parser.add_argument("--rds-standard-end", type=_date, help="end of RDS standard support of the PostgreSQL major")
    args = parser.parse_args(argv)
    if args.write_docs:
        DOCS.write_text(docs_text(args.stack))
        print(f"wrote {DOCS.relative_to(ROOT)}; review it with `git diff`.")
        return 0
    support = SupportDates(args.eks_standard_end, args.rds_standard_end)
    color = sys.stdout.isatty()
    if not args.graph and not (ROOT / f"Pulumi.{args.stack}.yaml").exists():
        print(f"no Pulumi.{args.stack}.yaml", file=sys.stderr)
        return 2
    try:
        planned_graph = _planned(args.stack, args.graph)
    except Exception as exc:  # the program's ConfigError (imported with pulumi only when the program runs)
        if type(exc).__name__ != "ConfigError":
            raise
        print(f"Pulumi.{args.stack}.yaml: {exc}", file=sys.stderr)
        return 2
    table = load_table(region_of(resources_of(planned_graph)) or "unknown-region")
    planned = estimate(planned_graph, table, support)
    print("\n".join(render.table(f"Stack {args.stack}, planned", planned, color)))
    reviewed_file = SNAPSHOTS / f"{args.stack}.json"
    if reviewed_file.exists():
        reviewed = estimate(json.loads(reviewed_file.read_text()), table, support)
        label = f"Against the reviewed snapshot {reviewed_file.relative_to(ROOT)}"
        print("\n" + "\n".join(_delta_lines(label, reviewed, planned)))
    if args.state:
        deployed = estimate(json.loads(Path(args.state).read_text()), table, support)
        print("\n" + "\n".join(render.table(f"Stack {args.stack}, deployed", deployed, color)))
        print("\n" + "\n".join(_delta_lines("The planned change against what runs", deployed, planned)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `tools/cost.py foo | head`
        sys.stderr.close()
        sys.exit(0)
