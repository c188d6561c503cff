"""JSON log lines on stdout, made for log-based monitoring (the schema: `docs/logs.md`).

Every line has `time` (UTC, RFC 3339 with milliseconds: `2026-12-06T03:36:32.123Z`),
`level`, `service`, `logger`, `message` and `event`: a stable name for what happened
(`release.chosen`, `download.stalled`, `import.completed`…), given by the call
(`logger.info("…", extra={"event": "release.chosen", …})`) with the event's own fields
beside it. A line from a library, which names no event, gets `<library>.log`
(`aiokafka.log`); the summary of held-back repeats is `log.repeats_suppressed`.

`log_context(book=…, correlation_id=…, …)` adds fields to every line logged inside it,
across awaits and into tasks started inside it (it is a context variable): the consumer
sets the event in hand's ids (and its book), a task run its correlation id;
`context_with(…)` starts a task with its own (a pursuit: its book and correlation id).
Repeated lines are rate-limited and summarised (`shared.log_floods`), so an outage does
not flood the logs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import Context, ContextVar, copy_context
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from shared.log_floods import RepeatFilter

_context: ContextVar[dict[str, Any]] = ContextVar("abauto_log_context", default={})  # noqa: B039


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line emitted inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def context_with(**fields: Any) -> Context:
    """A copy of the current context with `fields` added to its log context: for a task
    (`asyncio.create_task(…, context=…)`) whose every line carries them."""
    context = copy_context()
    context.run(_context.set, {**_context.get(), **fields})
    return context


class ContextFilter(logging.Filter):
    """Copies the service name and the current log context onto each record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the fields; never drops a record."""
        record.service = self._service
        if hasattr(record, "suppressed_lines"):
            record.event = SUPPRESSED_EVENT
            return True  # a summary: the current event's context is not its context
        if not hasattr(record, "event"):
            record.event = f"{record.name.partition('.')[0]}.log"
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


SUPPRESSED_EVENT = "log.repeats_suppressed"
"""The `event` of a line summarising repeats that were held back."""


class _Formatter(JsonFormatter):
    """`time` in UTC, RFC 3339 with milliseconds and `Z`, whatever the host's zone."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """The record's creation instant, e.g. `2026-12-06T03:36:32.123Z`."""
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _JsonLinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Stdout, with the summaries of suppressed repeats written before it closes."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.repeats = RepeatFilter(sink=self.handle)

    def close(self) -> None:
        """Write pending summaries (logging.shutdown calls this at exit), then close."""
        self.repeats.flush()
        super().close()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send JSON lines to stdout for the whole process (replacing earlier handlers);
    repeats of one logger's message template beyond a few per window are summarised."""
    handler = _JsonLinesHandler()
    handler.setFormatter(
        _Formatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    )
    handler.addFilter(ContextFilter(service))
    handler.addFilter(handler.repeats)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
