"""The probe: its summary's arithmetic on given samples, and the background probe against a local app that fails
during a window, each failure attributed to what was in progress."""

import pytest
from fakes import FakeClock, switchable_app

from infra.ops.clients import http_probe, tls
from infra.ops.clients.http_probe import Answer
from infra.ops.probe import (
    Activity,
    BudgetExceededError,
    Probe,
    Sample,
    Watched,
    check_budget,
    percentile,
    poll,
    summarize,
)

RC_GOING = "helloworld-rc (kubernetes:core/v1:ReplicationController delete-replaced)"
AFTER_RC = f"no resource in progress, after {RC_GOING}"
OK = Answer(200, "Hello world\n")


def test_summary_counts_streaks_and_latency_percentiles() -> None:
    # A request every 0.5 s for 10 s of a 1.0.0 → 2.0.0 release: three 503s while the old RC goes, and the last
    # request timing out after the update ended. The 16 good answers' latencies, in ms:
    good_ms = iter([41, 35, 38, 40, 31, 41, 42, 44, 45, 47, 52, 58, 63, 70, 120, 480])
    samples = []
    for i in range(20):
        at = i * 0.5
        if i in (12, 13, 14):
            samples.append(Sample(at, 0.012, Answer(503, "no healthy instance\n"), (RC_GOING,)))
        elif i == 19:
            samples.append(Sample(at, 2.0, Answer(None, error="timed out"), (AFTER_RC,)))
        else:
            samples.append(Sample(at, next(good_ms) / 1000, OK, (RC_GOING,)))

    summary = summarize(samples)

    # p50: the 8th of the 16 sorted latencies (nearest rank), p99: the 16th. The first streak lasts from its first
    # request (6.0 s) to the next good one (7.5 s); the last one, with no good answer after it, until its timeout.
    assert summary.lines() == [
        "requests 20, failures 4, longest failure streak 3 (1.5 s), p50 44 ms, p99 480 ms",
        "  +6.0s: 3 failed over 1.5 s (HTTP 503) during helloworld-rc "
        "(kubernetes:core/v1:ReplicationController delete-replaced)",
        "  +9.5s: 1 failed over 2.0 s (error: timed out) during no resource in progress, after helloworld-rc "
        "(kubernetes:core/v1:ReplicationController delete-replaced)",
    ]


def test_a_streak_across_steps_names_each_and_its_kinds_of_failure() -> None:
    samples = [
        Sample(0.0, 0.01, OK, ("2/6 evict",)),
        Sample(0.5, 0.01, Answer(503, ""), ("2/6 evict", "3/6 wait")),  # sent during one step, back in the next
        Sample(1.0, 0.01, Answer(None, error="connection refused"), ("3/6 wait",)),
    ]
    (streak,) = summarize(samples).streaks
    assert streak.line() == (
        "  +0.5s: 2 failed over 0.5 s (HTTP 503, error: connection refused) during 2/6 evict; 3/6 wait"
    )


def test_a_request_belongs_to_the_step_it_was_sent_in_and_the_one_it_came_back_in() -> None:
    clock = FakeClock()
    activity = Activity("2/6 evict")

    def slow_fetch(url: str, timeout: float) -> Answer:  # the next step starts while the request waits
        clock.t += 1.2
        activity.set("3/6 wait")
        return Answer(None, error="timed out")

    samples: list[Sample] = []
    poll(
        "http://x",
        interval=0.5,
        timeout=2.0,
        fetch=slow_fetch,
        on_answer=samples.append,
        clock=clock.now,
        sleep=clock.sleep,
        duration=1.0,
        doing=activity,
    )
    assert samples == [Sample(0.0, 1.2, Answer(None, error="timed out"), ("2/6 evict", "3/6 wait"))]


