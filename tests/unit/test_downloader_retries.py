"""The retry schedule of failed downloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.downloader.retries import retry_decision

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BASE, CAP = timedelta(minutes=10), timedelta(hours=1)


def test_each_failure_waits_twice_as_long_as_the_one_before() -> None:
    waits = [retry_decision(n, 5, T0, BASE, CAP).next_retry_at for n in (1, 2, 3)]
    assert waits == [T0 + timedelta(minutes=m) for m in (10, 20, 40)]


def test_waits_are_capped() -> None:
    assert retry_decision(4, 9, T0, BASE, CAP).next_retry_at == T0 + CAP


def test_the_last_allowed_failure_abandons() -> None:
    decision = retry_decision(3, 3, T0, BASE, CAP)
    assert not decision.will_retry
    assert decision.next_retry_at is None
    assert retry_decision(2, 3, T0, BASE, CAP).will_retry
