"""`watch`: poll a URL, report each change of answer, and count failures (proves zero-downtime upgrades).

The schedule is the probe's (probe.poll); `up --watch` and `swap-node --watch` run that probe beside the change."""

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from infra.ops import live
from infra.ops.clients import http_probe, outputs, stack, tls
from infra.ops.clients.http_probe import Fetch
from infra.ops.interrupts import terminate_as_interrupt
from infra.ops.probe import Sample, poll


def run(args: argparse.Namespace) -> int:
    fetch = http_probe.fetcher(tls.client_context(args.ca_file))

    # `timeout 600 python -m infra.ops watch ...` sends SIGTERM, a closed terminal SIGHUP: still print the summary.
    with terminate_as_interrupt():
        stats = watch(
            watch_url(args.target),
            interval=args.interval,
            duration=args.duration,
            timeout=args.timeout,
            fetch=fetch,
            out=live.say,
        )
    return 1 if stats.failures else 0


def watch_url(target: str) -> str:
    """An http(s) URL as given; anything else is a stack name, whose url output is watched."""
    if target.startswith(("http://", "https://")):
        return target
    return outputs.text(stack.read_outputs(target), "url")


@dataclass
class WatchStats:
    requests: int = 0
    successes: int = 0
    failures: int = 0
    changes: int = 0  # transitions between distinct answers, the first answer excluded
    answers: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    interrupted: bool = False


def summary_lines(stats: WatchStats) -> list[str]:
    how = "interrupted after" if stats.interrupted else "in"
    lines = [
        f"--- {stats.requests} requests {how} {stats.elapsed:.1f}s: "
        f"{stats.successes} ok, {stats.failures} failed, {stats.changes} change(s)"
    ]
    width = len(str(max(stats.answers.values(), default=0)))
    lines += [f"  {count:>{width}}  {label}" for label, count in stats.answers.most_common()]
    return lines


def watch(
    url: str,
    *,
    interval: float,
    duration: float | None,
    timeout: float,
    fetch: Fetch = http_probe.get,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall: Callable[[], datetime] = datetime.now,
    out: Callable[[str], None] = print,
) -> WatchStats:
    """GET url every `interval` seconds for `duration` seconds (None: until Ctrl-C), on the probe's schedule."""
    stats = WatchStats()
    until = "until Ctrl-C" if duration is None else f"for {duration:g}s"
    out(f"watching {url} every {interval:g}s {until}")
    previous: list[str] = []  # the last answer's label, once there is one

    def count(sample: Sample) -> None:
        label = sample.answer.label()
        stats.requests += 1
        stats.answers[label] += 1
        if sample.ok:
            stats.successes += 1
        else:
            stats.failures += 1
        if previous != [label]:
            stamp = wall().strftime("%H:%M:%S.%f")[:-3]
            out(f"{stamp} +{sample.at + sample.latency:.1f}s  {label}")  # when the answer came
            stats.changes += bool(previous)
            previous[:] = [label]

    start = clock()
    try:
        start = poll(
            url,
            interval=interval,
            timeout=timeout,
            fetch=fetch,
            on_answer=count,
            clock=clock,
            sleep=sleep,
            duration=duration,
        )
    except KeyboardInterrupt:
        stats.interrupted = True
    stats.elapsed = clock() - start
    for line in summary_lines(stats):
        out(line)
    return stats
