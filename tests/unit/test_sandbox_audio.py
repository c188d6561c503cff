"""The sandbox's audio is real: it decodes, and carries the tags Audiobookshelf reads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import mutagen
import pytest

from sandbox.audio import MP4_LANGUAGE, AudioTags, chapters_text, write_audio
from sandbox.probing import AudioProber, duration_from_probe
from sandbox.releases import offers, write_offer
from sandbox.world import AUTHOR, BOOKS, SERIES, book_tags, write_owned_book


def probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams",
         "-show_chapters", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_an_owned_book_decodes_and_carries_its_tags_and_chapters(tmp_path: Path) -> None:
    book = BOOKS[0]
    folder = write_owned_book(tmp_path, book, seconds=3.0)
    found = probe(folder / f"{book.title}.m4b")
    audio = [s["codec_name"] for s in found["streams"] if s["codec_type"] == "audio"]
    assert audio == ["aac"]  # beside it, the chapters' text track
    assert float(found["format"]["duration"]) == pytest.approx(3.0, abs=0.1)
    tags = found["format"]["tags"]
    assert (tags["title"], tags["album"]) == (book.title, book.title)
    assert (tags["artist"], tags["album_artist"]) == ("Mara Quill", "Mara Quill")
    assert tags["track"] == "1/1"
    assert [c["tags"]["title"] for c in found["chapters"]] == ["Chapter 1", "Chapter 2"]


def test_releases_of_different_books_differ_so_their_torrents_do(tmp_path: Path) -> None:
    written = [
        write_offer(offer, tmp_path, book_tags(b), 2.0, "http://127.0.0.1:9/announce")
        for b in (BOOKS[2], BOOKS[4])
        for offer in offers(b.position, b.title, AUTHOR, SERIES, trials=False)
    ]
    audio = [next(folder.glob("*.m4b")) for folder, _ in written]
    assert audio[0].read_bytes() != audio[1].read_bytes()
    assert written[0][1] != written[1][1]
    assert probe(audio[1])["format"]["tags"]["title"] == BOOKS[4].title


def test_trial_releases_carry_what_must_refuse_them(tmp_path: Path) -> None:
    third = BOOKS[2]
    trials = offers(third.position, third.title, AUTHOR, SERIES, trials=True)
    by_fate = {
        offer.fate: write_offer(offer, tmp_path, book_tags(third), 8.0, "http://127.0.0.1:9/a")
        for offer in trials
        if offer.audio_of is None
    }
    wrong = next(o for o in trials if o.fate == "WRONG_BOOK")
    folder, _ = write_offer(wrong, tmp_path, book_tags(BOOKS[0]), 8.0, "http://127.0.0.1:9/a")
    assert probe(next(folder.glob("*.m4b")))["format"]["tags"]["album"] == BOOKS[0].title
    short = probe(next(by_fate["RUNTIME_MISMATCH"][0].glob("*.m4b")))
    assert float(short["format"]["duration"]) == pytest.approx(2.0, abs=0.1)
    assert len({torrent for _, torrent in by_fate.values()}) == len(by_fate)


def test_an_mp3_decodes_with_its_tags(tmp_path: Path) -> None:
    tags = AudioTags(title="Track One", author="A. Writer", album="A Book", track=1, tracks=2)
    write_audio(tmp_path / "part 1.mp3", tags, seconds=1.0)
    found = probe(tmp_path / "part 1.mp3")
    assert [s["codec_name"] for s in found["streams"]] == ["mp3"]
    assert found["format"]["tags"]["artist"] == "A. Writer"
    assert found["format"]["tags"]["track"] == "1/2"


def test_a_copy_is_no_hard_link_to_the_cache(tmp_path: Path) -> None:
    tags = AudioTags(title="T", author="A", album="T")
    write_audio(tmp_path / "one.m4b", tags, seconds=1.0)
    write_audio(tmp_path / "two.m4b", tags, seconds=1.0)
    assert (tmp_path / "one.m4b").read_bytes() == (tmp_path / "two.m4b").read_bytes()
    assert (tmp_path / "one.m4b").stat().st_nlink == 1


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="wma"):
        write_audio(tmp_path / "x.wma", AudioTags(title="T", author="A", album="T"))


def test_chapters_split_the_length_evenly() -> None:
    assert "START=1500\nEND=3000\ntitle=Chapter 2" in chapters_text(3.0)


def test_random_bytes_do_not_probe_and_real_audio_does(tmp_path: Path) -> None:
    noise = tmp_path / "noise.m4b"
    noise.write_bytes(bytes(range(256)) * 64)
    real = tmp_path / "real.m4b"
    write_audio(real, AudioTags(title="T", author="A", album="T"), seconds=2.0)
    durations = AudioProber().durations([noise, real])
    assert durations[noise] is None
    assert durations[real] == pytest.approx(2.0, abs=0.1)


def test_a_probe_without_an_audio_stream_is_no_audio() -> None:
    video_only = {"streams": [{"codec_type": "video"}], "format": {"duration": "3.0"}}
    assert duration_from_probe(json.dumps(video_only)) is None
    assert duration_from_probe("{}") is None
    audio = {"streams": [{"codec_type": "audio"}], "format": {"duration": "3.5"}}
    assert duration_from_probe(json.dumps(audio)) == 3.5


def test_a_file_is_probed_again_only_once_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "book.m4b"
    write_audio(path, AudioTags(title="T", author="A", album="T"), seconds=1.0)
    prober = AudioProber()
    assert prober.duration(path) is not None
    path.write_bytes(b"\0" * 10)
    assert prober.duration(path) is None


@pytest.mark.parametrize("suffix", [".mp3", ".m4b"])
def test_a_language_tag_is_carried_where_taggers_put_it(tmp_path: Path, suffix: str) -> None:
    """MP3: ID3 TLAN; MP4: the iTunes freeform LANGUAGE atom (ffmpeg's MP4 muxer has none)."""
    path = tmp_path / f"book{suffix}"
    write_audio(path, AudioTags(title="Kapitel 1", author="A", album="B", language="deu"), 1.0)
    tags = mutagen.File(path).tags
    found = (
        tags["TLAN"].text if suffix == ".mp3" else [bytes(v).decode() for v in tags[MP4_LANGUAGE]]
    )
    assert found == ["deu"]
    assert [c["tags"]["title"] for c in probe(path)["chapters"]] == ["Chapter 1", "Chapter 2"]
