"""MyAnonamouse's pure parts: hostile rows, the cookie file, the ratio guard and wedges."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from services.downloader.mam import MamIndexer
from services.downloader.mam_cookie import MamCookie
from services.downloader.mam_economy import (
    WedgePolicy,
    ratio_guarded,
    wedge_decision,
)
from services.downloader.mam_rows import releases_of, size_bytes, torrent_id_of
from services.downloader.release_selection import audio_format
from services.downloader.service import _indexer, _politeness
from services.downloader.settings import IndexerSettings
from services.downloader.torznab import Release, TorznabIndexer
from shared.http import PoliteHttp

BASE = "https://mam.example"
GIB = 1024**3


def row(**fields: Any) -> dict[str, Any]:
    """A row as the site sends it: numbers as strings, lists as JSON inside strings."""
    return {
        "id": "4242",
        "title": "The Glass Orchard",
        "author_info": '{"12": "Mara Quill"}',
        "narrator_info": '{"7": "Kate Reading", "8": "Michael Kramer"}',
        "series_info": '{"3": ["Orchard Cycle", "#", "1"]}',
        "filetype": "m4b mp3",
        "size": "1.5 GiB",
        "seeders": "12",
        "leechers": "3",
        "lang_code": "ENG",
        "language": "1",
        "added": "2024-03-01 10:20:30",
        "free": "0",
        "vip": 0,
        "fl_vip": "0",
        "personal_freeleech": "0",
        "my_snatched": "1",
        "dl": "abcDEF123",
        **fields,
    }


def one(**fields: Any) -> Release:
    parsed = releases_of("mam", BASE, [row(**fields)])
    assert parsed.skipped == 0
    return parsed.releases[0]


def test_a_row_with_strings_for_numbers_and_json_in_strings_is_read() -> None:
    release = one()
    assert (release.title, release.author) == ("The Glass Orchard", "Mara Quill")
    assert release.narrators == ("Kate Reading", "Michael Kramer")
    assert (release.seeders, release.peers, release.size_bytes) == (12, 15, int(1.5 * GIB))
    assert release.formats == ("m4b", "mp3")
    assert release.language == "ENG"
    assert release.guid == f"{BASE}/t/4242"
    assert torrent_id_of(release) == 4242
    assert release.download_url.get_secret_value() == f"{BASE}/tor/download.php/abcDEF123"
    assert "abcDEF123" not in repr(release)
    assert release.snatched
    assert not release.vip
    assert release.download_volume_factor == 1.0
    assert release.published is not None
    assert release.published.year == 2024


def test_html_escaped_names_are_unescaped() -> None:
    release = one(
        title="Tom &amp; Jerry&#039;s Caf&eacute;",
        author_info='{"1": "Ann O&#039;Neil &amp; Bob"}',
        narrator_info='{"2": "Jos&eacute; M&uuml;ller"}',
    )
    assert release.title == "Tom & Jerry's Café"
    assert release.author == "Ann O'Neil & Bob"
    assert release.narrators == ("José Müller",)


@pytest.mark.parametrize("broken", ["", "{not json", "[1, 2]", "null", '{"1": 5}', 17])
def test_broken_name_lists_are_empty_not_a_crash(broken: Any) -> None:
    release = one(author_info=broken, narrator_info=broken, series_info=broken)
    assert release.author is None
    assert release.narrators == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512 KiB", 512 * 1024),
        ("700 MiB", 700 * 1024**2),
        ("1.2 GiB", round(1.2 * GIB)),
        ("2 GB", 2 * GIB),
        ("123456", 123456),
        ("1,024 MiB", GIB),
        ("huge", None),
        ("", None),
        (None, None),
        ([], None),
    ],
)
def test_sizes_in_every_unit(text: Any, expected: int | None) -> None:
    assert size_bytes(text) == expected


def test_hostile_rows_are_skipped_and_counted_the_rest_read() -> None:
    rows: list[Any] = [
        row(),
        {k: v for k, v in row().items() if k != "id"},  # no id
        row(id="not a number"),
        row(id=["1"]),
        row(title=None),
        row(title=""),
        "a string, not a row",
        None,
        row(id="99", seeders="many", leechers=None, size={"x": 1}, added="yesterday", dl="../x"),
    ]
    parsed = releases_of("mam", BASE, rows)
    assert parsed.skipped == 7
    assert [r.guid for r in parsed.releases] == [f"{BASE}/t/4242", f"{BASE}/t/99"]
    odd = parsed.releases[1]
    assert (odd.seeders, odd.peers, odd.size_bytes, odd.published) == (0, 0, None, None)
    assert odd.download_url.get_secret_value() == f"{BASE}/tor/download.php?tid=99"


@pytest.mark.parametrize("flag", ["free", "vip", "fl_vip", "personal_freeleech"])
def test_any_freeleech_flag_makes_the_release_free(flag: str) -> None:
    release = one(**{flag: "1"})
    assert release.download_volume_factor == 0
    assert release.vip == (flag in ("vip", "fl_vip"))
    assert release.freeleech == (flag in ("free", "personal_freeleech"))


def test_the_listed_format_is_preferred_over_the_title() -> None:
    assert audio_format("Book [mp3]", ("m4b", "mp3")) == "m4b"
    assert audio_format("Book [mp3]", ("epub",)) == "mp3"
    assert audio_format("Book [mp3]") == "mp3"


def test_a_numeric_language_id_is_no_language() -> None:
    assert one(lang_code="", language="1").language is None
    assert one(lang_code=None, language="German").language == "German"


def release(size: int | None = 2 * GIB, **flags: Any) -> Release:
    fields: dict[str, Any] = {"download_volume_factor": 1.0, **flags}
    return Release("mam", "t", f"{BASE}/t/1", SecretStr("x"), size, 1, 1, **fields)


def test_the_ratio_guard_keeps_only_what_costs_no_ratio() -> None:
    paid = release()
    free = release(download_volume_factor=0.0, freeleech=True)
    vip = release(download_volume_factor=0.0, vip=True)
    assert ratio_guarded([paid, free, vip], guard=True) == [free, vip]
    assert ratio_guarded([paid, free, vip], guard=False) == [paid, free, vip]


def test_a_wedge_is_spent_only_on_a_big_paid_release_within_the_day_cap() -> None:
    policy = WedgePolicy(above_mb=500, per_day=2)
    assert wedge_decision(release(), policy, spent_today=0).spend
    assert wedge_decision(release(), policy, spent_today=1).spend
    refusals = {
        "cap": wedge_decision(release(), policy, spent_today=2),
        "small": wedge_decision(release(size=100 * 1024**2), policy, 0),
        "unknown size": wedge_decision(release(size=None), policy, 0),
        "vip": wedge_decision(release(download_volume_factor=0.0, vip=True), policy, 0),
        "free": wedge_decision(release(download_volume_factor=0.0, freeleech=True), policy, 0),
        "off": wedge_decision(release(), WedgePolicy(above_mb=500, per_day=0), 0),
    }
    assert not any(d.spend for d in refusals.values()), refusals


def test_a_rotated_cookie_is_stored_privately_and_used_after_a_restart(tmp_path: Path) -> None:
    file = tmp_path / "state" / "mam_cookie.json"
    first = MamCookie(SecretStr("configured-1"), file)
    assert first.header == {"Cookie": "mam_id=configured-1"}
    assert first.received({"mam_id": "rotated-2"})
    assert not first.received({"mam_id": "rotated-2"})  # the same value: nothing new
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert "configured-1" not in file.read_text()  # only its fingerprint

    restarted = MamCookie(SecretStr("configured-1"), file)
    assert restarted.header == {"Cookie": "mam_id=rotated-2"}
    assert restarted.state.source == "stored"
    assert restarted.state.received_at is not None
    assert [p.name for p in file.parent.iterdir()] == ["mam_cookie.json"]  # no temporaries


def test_a_newly_configured_cookie_wins_over_the_stored_one(tmp_path: Path) -> None:
    file = tmp_path / "mam_cookie.json"
    MamCookie(SecretStr("old"), file).received({"mam_id": "rotated-from-old"})
    fresh = MamCookie(SecretStr("new-from-operator"), file)
    assert fresh.header == {"Cookie": "mam_id=new-from-operator"}


def test_an_unreadable_cookie_file_falls_back_to_the_configured_value(tmp_path: Path) -> None:
    file = tmp_path / "mam_cookie.json"
    file.write_text("{garbage")
    assert MamCookie(SecretStr("configured"), file).header == {"Cookie": "mam_id=configured"}


def test_settings_accept_both_kinds_and_require_each_ones_credentials() -> None:
    mam = IndexerSettings.model_validate(
        {"name": "mam", "kind": "mam", "url": BASE, "mam_id": "cookie", "ratio_guard": True}
    )
    torznab = IndexerSettings.model_validate({"name": "p", "url": "http://p/1/api", "api_key": "k"})
    assert (mam.kind, torznab.kind, mam.search_interval_seconds) == ("mam", "torznab", 2.0)
    with pytest.raises(ValidationError, match="mam_id"):
        IndexerSettings.model_validate({"name": "mam", "kind": "mam", "url": BASE})
    with pytest.raises(ValidationError, match="api_key"):
        IndexerSettings.model_validate({"name": "p", "url": "http://p/1/api"})
    with pytest.raises(ValidationError):
        IndexerSettings.model_validate(
            {"name": "m", "kind": "mam", "url": BASE, "mam_id": "c", "search_interval_seconds": 0.5}
        )


def test_the_downloader_builds_each_indexer_of_its_kind_with_its_politeness() -> None:
    mam = IndexerSettings.model_validate(
        {"name": "mam", "kind": "mam", "url": BASE, "mam_id": "c", "search_interval_seconds": 4}
    )
    torznab = IndexerSettings.model_validate({"name": "p", "url": "http://p/1/api", "api_key": "k"})
    http = PoliteHttp()
    assert isinstance(_indexer(mam, http), MamIndexer)
    assert isinstance(_indexer(torznab, http), TorznabIndexer)
    assert (_politeness(mam).rate_per_second, _politeness(mam).max_concurrency) == (0.25, 1)
    assert _politeness(torznab).rate_per_second == torznab.rate_per_second
