"""Failure analytics: what the permanent failure record says, over a time window. Pure:
rows in, a report out (`failures_record.py` reads the rows; `abauto failures` prints).

The seed keeps failed attempts forever "for analytics and pattern detection". The
report counts failures by code, task, indexer, author and series; names the books that
keep failing (three attempts or more, or two kinds of failure) and the indexers that
fail often; and says in plain words what the patterns mean, each with a suggestion.
A row counts its `attempt_count` occurrences; a pattern needs `threshold` of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NOT_FOUND = frozenset({"NO_RELEASE", "NO_MATCHING_RELEASE"})
INDEXER_TROUBLE = frozenset(
    {"INDEXER_UNAVAILABLE", "TORRENT_FETCH_FAILED", "TORRENT_REJECTED", "CREDENTIALS_REFUSED"}
)
REFUSED_AT_IMPORT = frozenset(
    {"WRONG_BOOK", "RUNTIME_MISMATCH", "LANGUAGE_MISMATCH", "UNDECODABLE"}
)
STALLS = frozenset({"DOWNLOAD_STALLED", "DOWNLOAD_ERRORED"})
LIBRARY_SIDE = frozenset({"ABS_ITEM_NOT_FOUND", "ABS_ERROR", "ABS_NO_LIBRARY"})


@dataclass(frozen=True)
class FailureRow:
    """One row of the failure record, with what the record knows of its item."""

    task_name: str
    item_key: str
    item_name: str | None
    error_code: str
    attempt_count: int
    last_attempt: datetime
    indexer: str | None = None
    author: str | None = None
    series: str | None = None


@dataclass(frozen=True)
class Pattern:
    """Something the failures say, in words, and what to do about it."""

    what: str
    suggestion: str
    weight: int
    """How many failures it explains (the report lists the heaviest first)."""


@dataclass
class FailureReport:
    """The analytics over one window."""

    since: datetime
    total: int = 0
    by_code: Counter[str] = field(default_factory=Counter)
    by_task: Counter[str] = field(default_factory=Counter)
    by_indexer: Counter[str] = field(default_factory=Counter)
    by_author: Counter[str] = field(default_factory=Counter)
    by_series: Counter[str] = field(default_factory=Counter)
    repeat_items: list[tuple[str, int, list[str]]] = field(default_factory=list)
    """(item, failures, codes) for the books that keep failing, the worst first."""
    failing_indexers: list[tuple[str, int]] = field(default_factory=list)
    patterns: list[Pattern] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report as a JSON object."""
        return {
            "since": self.since.isoformat(),
            "total": self.total,
            "by_code": dict(self.by_code.most_common()),
            "by_task": dict(self.by_task.most_common()),
            "by_indexer": dict(self.by_indexer.most_common()),
            "by_author": dict(self.by_author.most_common()),
            "by_series": dict(self.by_series.most_common()),
            "repeat_items": [
                {"item": item, "failures": n, "codes": codes}
                for item, n, codes in self.repeat_items
            ],
            "failing_indexers": [{"indexer": i, "failures": n} for i, n in self.failing_indexers],
            "patterns": [
                {"what": p.what, "suggestion": p.suggestion, "failures": p.weight}
                for p in self.patterns
            ],
        }


def analyse(rows: Iterable[FailureRow], since: datetime, threshold: int = 3) -> FailureReport:
    """The report over the rows last seen at or after `since`."""
    kept = [r for r in rows if r.last_attempt >= since]
    report = FailureReport(since)
    for row in kept:
        n = max(row.attempt_count, 1)
        report.total += n
        report.by_code[row.error_code] += n
        report.by_task[row.task_name] += n
        if row.indexer:
            report.by_indexer[row.indexer] += n
        if row.author:
            report.by_author[row.author] += n
        if row.series:
            report.by_series[row.series] += n
    report.repeat_items = _repeat_items(kept, threshold)
    report.failing_indexers = [(i, n) for i, n in report.by_indexer.most_common() if n >= threshold]
    report.patterns = sorted(_patterns(kept, threshold), key=lambda p: -p.weight)
    return report


def _name(row: FailureRow) -> str:
    return row.item_name or row.item_key