def test_no_requests_and_no_good_answer_say_so() -> None:
    assert summarize([]).lines() == ["requests 0, failures 0, longest failure streak 0 (0.0 s), p50 n/a, p99 n/a"]
    only_failures = [Sample(0.0, 0.1, Answer(None, error="timed out"))]
    assert summarize(only_failures).lines() == [
        "requests 1, failures 1, longest failure streak 1 (0.1 s), p50 n/a, p99 n/a",
        "  +0.0s: 1 failed over 0.1 s (error: timed out) during nothing in progress",
    ]


def test_the_longest_streak_is_the_one_with_most_failures() -> None:
    failed = Answer(503, "")
    samples = [Sample(0.0, 0.0, failed), Sample(5.0, 0.0, OK), Sample(6.0, 0.0, failed), Sample(6.5, 0.0, failed)]
    summary = summarize(samples)
    # The lone failure spans 5.0 s (no request was good until then), the pair 0.5 s (the run ended after it).
    assert [(s.count, s.seconds) for s in summary.streaks] == [(1, 5.0), (2, 0.5)]
    assert summary.lines()[0] == "requests 4, failures 3, longest failure streak 2 (0.5 s), p50 0 ms, p99 0 ms"


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.5, None), ([0.3], 0.99, 0.3), ([4.0, 1.0, 3.0, 2.0], 0.5, 2.0), ([4.0, 1.0, 3.0, 2.0], 0.99, 4.0)],
)
def test_percentile_is_the_nearest_rank(values: list[float], fraction: float, expected: float | None) -> None:
    assert percentile(values, fraction) == expected


def test_the_budget_allows_exactly_its_number_of_failures() -> None:
    check_budget(2, 2)
    with pytest.raises(Exception, match=r"^3 failed request\(s\) exceed the error budget \(2\): stopped before 5/6$"):
        check_budget(3, 2, stopping="stopped before 5/6")


def test_background_probe_attributes_a_failure_window_to_the_step_in_progress() -> None:
    activity = Activity("1/3 prepare")
    with switchable_app() as (app, url):
        probe = Probe(url, fetch=http_probe.fetcher(tls.client_context()), doing=activity, interval=0.01, timeout=1.0)
        probe.start()
        app.wait_answers(200, 1)
        activity.set("2/3 drain")
        app.outage(failures=2)  # the app answers 503 to two or more requests, then 200 again
        seen = probe.failures()
        activity.set("3/3 finish")
        app.wait_answers(200, 2)
        summary = probe.stop()

    (streak,) = summary.streaks
    assert seen == summary.failures == streak.count >= 2
    assert streak.answers == ("HTTP 503",)
    assert streak.during == ("2/3 drain",)
    assert summary.requests == summary.failures + app.answered[200]
    assert summary.p50 is not None and summary.p50 < 1.0


def test_a_fetch_that_raises_is_a_failed_request_not_a_dead_probe() -> None:
    clock = FakeClock()

    def bad_url(url: str, timeout: float) -> Answer:  # http.client on a label over 63 characters
        clock.t += 0.01
        raise UnicodeError("encoding with 'idna' codec failed (UnicodeError: label too long)")

    samples: list[Sample] = []
    poll(
        "http://x",
        interval=0.5,
        timeout=2.0,
        fetch=bad_url,
        on_answer=samples.append,
        clock=clock.now,
        sleep=clock.sleep,
        duration=1.0,
    )
    assert [s.ok for s in samples] == [False, False]
    assert (
        samples[0].answer.error
        == "error: UnicodeError: encoding with 'idna' codec failed (UnicodeError: label too long)"
    )


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the case
def test_a_probe_whose_thread_died_stops_the_next_destructive_step() -> None:
    def answers(url: str, timeout: float) -> Answer:
        return Answer(200, "ok")

    probe = Probe("http://x", fetch=answers, doing=lambda: "", interval=0.01)
    probe._record = None  # type: ignore[assignment,method-assign]  # the thread dies on its first answer
    probe.start()
    probe._thread.join(2.0)
    watched = Watched(probe, Activity(""), budget=0)
    with pytest.raises(BudgetExceededError, match="the probe stopped measuring: stopped before 1/6 cordon"):
        watched.step("1/6 cordon", destructive=True)
