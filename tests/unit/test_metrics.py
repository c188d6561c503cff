"""`/metrics` on a service's health port, and what `shared.metrics` counts: scraped over
loopback and read back through Prometheus's own text parser."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from shared import events as ev
from shared import metrics
from shared.health import health_app, start_health_server

FAMILIES = {
    "abauto_events_handled": "counter",
    "abauto_events_dead_lettered": "counter",
    "abauto_consumer_lag": "gauge",
    "abauto_gaps_found": "counter",
    "abauto_downloads": "counter",
    "abauto_releases_blocklisted": "counter",
    "abauto_imports": "counter",
    "abauto_import_duration_seconds": "histogram",
    "abauto_external_request_duration_seconds": "histogram",
    "abauto_external_request_errors": "counter",
}


@pytest.fixture
async def health_url() -> AsyncIterator[str]:
    runner, port = await start_health_server(health_app("test", {}), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _scrape(url: str) -> tuple[str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as answer:
        assert answer.status == 200
        return answer.headers["Content-Type"], await answer.text()


async def test_metrics_answers_in_prometheus_text_format_with_every_family(
    health_url: str,
) -> None:
    metrics.DOWNLOADS.labels("completed").inc()
    content_type, body = await _scrape(health_url)

    assert content_type.startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert {name: families[name].type for name in FAMILIES if name in families} == FAMILIES
    assert "process_cpu_seconds" in families  # the process's own, from the default registry
    completed = [
        s for s in families["abauto_downloads"].samples if s.labels == {"outcome": "completed"}
    ]
    assert [s.name for s in completed] == ["abauto_downloads_total"]
    assert completed[0].value >= 1
    assert not any(name.endswith("_created") for name in body.split())  # no clutter


async def test_a_count_shows_in_the_next_scrape(health_url: str) -> None:
    def scraped(body: str) -> float:
        family = next(f for f in text_string_to_metric_families(body) if f.name == "abauto_imports")
        return sum(s.value for s in family.samples if s.labels == {"outcome": "failed"})

    before = scraped((await _scrape(health_url))[1])
    metrics.IMPORTS.labels("failed").inc()
    assert scraped((await _scrape(health_url))[1]) == before + 1


def _gap(reason: ev.MissingReason, review: bool) -> ev.MissingBookIdentified:
    payload = ev.MissingBookIdentifiedPayload(
        book=ev.BookRef(title="A Book", author="An Author"),
        reason_missing=reason,
        needs_review=review,
    )
    return ev.MissingBookIdentified.create(payload, producer="tests")


def _gaps(reason: str, review: str) -> float:
    labels = {"reason": reason, "needs_review": review}
    return REGISTRY.get_sample_value("abauto_gaps_found_total", labels) or 0.0


def test_gaps_are_counted_by_reason_and_review_and_nothing_else_is() -> None:
    before = (_gaps("series_gap", "false"), _gaps("author_gap", "true"))
    book = ev.BookRef(title="Owned", author="An Author")
    other = ev.BookRequested.create(ev.BookRequestedPayload(book=book), producer="tests")
    metrics.count_gaps(
        [
            _gap(ev.MissingReason.SERIES_GAP, False),
            _gap(ev.MissingReason.SERIES_GAP, False),
            _gap(ev.MissingReason.AUTHOR_GAP, True),
            other,
        ]
    )
    after = (_gaps("series_gap", "false"), _gaps("author_gap", "true"))
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://user:secret@ABS.lan:13378/api/items", "abs.lan:13378"),
        ("https://api.audible.com/1.0/catalog", "api.audible.com"),
        ("127.0.0.1:8080", "127.0.0.1:8080"),
    ],
)
def test_a_host_label_is_host_and_port_without_credentials(url: str, host: str) -> None:
    assert metrics.host_of(url) == host


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, None), (302, None), (404, "status_4xx"), (429, "status_429"), (503, "status_5xx")],
)
def test_an_error_status_is_an_error_of_its_class(status: int, kind: str | None) -> None:
    assert metrics.status_error(status) == kind