def _repeat_items(rows: Sequence[FailureRow], threshold: int) -> list[tuple[str, int, list[str]]]:
    counts: Counter[str] = Counter()
    codes: defaultdict[str, set[str]] = defaultdict(set)
    for row in rows:
        counts[_name(row)] += max(row.attempt_count, 1)
        codes[_name(row)].add(row.error_code)
    repeat = [
        (item, n, sorted(codes[item]))
        for item, n in counts.most_common()
        if n >= threshold or len(codes[item]) >= 2
    ]
    return repeat[:20]


def _patterns(rows: Sequence[FailureRow], threshold: int) -> list[Pattern]:
    found: list[Pattern] = []
    not_found: defaultdict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.error_code in NOT_FOUND and row.author:
            not_found[row.author].add(_name(row))
    for author, books in not_found.items():
        if len(books) >= threshold:
            found.append(
                Pattern(
                    f"no release found for {len(books)} books by {author}",
                    "add an indexer that carries this author, or leave these books for "
                    "review (`abauto review`): the catalogue may list editions no tracker has",
                    len(books),
                )
            )
    by_indexer: defaultdict[str, Counter[str]] = defaultdict(Counter)
    refused: Counter[str] = Counter()
    for row in rows:
        if row.indexer and row.error_code in INDEXER_TROUBLE:
            by_indexer[row.indexer][row.error_code] += max(row.attempt_count, 1)
        if row.indexer and row.error_code in REFUSED_AT_IMPORT:
            refused[row.indexer] += max(row.attempt_count, 1)
    for indexer, codes in by_indexer.items():
        n = sum(codes.values())
        if codes["CREDENTIALS_REFUSED"]:
            found.append(
                Pattern(
                    f"indexer {indexer} refused our credentials",
                    "configure a new API key or cookie for it and restart the downloader",
                    n,
                )
            )
        elif n >= threshold:
            said = ", ".join(f"{code} x{k}" for code, k in codes.most_common())
            found.append(
                Pattern(
                    f"indexer {indexer} failed {n} times ({said})",
                    "check its address and whether it is up; the others carry on meanwhile",
                    n,
                )
            )
    for indexer, n in refused.items():
        if n >= threshold:
            found.append(
                Pattern(
                    f"{n} releases from {indexer} were refused at import "
                    "(wrong book, length, language or undecodable)",
                    "its release names mislead: prefer another indexer for these books, "
                    "or check the catalogue's runtime and language for them",
                    n,
                )
            )
    stalls = sum(max(r.attempt_count, 1) for r in rows if r.error_code in STALLS)
    if stalls >= threshold:
        found.append(
            Pattern(
                f"{stalls} downloads stalled or errored",
                "releases with few seeders stall: raise ABAUTO_MIN_SEEDERS, or give slow "
                "torrents longer (ABAUTO_STALL_TIMEOUT_SECONDS)",
                stalls,
            )
        )
    library = sum(max(r.attempt_count, 1) for r in rows if r.error_code in LIBRARY_SIDE)
    if library >= threshold:
        found.append(
            Pattern(
                f"Audiobookshelf did not show {library} imports",
                "check that the importer's library folder is the one Audiobookshelf scans "
                "(ABAUTO_LIBRARY_ROOT, ABAUTO_PATH_MAPPINGS) and that its API key is an admin's",
                library,
            )
        )
    return found


def lines(report: FailureReport) -> list[str]:
    """The report for a terminal."""
    out = [f"failures since {report.since:%Y-%m-%d %H:%M} UTC: {report.total}"]
    for title, counter in (
        ("by code", report.by_code), ("by task", report.by_task),
        ("by indexer", report.by_indexer), ("by author", report.by_author),
        ("by series", report.by_series),
    ):  # fmt: skip
        if counter:
            shown = ", ".join(f"{k} {n}" for k, n in counter.most_common(10))
            out.append(f"  {title}: {shown}")
    if report.repeat_items:
        out.append("  books that keep failing:")
        out += [f"    {item}: {n} ({', '.join(codes)})" for item, n, codes in report.repeat_items]
    if report.patterns:
        out.append("  what it says:")
        for pattern in report.patterns:
            out += [f"    - {pattern.what}", f"      → {pattern.suggestion}"]
    return out
