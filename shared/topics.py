"""Every Kafka topic name, in one place. Nothing else spells a topic name.

Names here are relative to a namespace (`ABAUTO_KAFKA_TOPIC_NAMESPACE`, default
`abauto`): the library topic is `abauto.library.v1` on the wire. Several deployments,
test runs or benchmarks can share one cluster under different namespaces.

Events of one book share a key (see `shared.events.book_key`), so they keep their order
within each topic.
"""

from __future__ import annotations

from typing import Final

LIBRARY: Final = "library.v1"
"""What is in Audiobookshelf: book discovered / removed. Key: `abs:<item id>`."""

CATALOGUE: Final = "catalogue.v1"
"""Completeness of series and authors, metadata corrections."""

WANTED: Final = "wanted.v1"
"""Books the library should have: missing book identified, book requested."""

DOWNLOADS: Final = "downloads.v1"
"""The download lifecycle: queued, progressed, completed, failed, abandoned; releases
blocklisted for a book, and blocklists cleared."""

IMPORTS: Final = "imports.v1"
"""Imports into Audiobookshelf: completed / failed."""

OPERATIONS: Final = "operations.v1"
"""Job runs and failures: task started / finished, failure recorded."""

HEARTBEATS: Final = "heartbeats.v1"
"""Liveness: every running service process's heartbeat, with its readiness. Key:
`instance:<host>:<pid>`. Apart from the operations topic, so that a reader of job runs
is not swamped by them."""

COMMANDS: Final = "commands.v1"
"""Requests for a service to act now (run discovery, …). Not facts: not recorded."""

DEAD_LETTER: Final = "dead-letter.v1"
"""Messages no consumer could handle, with the error and the original bytes."""

DESCRIPTIONS: Final = {
    LIBRARY: "What is in Audiobookshelf: book discovered / removed.",
    CATALOGUE: "Completeness of series and authors, and metadata corrections.",
    WANTED: "Books the library should have: missing book identified, book requested.",
    DOWNLOADS: "The download lifecycle: queued … abandoned; release blocklists.",
    IMPORTS: "Imports into Audiobookshelf: completed / failed.",
    OPERATIONS: "Job runs and failures: task started / finished, failure recorded.",
    HEARTBEATS: "Liveness: each running service process's heartbeat and readiness.",
    COMMANDS: "Requests for a service to act now (run discovery, apply or revert a correction, …); "
    "not recorded.",
    DEAD_LETTER: "Messages no consumer could handle, with the error and the original bytes.",
}

DOMAIN_TOPICS: Final = (LIBRARY, CATALOGUE, WANTED, DOWNLOADS, IMPORTS, OPERATIONS, HEARTBEATS)
"""The facts: every one is recorded (the recorder reads them all)."""
ALL_TOPICS: Final = (*DOMAIN_TOPICS, COMMANDS, DEAD_LETTER)

DEFAULT_NAMESPACE: Final = "abauto"


def qualified(namespace: str, topic: str) -> str:
    """The name of `topic` on the wire, within `namespace`."""
    return f"{namespace}.{topic}"
