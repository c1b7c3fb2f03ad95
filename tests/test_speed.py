"""The program itself stays fast: evaluating foo under mocks, once the provider SDKs are imported.

Cold, a fresh process also imports pulumi_aws/pulumi_kubernetes (about 1 s on a 2-core machine, paid by every
`pulumi up` alike); this guards the part the program controls (measured ~0.1 s), e.g. against a slow invoke.
"""

from __future__ import annotations

import statistics
import time

from harness import Run, run_program, stack_config

BUDGET_SECONDS = 0.75


def test_evaluating_foo_is_fast(foo: Run) -> None:  # `foo` has paid the imports already
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        run_program(stack_config("foo"))
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < BUDGET_SECONDS, f"evaluating foo took {timings} s"
