"""A failing polling source waits the poll interval doubled per failure in a row, up to a cap,
and never less than the interval itself."""

from __future__ import annotations

from revbridge.sources.backoff import retry_after


def test_the_wait_doubles_per_failure_up_to_the_cap() -> None:
    assert [retry_after(1.0, n, 30.0) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert retry_after(1.0, 10_000, 30.0) == 30.0  # no overflow after a long outage


def test_a_cap_under_the_interval_never_makes_a_failing_source_polled_faster() -> None:
    assert retry_after(60.0, 1, 30.0) == 60.0
    assert retry_after(60.0, 0, 30.0) == 60.0
