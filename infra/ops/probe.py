"""The measuring probe: GET a URL on a fixed schedule and record every answer, its latency and what was in
progress when it was sent and when it came back.

`poll` is the schedule (watch runs it in the foreground); `Probe` runs it on a background thread beside a
disruptive operation (`up --watch`, `swap-node --watch`), and its `Summary` is the one line that says whether the
operation kept the service up, with each failure streak attributed to the step or resource in progress.
"""

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.ops.clients.http_probe import Answer, Fetch
from infra.ops.errors import OpsError
from infra.ops.limits import PROBE_INTERVAL, PROBE_TIMEOUT

SHOWN_STREAKS = 10  # a flapping service would otherwise print a line per blip


@dataclass(frozen=True)
class Sample:
    """One request: when it was sent (seconds since the probe started), how long it took, and what ran meanwhile."""

    at: float
    latency: float
    answer: Answer
    during: tuple[str, ...] = ()  # what was in progress when it was sent, and when it came back if that differs

    @property
    def ok(self) -> bool:
        return self.answer.ok


def poll(
    url: str,
    *,
    interval: float,
    timeout: float,
    fetch: Fetch,
    on_answer: Callable[[Sample], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    duration: float | None = None,
    stopped: Callable[[], bool] = lambda: False,
    doing: Callable[[], str] = lambda: "",
) -> float:
    """GET url every `interval` seconds until `duration` has passed or `stopped()`; returns the start time.

    The schedule is fixed: a slow request makes the probe skip the slots it missed rather than burst to catch up."""
    start = clock()
    tick = 0
    while not stopped():
        sent = clock()
        before = doing()
        try:
            answer = fetch(url, timeout)
        except Exception as err:  # whatever stops an answer (a bad URL's UnicodeError...) is a failed request
            answer = Answer(None, error=f"error: {type(err).__name__}: {err}")
        back = clock()
        after = doing()
        during = (before,) if after == before else (before, after)
        on_answer(Sample(sent - start, back - sent, answer, tuple(d for d in during if d)))
        tick = max(tick + 1, math.floor((back - start) / interval) + 1)
        wake = tick * interval
        if duration is not None and wake >= duration:
            _sleep_until(start + duration, clock, sleep)
            break
        _sleep_until(start + wake, clock, sleep)
    return start


def _sleep_until(deadline: float, clock: Callable[[], float], sleep: Callable[[float], object]) -> None:
    delay = deadline - clock()
    if delay > 0:
        sleep(delay)


@dataclass(frozen=True)
class Streak:
    """Consecutive failed requests."""

    at: float  # when its first request was sent
    seconds: float  # from then until the next good answer's request was sent (or the last failure came back)
    count: int
    answers: tuple[str, ...]  # the distinct failures, e.g. "HTTP 503"
    during: tuple[str, ...]  # the steps or resources in progress while they failed

    def line(self) -> str:
        during = "; ".join(self.during) or "nothing in progress"
        return (
            f"  +{self.at:.1f}s: {self.count} failed over {self.seconds:.1f} s ({', '.join(self.answers)}) "
            f"during {during}"
        )


@dataclass(frozen=True)
class Summary:
    requests: int
    failures: int
    streaks: tuple[Streak, ...]
    p50: float | None  # latency of the good answers, seconds; None without any
    p99: float | None

    @property
    def longest(self) -> Streak | None:
        return max(self.streaks, key=lambda s: (s.count, s.seconds), default=None)

    def lines(self) -> list[str]:
        longest = self.longest
        count, seconds = (longest.count, longest.seconds) if longest else (0, 0.0)
        head = (
            f"requests {self.requests}, failures {self.failures}, longest failure streak {count} ({seconds:.1f} s), "
            f"p50 {_ms(self.p50)}, p99 {_ms(self.p99)}"
        )
        shown = [streak.line() for streak in self.streaks[:SHOWN_STREAKS]]
        more = len(self.streaks) - SHOWN_STREAKS
        return [head, *shown, *([f"  … and {more} more failure streaks"] if more > 0 else [])]


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest rank: the smallest value that at least `fraction` of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def summarize(samples: Sequence[Sample]) -> Summary:
    streaks: list[Streak] = []
    run: list[Sample] = []
    for sample in [*samples, None]:
        if sample is not None and not sample.ok:
            run.append(sample)
            continue
        if run:
            end = sample.at if sample is not None else run[-1].at + run[-1].latency
            streaks.append(
                Streak(
                    at=run[0].at,
                    seconds=end - run[0].at,
                    count=len(run),
                    answers=_unique(s.answer.label() for s in run),
                    during=_unique(d for s in run for d in s.during),
                )
            )
            run = []
    good = [s.latency for s in samples if s.ok]
    return Summary(
        requests=len(samples),
        failures=sum(1 for s in samples if not s.ok),
        streaks=tuple(streaks),
        p50=percentile(good, 0.50),
        p99=percentile(good, 0.99),
    )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


class Activity:
    """What a multi-step operation is doing now, for the probe's thread to read."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._lock = threading.Lock()

    def set(self, label: str) -> None:
        with self._lock:
            self._label = label

    def __call__(self) -> str:
        with self._lock:
            return self._label


class Probe:
    """`poll` on a background thread from start() to stop(), recording every sample."""

    def __init__(
        self,
        url: str,
        *,
        fetch: Fetch,  # http_probe.fetcher(context): one TLS context for every request
        doing: Callable[[], str],
        interval: float = PROBE_INTERVAL,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.url, self.interval = url, interval
        self._fetch, self._doing, self._timeout = fetch, doing, timeout
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)

    def _run(self) -> None:
        poll(
            self.url,
            interval=self.interval,
            timeout=self._timeout,
            fetch=self._fetch,
            on_answer=self._record,
            sleep=self._stop.wait,  # returns at once when stopped
            stopped=self._stop.is_set,
            doing=self._doing,
        )

    def _record(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)

    def start(self) -> None:
        self._thread.start()

    def measuring(self) -> bool:
        """False once the probe's thread has died without being stopped: nothing it says after that is a measure."""
        return self._thread.is_alive() or self._stop.is_set()

    def failures(self) -> int:
        with self._lock:
            return sum(1 for s in self._samples if not s.ok)

    def stop(self) -> Summary:
        """Stop after the request in flight (at most `timeout`), and summarize."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._timeout + 1.0)
        with self._lock:
            return summarize(list(self._samples))


class BudgetExceededError(OpsError):
    """The probe saw more failed requests than the operator allows."""


def refuse_budget_without_watch(error_budget: int | None, watch: bool) -> None:
    """--error-budget counts the probe's failed requests: without --watch there is no probe, so it is an error."""
    if error_budget is not None and not watch:
        raise OpsError("--error-budget needs --watch: without the probe no request is counted")


def check_budget(failures: int, budget: int, *, stopping: str = "") -> None:
    """OpsError once the failures exceed the budget; `stopping` says what is not done because of it."""
    if failures > budget:
        raise BudgetExceededError(
            f"{failures} failed request(s) exceed the error budget ({budget})" + (f": {stopping}" if stopping else "")
        )


@dataclass(frozen=True)
class Watched:
    """A multi-step operation under a probe: each step is noted as it starts, and a destructive one is refused once
    the failed requests exceed the budget (the operation's own undo then runs)."""

    probe: Probe
    activity: Activity
    budget: int

    def step(self, label: str, *, destructive: bool) -> None:
        if destructive:
            if not self.probe.measuring():
                raise BudgetExceededError(f"the probe stopped measuring: stopped before {label}")
            check_budget(self.probe.failures(), self.budget, stopping=f"stopped before {label}")
        self.activity.set(label)


def url_to_watch(out: Mapping[str, Any]) -> str | None:
    """The stack's public URL (its `url` output), None before the first deploy has made one."""
    url = out.get("url")
    return url if isinstance(url, str) and url else None
