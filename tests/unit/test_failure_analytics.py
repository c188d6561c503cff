"""Failure analytics: counts over a window, books that keep failing, and patterns in
plain words with a suggestion — as an operator reading `abauto failures` needs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ops.failures import FailureRow, analyse, lines

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WEEK = NOW - timedelta(days=7)


def row(
    code: str,
    item: str,
    *,
    task: str = "DOWNLOAD",
    count: int = 1,
    age_days: float = 1,
    indexer: str | None = "prowlarr",
    author: str | None = "Mara Quill",
    series: str | None = None,
) -> FailureRow:
    return FailureRow(
        task, f"book:{item}", item, code, count, NOW - timedelta(days=age_days),
        indexer, author, series,
    )  # fmt: skip


def test_counts_cover_the_window_only_and_weigh_repeated_attempts() -> None:
    report = analyse(
        [
            row("NO_RELEASE", "The Tidewright", count=3),
            row("DOWNLOAD_STALLED", "The Glass Orchard", series="The Lantern Keepers"),
            row("NO_RELEASE", "Old Book", age_days=40),  # outside the week
        ],
        WEEK,
    )
    assert report.total == 4
    assert report.by_code == {"NO_RELEASE": 3, "DOWNLOAD_STALLED": 1}
    assert report.by_series == {"The Lantern Keepers": 1}
    assert report.by_author == {"Mara Quill": 4}


def test_books_that_keep_failing_are_named_with_their_kinds_of_failure() -> None:
    report = analyse(
        [
            row("DOWNLOAD_STALLED", "The Last Keeper"),
            row("LANGUAGE_MISMATCH", "The Last Keeper", task="IMPORT"),
            row("NO_RELEASE", "Salt Road", count=4),
            row("NO_RELEASE", "Quiet Harbour"),
        ],
        WEEK,
    )
    assert report.repeat_items == [
        ("Salt Road", 4, ["NO_RELEASE"]),
        ("The Last Keeper", 2, ["DOWNLOAD_STALLED", "LANGUAGE_MISMATCH"]),
    ]


def test_no_release_for_many_books_by_one_author_suggests_another_indexer() -> None:
    titles = [f"Standalone {n}" for n in range(12)]
    report = analyse([row("NO_RELEASE", t, author="Ann Leckie") for t in titles], WEEK)
    [pattern] = report.patterns
    assert pattern.what == "no release found for 12 books by Ann Leckie"
    assert "add an indexer" in pattern.suggestion
    assert pattern.weight == 12


def test_an_indexer_that_fails_often_or_refused_our_key_is_called_out() -> None:
    report = analyse(
        [
            row("INDEXER_UNAVAILABLE", "A", indexer="jackett", count=2),
            row("TORRENT_FETCH_FAILED", "B", indexer="jackett"),
            row("CREDENTIALS_REFUSED", "indexer:mam", task="INDEXER", indexer="mam", author=None),
        ],
        WEEK,
    )
    said = {p.what: p.suggestion for p in report.patterns}
    assert (
        "indexer jackett failed 3 times (INDEXER_UNAVAILABLE x2, TORRENT_FETCH_FAILED x1)" in said
    )
    assert "new API key or cookie" in said["indexer mam refused our credentials"]
    assert report.failing_indexers == [("jackett", 3)]


def test_refusals_at_import_stalls_and_an_unseeing_library_each_have_their_advice() -> None:
    report = analyse(
        [
            *(row("WRONG_BOOK", f"B{n}", task="IMPORT", indexer="sketchy") for n in range(3)),
            row("DOWNLOAD_STALLED", "S", count=3),
            row("ABS_ITEM_NOT_FOUND", "I", task="IMPORT", count=3, indexer=None),
        ],
        WEEK,
    )
    advice = " ".join(p.suggestion for p in report.patterns)
    assert "ABAUTO_MIN_SEEDERS" in advice
    assert "ABAUTO_LIBRARY_ROOT" in advice
    assert "prefer another indexer" in advice


def test_few_failures_make_no_pattern_and_the_text_report_reads_plainly() -> None:
    report = analyse([row("NO_RELEASE", "Lone Book")], WEEK)
    assert report.patterns == []
    text = "\n".join(lines(report))
    assert "failures since 2026-11-29 12:00 UTC: 1" in text
    assert "by code: NO_RELEASE 1" in text
    assert report.as_json()["by_code"] == {"NO_RELEASE": 1}
