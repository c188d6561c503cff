"""Every Prometheus metric the services expose, in one place.

Each service serves them at `GET /metrics` on its health port (`shared.health`), in
Prometheus's text format. A process exposes only what it counts itself: Prometheus adds
`job` and `instance`, so no metric says which service it comes from. No label ever names
a book, a title, a release or an event id: every label takes a handful of values.

Events (every consumer, `shared.messaging`):
- `abauto_events_handled_total{topic, event_type}` (counter): events a consumer is done
  with (acted on, or nothing to do for it) and did not dead-letter.
- `abauto_events_dead_lettered_total{topic}` (counter): messages sent to the dead-letter
  topic (undecodable, or the handler gave up on them).
- `abauto_consumer_lag{group, topic, partition}` (gauge): messages in the partition past
  the group's committed offset, as of the consumer's last poll.

The work (each service where it happens):
- `abauto_gaps_found_total{reason, needs_review}` (counter): "missing book identified"
  events discovery published; `reason` is `series_gap` or `author_gap`, `needs_review`
  `true` or `false`.
- `abauto_downloads_total{outcome}` (counter): download attempts that `completed`
  (whatever the importer then makes of the files) or `failed` (a release the importer
  refused is charged as one), and books given up (`abandoned`).
- `abauto_releases_blocklisted_total{stage}` (counter): releases blocklisted for a book,
  by the downloader (`download`) or by the importer after refusing the audio (`import`).
- `abauto_imports_total{outcome}` (counter): imports `completed` or `failed`.
- `abauto_import_duration_seconds` (histogram): from the importer taking a "download
  completed" to the book being one Audiobookshelf item, for completed imports.

Other systems (Audiobookshelf, Audible, Torznab and MyAnonamouse through `shared.http`,
where each retry is a request of its own; qBittorrent):
- `abauto_external_request_duration_seconds{host, method, outcome}` (histogram): each
  request, `outcome` `ok` or `error`.
- `abauto_external_request_errors_total{host, kind}` (counter): the failed ones, by how:
  `timeout`, `connection`, `status_4xx`, `status_429`, `status_5xx`, or `refused`
  (qBittorrent refused the login).

`topic` is the topic's name in `shared.topics` (without the namespace); `group` the
consumer group's, likewise. `host` is `host:port` (never the URL's credentials); `method`
is the HTTP method, or for qBittorrent the Web API call (`torrents/info`). Topics, groups
and hosts come from the configuration, so they too stay few.

The default registry also carries prometheus_client's `process_*` and `python_*` metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import prometheus_client
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram

from shared import events as ev

# Each counter would also get a `_created` series (its start time): twice the series
# for nothing Prometheus's own `resets()` does not already tell.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

EVENTS_HANDLED = Counter(
    "abauto_events_handled",
    "Events a consumer is done with (acted on, or nothing to do for it), not dead-lettered.",
    ["topic", "event_type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "abauto_events_dead_lettered",
    "Messages sent to the dead-letter topic: undecodable, or the handler gave up on them.",
    ["topic"],
)
CONSUMER_LAG = Gauge(
    "abauto_consumer_lag",
    "Messages in the partition past the group's committed offset, as of the last poll.",
    ["group", "topic", "partition"],
)
GAPS_FOUND = Counter(
    "abauto_gaps_found",
    'Missing books discovery published ("missing book identified").',
    ["reason", "needs_review"],
)
DOWNLOADS = Counter(
    "abauto_downloads",
    "Download attempts that completed or failed, and books given up (abandoned).",
    ["outcome"],
)
RELEASES_BLOCKLISTED = Counter(
    "abauto_releases_blocklisted",
    "Releases blocklisted for a book, at download or at import.",
    ["stage"],
)
IMPORTS = Counter("abauto_imports", "Imports into the library, by outcome.", ["outcome"])
IMPORT_DURATION = Histogram(
    "abauto_import_duration_seconds",
    'From taking a "download completed" to the book being one Audiobookshelf item.',
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
EXTERNAL_REQUEST_DURATION = Histogram(
    "abauto_external_request_duration_seconds",
    "Requests to other systems (Audiobookshelf, Audible, indexers, qBittorrent).",
    ["host", "method", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
EXTERNAL_REQUEST_ERRORS = Counter(
    "abauto_external_request_errors",
    "Requests to other systems that failed, by how.",
    ["host", "kind"],
)


def exposition() -> tuple[bytes, str]:
    """The metrics of this process in Prometheus's text format, and its content type."""
    return prometheus_client.generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def host_of(url: str) -> str:
    """`host:port` of `url` (a URL, or a bare `host:port`), without any credentials."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    host = parts.hostname or "unknown"
    return f"{host}:{parts.port}" if parts.port else host


def status_error(status: int) -> str | None:
    """The error kind an HTTP status is, or None for a success."""
    if status < 400:
        return None
    if status == 429:
        return "status_429"
    return "status_5xx" if status >= 500 else "status_4xx"


def external_request(host: str, method: str, seconds: float, error: str | None) -> None:
    """Count one request to another system: how long it took and, if it failed, how."""
    outcome = "ok" if error is None else "error"
    EXTERNAL_REQUEST_DURATION.labels(host, method, outcome).observe(seconds)
    if error is not None:
        EXTERNAL_REQUEST_ERRORS.labels(host, error).inc()


def count_gaps(published: Iterable[ev.Event[Any]]) -> None:
    """Count the "missing book identified" among events just published."""
    for event in published:
        if isinstance(event, ev.MissingBookIdentified):
            p = event.payload
            GAPS_FOUND.labels(p.reason_missing.value, str(p.needs_review).lower()).inc()
