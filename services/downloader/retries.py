"""When a failed download is tried again: exponential backoff within a budget.

`retry_count` counts the attempts that failed so far; `max_retries` is how many failed
attempts are allowed before the download is abandoned (the contract's `RetryInfo`).
The n-th failure waits `base * 2**(n-1)`, capped at `cap`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared import events as ev


def retry_decision(
    retry_count: int, max_retries: int, failed_at: datetime, base: timedelta, cap: timedelta
) -> ev.RetryInfo:
    """Whether, and when, the download whose `retry_count`-th attempt just failed runs again."""
    if retry_count >= max_retries:
        return ev.RetryInfo(retry_count=retry_count, max_retries=max_retries, will_retry=False)
    delay = min(base * 2 ** max(retry_count - 1, 0), cap)
    return ev.RetryInfo(
        retry_count=retry_count,
        max_retries=max_retries,
        will_retry=True,
        next_retry_at=failed_at + delay,
    )
