"""Transient or permanent: the one place that decides what a failure means.

*Transient*: something we talk to is away, slow or busy (Kafka, PostgreSQL,
Audiobookshelf, qBittorrent, an indexer). The same work succeeds later, so it waits and
resumes with backoff; it is never charged to a book and never dead-lettered.

*Refused*: something we talk to rejects our credentials. That is a configuration error:
the service stays up, reports not ready and makes no further attempt until it is
reconfigured (retrying a wrong password gets the address banned). Never charged to a book.

*Permanent*: everything else about one piece of work (the input is wrong). It becomes a
recorded failure or a dead letter, and the next piece of work is handled.

Every consumer loop and worker asks `is_transient` / `is_refused`; adapters raise (or
subclass) `Unavailable` and `CredentialsRefused` so that this module needs to know no
client library but the shared ones.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiokafka.errors import KafkaError

from shared.database_errors import DatabaseUnavailableError, is_database_away


class Unavailable(Exception):  # noqa: N818  (a state of the world, named as one)
    """A dependency is away, slow or busy; the same work can be retried later."""


class CredentialsRefused(Exception):  # noqa: N818
    """A dependency refused our credentials: a configuration error, not a book's fault."""


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and every error it wraps (`__cause__`, `__context__`), each once."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        yield current
        pending += [current.__cause__, current.__context__]


def is_refused(error: BaseException) -> bool:
    """Whether `error` means our credentials were refused (see the module docstring)."""
    return any(isinstance(e, CredentialsRefused) for e in causes(error))


def is_transient(error: BaseException) -> bool:
    """Whether `error` means a dependency is away, so the same work should be retried."""
    if is_refused(error):
        return False
    if is_database_away(error):
        return True
    return any(_transient_itself(e) for e in causes(error))


def _transient_itself(error: BaseException) -> bool:
    if isinstance(error, Unavailable | DatabaseUnavailableError | TimeoutError | ConnectionError):
        return True
    return isinstance(error, KafkaError) and bool(getattr(error, "retriable", False))
