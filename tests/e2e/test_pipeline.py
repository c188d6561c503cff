"""End to end: the library holds books 1, 2 and 4 of a five-book series; the four
services, run as separate processes on the real stack with two real qBittorrents, find,
download, file and import books 3 and 5 — and the record says so."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ops.liveness import SERVICES, liveness, record_age
from sandbox.world import ABS_KEY, AUTHOR, BOOKS, INDEXER_KEY, SERIES, Sandbox
from shared import events as ev
from tests.support.pipelines import Pipeline, running_pipeline
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PIPELINE_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
async def pipeline(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pipeline]:
    world = Sandbox(tmp_path_factory.mktemp("sandbox"))
    async with running_pipeline(stack, world, "e2e") as running:
        yield running


async def test_books_3_and_5_are_found_downloaded_and_imported(pipeline: Pipeline) -> None:
    async def filled() -> bool:
        pipeline.alive()
        gaps = await pipeline.gaps()
        return len(gaps) == 2 and all(g["download_status"] == "imported" for g in gaps)

    await wait_until(filled, within=PIPELINE_TIMEOUT_S, interval=0.5, what="both gaps imported")

    gaps = await pipeline.gaps()
    assert [(g["series_number"], g["title"]) for g in gaps] == [
        ("3", "The Glass Orchard"),
        ("5", "The Last Keeper"),
    ]
    assert all(g["download"] == "completed" and g["imported"] == "imported" for g in gaps)
    assert all(g["abs_id"] for g in gaps)

    # In Audiobookshelf, at the right place, with the right series and sequence.
    assert pipeline.world.abs is not None
    listed = {item.title: item for item in pipeline.world.abs.items()}
    for book in (BOOKS[2], BOOKS[4]):
        item = listed[book.title]
        assert item.rel_path == f"{AUTHOR}/{SERIES}/Vol. {book.position} - {book.title}"
        assert (SERIES, str(book.position)) in item.series
        audio = pipeline.world.library / item.rel_path / f"{book.title}.m4b"
        assert audio.stat().st_nlink == 2  # hard-linked: the torrent keeps seeding its copy
        seconds = pipeline.world.audio_seconds  # probed: the release is real audio
        assert [round(f.duration) for f in item.audio] == [round(seconds)]

    tasks = await pipeline.rows(
        "SELECT task_name, count(*) AS n FROM tasks WHERE status = 'completed' GROUP BY 1"
    )
    done = {t["task_name"]: t["n"] for t in tasks}
    assert done.get("LIBRARY_SCAN", 0) >= 1
    assert done.get("SERIES", 0) >= 1
    assert done.get("DOWNLOAD") == 2
    assert done.get("IMPORT") == 2
    assert await pipeline.rows("SELECT error_code FROM failed_attempts") == []


async def test_the_record_says_every_service_is_alive_and_ready(pipeline: Pipeline) -> None:
    """Each process's heartbeats, through Kafka and the recorder, read as `abauto status`
    reads them."""

    async def instances() -> list[dict[str, Any]]:
        rows = await pipeline.rows("SELECT * FROM service_instances")
        return [{**r, "readiness": json.loads(r["readiness"])} for r in rows]

    async def all_alive_and_ready() -> bool:
        pipeline.alive()
        said = {s.service: (s.state, s.ready) for s in liveness(await instances(), ev.utc_now())}
        return all(said.get(name) == ("alive", True) for name in SERVICES)

    await wait_until(all_alive_and_ready, within=60, interval=0.5, what="four live services")
    rows = await instances()
    assert sorted(r["service"] for r in rows) == sorted(SERVICES)  # one process each
    assert record_age(rows, ev.utc_now()).behind is False


async def test_discovery_again_finds_nothing_new(pipeline: Pipeline) -> None:
    before = await pipeline.rows("SELECT count(*) AS n FROM tasks WHERE task_name = 'SERIES'")
    trigger = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops.cli", "trigger", "discovery",
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": pipeline.run.kafka_bootstrap,
             "ABAUTO_KAFKA_TOPIC_NAMESPACE": pipeline.run.namespace},
    )  # fmt: skip
    assert await asyncio.wait_for(trigger.wait(), 60) == 0  # `abauto trigger discovery`

    async def second_series_check() -> bool:
        pipeline.alive()
        rows = await pipeline.rows(
            "SELECT count(*) AS n FROM tasks WHERE task_name = 'SERIES' AND status = 'completed'"
        )
        return bool(rows[0]["n"] > before[0]["n"])

    await wait_until(second_series_check, within=60, interval=0.5, what="a second series check")
    latest = await pipeline.rows(
        "SELECT (metadata ->> 'new_gaps')::int AS new_gaps FROM tasks "
        "WHERE task_name = 'SERIES' ORDER BY actual_end DESC LIMIT 1"
    )
    assert latest == [{"new_gaps": 0}]
    assert len(await pipeline.gaps()) == 2
    downloads = await pipeline.rows("SELECT count(*) AS n FROM downloads")
    assert downloads[0]["n"] == 2


async def test_a_book_no_indexer_has_is_recorded_as_a_failure(pipeline: Pipeline) -> None:
    wanted = ev.BookRef(title="A Book Nobody Seeds", author="Nobody In Particular")
    await pipeline.publish(
        ev.BookRequested.create(ev.BookRequestedPayload(book=wanted), producer="e2e")
    )

    async def abandoned() -> bool:
        pipeline.alive()
        rows = await pipeline.rows(
            "SELECT d.status FROM downloads d JOIN missing_books m ON m.id = d.missing_book_id "
            "WHERE m.book_key = $1",
            wanted.key,
        )
        return bool(rows) and rows[0]["status"] == "abandoned"

    await wait_until(abandoned, within=90, interval=0.5, what="the download to be abandoned")
    failures = await pipeline.rows(
        "SELECT task_name, error_code, attempt_count FROM failed_attempts WHERE item_key = $1",
        wanted.key,
    )
    assert failures == [{"task_name": "DOWNLOAD", "error_code": "NO_RELEASE", "attempt_count": 3}]
    assert all(g["download_status"] == "imported" for g in await pipeline.gaps())


async def test_a_download_whose_files_escape_the_library_is_refused(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # What a hostile or broken torrent would make qBittorrent report.
    outside = tmp_path / "outside"
    outside.mkdir()
    content = pipeline.world.root / "downloads" / "Escape Artist"
    content.mkdir(parents=True)
    (content / "part 1.m4b").write_bytes(b"\0" * 1000)
    book = ev.BookRef(title="Escape Artist", author="Mallory", asin="B0ESCAPE01")
    escape = f"../../../{outside.relative_to(outside.anchor)}/evil.m4b"
    completed = ev.DownloadCompletedPayload(
        book=book, info_hash="ab" * 20, content_path=str(content), files=["part 1.m4b", escape]
    )
    await pipeline.publish(ev.DownloadCompleted.create(completed, producer="e2e"))

    async def refused() -> bool:
        pipeline.alive()
        rows = await pipeline.rows(
            "SELECT error_code FROM failed_attempts WHERE task_name = 'IMPORT' AND item_key = $1",
            book.key,
        )
        return bool(rows)

    await wait_until(refused, within=60, interval=0.5, what="the import to be refused")
    rows = await pipeline.rows(
        "SELECT error_code FROM failed_attempts WHERE item_key = $1", book.key
    )
    assert rows == [{"error_code": "PATH_ESCAPE"}]
    assert list(outside.iterdir()) == []
    assert not (pipeline.world.library / "Mallory").exists()


async def test_no_secret_reaches_the_record_or_the_logs(pipeline: Pipeline) -> None:
    rows = await pipeline.rows("SELECT torrent_url FROM downloads WHERE torrent_url IS NOT NULL")
    assert rows  # the downloads say where their torrent came from…
    assert all(INDEXER_KEY not in r["torrent_url"] for r in rows)  # …without the key
    assert pipeline.world.leecher is not None
    secrets = (INDEXER_KEY, ABS_KEY, pipeline.world.leecher.password.get_secret_value())
    logs = {name: pipeline.services.log_tail(name, 100_000) for name in pipeline.services.processes}
    assert all(logs.values())  # the services did log…
    assert [n for n, text in logs.items() if any(s in text for s in secrets)] == []  # …no secret


async def test_a_service_stopped_cleanly_shows_stopped_and_a_killed_one_goes_stale(
    pipeline: Pipeline,
) -> None:
    """Last, as it stops two services: the importer is stopped as an orchestrator does
    (SIGTERM) and says so in its last heartbeat; discovery is killed, says nothing, and
    goes stale once it has missed three heartbeats."""
    assert await pipeline.services.terminate("importer") == 0
    await pipeline.services.kill("discovery")

    async def states() -> dict[str, str]:
        rows = await pipeline.rows("SELECT * FROM service_instances")
        rows = [{**r, "readiness": json.loads(r["readiness"])} for r in rows]
        return {s.service: s.state for s in liveness(rows, ev.utc_now())}

    async def told() -> bool:
        said = await states()
        return (said["importer"], said["discovery"]) == ("stopped", "stale")

    await wait_until(told, within=60, interval=0.5, what="importer stopped, discovery stale")
    assert (await states())["recorder"] == "alive"
