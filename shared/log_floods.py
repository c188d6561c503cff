"""Keeping a flood of repeated log lines (a broker outage, a dead database) readable.

A line is "the same" as another when it comes from the same logger with the same message
template (`record.msg`, before its arguments are filled in): aiokafka's "Unable connect to
node 1: …" repeats with a different error each time but is one template. At most `limit`
such lines pass per `window_s` seconds; the rest are counted, and once the window is over
one summary line at the same level says how many were suppressed and which template they
had. The summary is written with the next line logged by the process (during a flood that
is the next window's first line), and at shutdown, so it arrives even when the flooding
logger falls silent. Only WARNING and above are limited: INFO lines say what work was
done, one per event, and a busy hour must not lose them; floods are failures.

A filter of our own rather than a dependency: about sixty lines, keyed exactly on logger
and template, and emitting the summary as a line of its own with the count as a field.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_LIMIT = 5
DEFAULT_WINDOW_S = 10.0
DEFAULT_MIN_LEVEL = logging.WARNING
SUMMARY_TEMPLATE = "suppressed %d similar lines (%d per %.0f s are written) from %s: %s"

Key = tuple[str, str]


@dataclass
class _Window:
    started: float
    level: int
    passed: int = 0
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Lets `limit` lines per (logger, template) through per window; summarises the rest.
    Lines below `min_level` always pass.

    `sink` receives the summary records (normally the handler's `handle`).
    """

    def __init__(
        self,
        sink: Callable[[logging.LogRecord], object],
        limit: int = DEFAULT_LIMIT,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        min_level: int = DEFAULT_MIN_LEVEL,
    ) -> None:
        super().__init__()
        self._sink, self._limit, self._window_s, self._clock = sink, limit, window_s, clock
        self._min_level = min_level
        self._windows: dict[Key, _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        """True when the line may be written; summaries of closed windows go out first."""
        if hasattr(record, "suppressed_lines"):
            return True  # one of our own summaries
        with self._lock:
            now = self._clock()
            due = self._close_windows(now)
            allowed = record.levelno < self._min_level or self._count(
                _key(record), record.levelno, now
            )
        for summary in due:
            self._sink(summary)
        return allowed

    def flush(self) -> None:
        """Write the summaries of every window, finished or not (at shutdown)."""
        with self._lock:
            due = self._close_windows(float("inf"))
        for summary in due:
            self._sink(summary)

    def _count(self, key: Key, level: int, now: float) -> bool:
        window = self._windows.setdefault(key, _Window(started=now, level=level))
        window.level = max(window.level, level)
        if window.passed < self._limit:
            window.passed += 1
            return True
        window.suppressed += 1
        return False

    def _close_windows(self, now: float) -> list[logging.LogRecord]:
        closed = [k for k, w in self._windows.items() if now - w.started >= self._window_s]
        windows = [(key, self._windows.pop(key)) for key in closed]
        return [self._summary(key, w) for key, w in windows if w.suppressed]

    def _summary(self, key: Key, window: _Window) -> logging.LogRecord:
        name, template = key
        args = (window.suppressed, self._limit, self._window_s, name, template)
        record = logging.LogRecord(name, window.level, __file__, 0, SUMMARY_TEMPLATE, args, None)
        record.suppressed_lines = window.suppressed
        return record


def _key(record: logging.LogRecord) -> Key:
    return record.name, str(record.msg)
