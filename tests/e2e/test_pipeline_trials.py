"""End to end, with releases that are not all what they claim (`sandbox/releases.py`)
and an author with books outside the series (`sandbox/world.py` STANDALONES): the right
release of each missing book is imported, the wrong ones are passed over or refused —
each refusal recorded with its reason and never taken again — the author's book outside
the series is fetched and the doubtful one left for review, and an operator can clear a
book's blocklist. A real Prometheus scrapes the four services all along, and its
queries give the run's own numbers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.releases import NARRATOR
from sandbox.world import Sandbox
from shared.metrics import host_of
from tests.support.log_lines import read_log_lines
from tests.support.logql import LogQL, documented_queries, logcli
from tests.support.pipelines import Pipeline, running_pipeline
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PIPELINE_TIMEOUT_S = 300.0

GAPS = """
SELECT title, reason_missing, download_status, confidence, evidence FROM missing_books
"""
KEYS = "SELECT title, series_number, book_key FROM missing_books"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SERVICES = {"discovery", "downloader", "importer", "recorder"}
BLOCKED = """
SELECT m.series_number, r.reason_code, r.stage, r.release_title,
       r.last_blocked_at > coalesce(m.blocklist_cleared_at, '-infinity') AS blocking
FROM blocked_releases r JOIN missing_books m ON m.book_key = r.book_key
"""


@pytest.fixture(scope="module")
async def pipeline(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pipeline]:
    # Audio of minutes, so that a release a quarter as long shows against the catalogue.
    world = Sandbox(
        tmp_path_factory.mktemp("trials"),
        trials=True,
        standalones=True,
        mam=True,
        audio_seconds=240.0,
    )
    async with running_pipeline(stack, world, "trials", scraped=True) as running:
        yield running


async def _every_gap_settled(pipeline: Pipeline) -> None:
    """Wait until each of the four gaps is imported or left for review."""

    async def settled() -> bool:
        pipeline.alive()
        gaps = await pipeline.rows(GAPS)
        return len(gaps) == 4 and all(
            g["download_status"] in ("imported", "needs_review") for g in gaps
        )

    await wait_until(settled, within=PIPELINE_TIMEOUT_S, interval=0.5, what="every gap imported")


async def test_the_right_releases_are_imported_and_the_wrong_ones_refused_with_reasons(
    pipeline: Pipeline,
) -> None:
    await _every_gap_settled(pipeline)
    gaps = {g["title"]: g for g in await pipeline.rows(GAPS)}
    assert {t: (g["reason_missing"], g["download_status"]) for t, g in gaps.items()} == {
        "The Glass Orchard": ("series_gap", "imported"),
        "The Last Keeper": ("series_gap", "imported"),
        "The Tidewright": ("author_gap", "imported"),
        "Salt and Lamplight: An Interview with Mara Quill": ("author_gap", "needs_review"),
    }
    assert gaps["The Tidewright"]["confidence"] == 0.9
    # The author's other book only MyAnonamouse has: found there, freeleech, fetched.
    [from_mam] = await pipeline.rows(
        "SELECT m.title FROM downloads d JOIN missing_books m ON m.id = d.missing_book_id "
        "WHERE d.source = 'mam'"
    )
    assert from_mam == {"title": "The Tidewright"}
    assert (
        "sampler, excerpt or talk"
        in gaps["Salt and Lamplight: An Interview with Mara Quill"]["evidence"]
    )
    [author] = await pipeline.rows(
        "SELECT total_audiobooks_external, audiobooks_owned, audiobooks_missing, "
        "completion_status FROM authors WHERE last_completion_check IS NOT NULL"
    )
    # Five works once editions are folded and the box set and the German one dropped:
    # the series' five and the two outside it; three owned, two missing.
    assert author == {
        "total_audiobooks_external": 7, "audiobooks_owned": 3, "audiobooks_missing": 2,
        "completion_status": "partial",
    }  # fmt: skip

    refused = {
        (r["series_number"], r["reason_code"], r["stage"]) for r in await pipeline.rows(BLOCKED)
    }
    assert refused == {
        ("3", "WRONG_BOOK", "import"),
        ("3", "RUNTIME_MISMATCH", "import"),
        ("5", "DOWNLOAD_STALLED", "download"),
        ("5", "LANGUAGE_MISMATCH", "import"),
    }
    taken = await pipeline.rows(
        "SELECT m.series_number, d.selection->'chosen'->>'title' AS title, "
        "d.selection->>'why' AS why FROM downloads d "
        "JOIN missing_books m ON m.id = d.missing_book_id ORDER BY 1"
    )
    # Book 3: the series' narrator, not the better-seeded "read by Tom Vance", nor the
    # abridged or German ones; book 5: the scene-named release.
    assert taken[0]["title"].endswith(f"{{{NARRATOR}}}")
    assert "narrator" in taken[0]["why"]
    assert taken[1]["title"] == "Mara_Quill-The_Last_Keeper-AUDIOBOOK-WEB-EN-2025-FiH"

    # What Audiobookshelf shows is the right audio: the real book's length.
    assert pipeline.world.abs is not None
    listed = {item.title: item for item in pipeline.world.abs.items()}
    for title in ("The Glass Orchard", "The Last Keeper", "The Tidewright"):
        assert [round(f.duration) for f in listed[title].audio] == [240]
    assert listed["The Tidewright"].rel_path == "Mara Quill/The Tidewright"

    # Every refusal is in the permanent failure record, with the attempt it cost.
    failures = await pipeline.rows("SELECT task_name, error_code FROM failed_attempts")
    assert {(f["task_name"], f["error_code"]) for f in failures} == {
        ("IMPORT", "WRONG_BOOK"),
        ("IMPORT", "RUNTIME_MISMATCH"),
        ("IMPORT", "LANGUAGE_MISMATCH"),
        ("DOWNLOAD", "DOWNLOAD_STALLED"),
    }


async def test_the_logs_tell_each_books_story(pipeline: Pipeline) -> None:
    """What an operator's log stack sees of the same run: JSON lines in the documented
    schema (`docs/logs.md`), the searches, choices, refusals and stalls, each line about a
    book carrying its key, and one correlation id from the gap to the import."""
    await wait_until(
        lambda: _imported_all(pipeline), within=PIPELINE_TIMEOUT_S, interval=0.5, what="imports"
    )
    lines = read_log_lines(pipeline.services.log_dir)
    for line in lines:
        assert RFC3339_UTC.fullmatch(line["time"]), line
        assert line["service"] in SERVICES, line
        assert line["event"], line
        assert line["level"], line
        if "book" in line:
            assert line.get("correlation_id"), line
    keys = {g["series_number"] or g["title"]: g["book_key"] for g in await pipeline.rows(KEYS)}

    def about(book: str, event: str, **fields: object) -> list[dict[str, Any]]:
        return [
            line for line in lines
            if line.get("book") == keys[book] and line["event"] == event
            and all(line.get(name) == value for name, value in fields.items())
        ]  # fmt: skip

    # Book 3: its wrong releases refused at import, each with its reason; then the
    # series' narrator chosen, and why.
    assert {r["reason"] for r in about("3", "release.refused", stage="import")} == {
        "WRONG_BOOK", "RUNTIME_MISMATCH",
    }  # fmt: skip
    assert {r["error_code"] for r in about("3", "import.refused")} == {
        "WRONG_BOOK", "RUNTIME_MISMATCH",
    }  # fmt: skip
    chosen = about("3", "release.chosen")
    assert chosen[-1]["release"].endswith(f"{{{NARRATOR}}}")
    assert "narrator" in chosen[-1]["why"]
    # The rule's own refusals of book 3's releases (abridged, German), named one by one.
    assert {"abridged", "language_mismatch"} <= {
        r["reason"] for r in about("3", "release.refused", stage="choice")
    }
    searched = about("3", "release.searched")
    assert searched
    assert all(s["found"] > 0 for s in searched)
    # Book 5: the release nobody seeds stalls, and is blocklisted for the book.
    [stalled] = about("5", "download.stalled")
    assert about("5", "release.blocklisted", reason="DOWNLOAD_STALLED")
    assert about("5", "download.failed", error_code="DOWNLOAD_STALLED", will_retry=True)
    assert stalled["level"] == "WARNING"
    assert stalled["info_hash"]
    # Each book imported: gap, search, choice, download and import share one
    # correlation id, across three services.
    for book in ("3", "5", "The Tidewright"):
        [completed] = about(book, "import.completed")
        correlation = completed["correlation_id"]
        story = [line for line in lines if line.get("correlation_id") == correlation]
        told = {(line["service"], line["event"]) for line in story}
        assert {
            ("discovery", "gap.found"),
            ("downloader", "release.searched"),
            ("downloader", "release.chosen"),
            ("downloader", "download.completed"),
            ("importer", "import.completed"),
        } <= told, (book, sorted(told))
        assert completed["seconds"] >= 0
        assert completed["abs_id"]
    # The book left for review: found, and not downloaded, with the reason.
    review = "Salt and Lamplight: An Interview with Mara Quill"
    assert about(review, "gap.found", needs_review=True)
    assert about(review, "download.skipped", reason="needs_review")


async def test_the_documented_logql_queries_answer_with_the_runs_numbers(
    pipeline: Pipeline,
) -> None:
    """Each query of `docs/logs.md`, run by Loki's own LogQL engine (logcli) over this
    run's lines, gives what the run did: the refusals by reason, the stall, the failed
    attempts, the gaps, the imports."""
    binary = logcli()
    if binary is None:
        pytest.skip("logcli is not built (scripts/build-logcli.sh; make test builds it)")
    await wait_until(
        lambda: _imported_all(pipeline), within=PIPELINE_TIMEOUT_S, interval=0.5, what="imports"
    )
    lines = read_log_lines(pipeline.services.log_dir)
    loki = LogQL(binary, [json.dumps(line) for line in lines])
    queries = documented_queries()
    keys = {g["series_number"] or g["title"]: g["book_key"] for g in await pipeline.rows(KEYS)}
    [stalled] = [line for line in lines if line["event"] == "download.stalled"]
    [imported_3] = [
        line for line in lines if line["event"] == "import.completed" and line["book"] == keys["3"]
    ]
    answered: set[str] = set()

    def log(title: str, **substitutions: str) -> list[dict[str, Any]]:
        query = queries[title]
        for example, value in substitutions.items():
            assert example in query, (title, example)
            query = query.replace(example, value)
        answered.add(title)
        return loki.log_query(query)

    def metric(title: str) -> dict[tuple[str, ...], float]:
        answered.add(title)
        return loki.metric_query(queries[title])

    story = log("The story of one book", **{"asin:B08G9PRS1K": keys["3"]})
    assert len(story) == sum(line.get("book") == keys["3"] for line in lines)
    assert {"gap.found", "release.chosen", "import.refused", "import.completed"} <= {
        line["event"] for line in story
    }
    work = log("One piece of work, across services", **{"5f0c6a1e-…": imported_3["correlation_id"]})
    assert {"discovery", "downloader", "importer"} <= {line["service"] for line in work}
    chosen = log("What was chosen, and why")
    assert len(chosen) == sum(line["event"] == "release.chosen" for line in lines)
    assert any(NARRATOR in c["line"] and "narrator" in c["line"] for c in chosen)
    refused = metric("Releases refused, by reason")
    assert {
        ("import", "WRONG_BOOK"): 1, ("import", "RUNTIME_MISMATCH"): 1,
        ("import", "LANGUAGE_MISMATCH"): 1,
    }.items() <= refused.items()  # fmt: skip
    assert refused[("choice", "abridged")] >= 1
    assert metric("Stalled downloads, by indexer") == {(stalled["indexer"],): 1}
    assert metric("Failed attempts, by code") == {
        ("DOWNLOAD_STALLED",): 1, ("WRONG_BOOK",): 1, ("RUNTIME_MISMATCH",): 1,
        ("LANGUAGE_MISMATCH",): 1,
    }  # fmt: skip
    assert log("Books given up on") == []
    assert metric("Gaps found, by reason") == {("series_gap",): 2, ("author_gap",): 2}
    assert metric("Books imported") == {(): 3}
    [(slowest)] = metric("Slowest imports").values()
    assert slowest == max(line["since_download_s"] for line in lines if "since_download_s" in line)
    assert log("Dead letters") == []
    away = re.compile(r"dependency\.(unavailable|refused)|indexer\.refused")
    assert len(log("What is away")) == sum(bool(away.fullmatch(line["event"])) for line in lines)
    loud = Counter(
        (line["service"], line["event"])
        for line in lines
        if line["level"] in ("WARNING", "ERROR", "CRITICAL")
    )
    by_event = metric("Warnings and errors, by service and event")
    assert by_event == {group: float(n) for group, n in loud.items()}
    assert ("downloader", "download.stalled") in by_event
    assert answered == set(queries), "a documented query without a check here"


async def _imported_all(pipeline: Pipeline) -> bool:
    rows = await pipeline.rows(GAPS)
    return sum(bool(r["download_status"] == "imported") for r in rows) >= 3


async def test_prometheus_reads_the_runs_own_numbers_from_the_services(
    pipeline: Pipeline,
) -> None:
    await _every_gap_settled(pipeline)
    settled = time.time()
    prometheus = pipeline.prometheus
    assert prometheus is not None
    await asyncio.to_thread(prometheus.wait_for_scrape, after=settled, timeout=30)

    async def value(promql: str) -> float | None:
        return await asyncio.to_thread(prometheus.value, promql)

    async def record(query: str, *args: object) -> int:
        return int((await pipeline.rows(query, *args))[0]["n"])

    # What the record says happened, and what the services counted, scraped after it.
    assert await value("sum(abauto_gaps_found_total)") == await record(
        "SELECT count(*) AS n FROM missing_books"
    )  # 4
    assert await value('sum(abauto_gaps_found_total{needs_review="true"})') == await record(
        "SELECT count(*) AS n FROM missing_books WHERE download_status = 'needs_review'"
    )  # 1
    assert await value('sum(abauto_gaps_found_total{reason="author_gap"})') == await record(
        "SELECT count(*) AS n FROM missing_books WHERE reason_missing = 'author_gap'"
    )  # 2
    # A download attempt that completed is a completed DOWNLOAD task, whatever the
    # importer then makes of it: 6, three of them releases the importer refused.
    downloaded = await record(
        "SELECT count(*) AS n FROM tasks WHERE task_name = 'DOWNLOAD' AND status = 'completed'"
    )
    assert await value('sum(abauto_downloads_total{outcome="completed"})') == downloaded
    assert await value('sum(abauto_downloads_total{outcome="failed"})') == await record(
        "SELECT sum(retry_count) AS n FROM downloads"
    )  # 4: a stall, and three releases the importer refused
    for stage in ("download", "import"):
        blocklisted = f'sum(abauto_releases_blocklisted_total{{stage="{stage}"}})'
        assert await value(blocklisted) == await record(
            "SELECT count(*) AS n FROM blocked_releases WHERE stage = $1", stage
        )  # 1 at download, 3 at import
    imported = await record(
        "SELECT count(*) AS n FROM missing_books WHERE download_status = 'imported'"
    )
    assert await value('sum(abauto_imports_total{outcome="completed"})') == imported
    assert await value("sum(abauto_import_duration_seconds_count)") == imported
    assert (await value("sum(abauto_import_duration_seconds_sum)") or 0) > 0
    import_failures = await record(
        "SELECT sum(attempt_count) AS n FROM failed_attempts WHERE task_name = 'IMPORT'"
    )
    assert await value('sum(abauto_imports_total{outcome="failed"})') == import_failures  # 3
    assert imported + import_failures == downloaded  # every completed download was filed

    # Every gap went through the recorder's consumer, and nothing was dead-lettered.
    handled = 'abauto_events_handled_total{job="recorder", topic="wanted.v1"}'
    assert await value(f"sum({handled})") == 4
    assert await value("sum(abauto_events_dead_lettered_total)") == 0
    assert (await value('count(abauto_consumer_lag{job="recorder"})') or 0) > 0

    # The calls to Audiobookshelf (both services that use it) and to qBittorrent, timed.
    environment = pipeline.world.environment()
    abs_host, qbit_host = (
        host_of(environment[n]) for n in ("ABAUTO_ABS_URL", "ABAUTO_QBITTORRENT_URL")
    )
    calls = "abauto_external_request_duration_seconds_count"
    for job in ("discovery", "importer"):
        selector = f'{calls}{{job="{job}", host="{abs_host}", outcome="ok"}}'
        assert (await value(f"sum({selector})") or 0) > 0, job
    added = f'{calls}{{job="downloader", host="{qbit_host}", method="torrents/add"}}'
    assert (await value(f"sum({added})") or 0) >= downloaded


async def test_an_operator_clears_a_books_blocklist(pipeline: Pipeline) -> None:
    [gap] = await pipeline.rows("SELECT book_key FROM missing_books WHERE series_number = '5'")
    environment = {
        **os.environ,
        "DATABASE_URL": pipeline.run.owner_url,
        "KAFKA_BOOTSTRAP_SERVERS": pipeline.run.kafka_bootstrap,
        "ABAUTO_KAFKA_TOPIC_NAMESPACE": pipeline.run.namespace,
    }
    clear = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops.cli", "blocklist", "clear", gap["book_key"], "--by", "ops",
        env=environment,
    )  # fmt: skip
    assert await asyncio.wait_for(clear.wait(), 60) == 0

    async def cleared() -> bool:
        rows = await pipeline.rows(BLOCKED + " WHERE m.series_number = '5'")
        return bool(rows) and not any(r["blocking"] for r in rows)

    await wait_until(cleared, within=60, interval=0.5, what="book 5's blocklist cleared")
    # Book 3's stays.
    rows = await pipeline.rows(BLOCKED + " WHERE m.series_number = '3'")
    assert [r["blocking"] for r in rows] == [True, True]

    show = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops.cli", "blocklist", "show", env=environment,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(show.communicate(), 60)
    lines = out.decode().splitlines()
    assert len(lines) == 4
    assert sum("\tcleared\t" in line for line in lines) == 2
