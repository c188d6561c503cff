"""Real audiobook files for the sandbox: a few seconds of tone, encoded by `ffmpeg` (AAC in
an .m4b, or MP3), tagged the way a ripped audiobook is and split into chapters — so a real
Audiobookshelf, which probes every audio file with ffprobe, accepts them.

Each distinct file is encoded once and kept in a cache folder; callers get a copy (never a
hard link: the importer's hard links are counted by the tests).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import mutagen

RECIPE = 2
"""Bump when the encoding below changes, so cached files are made again."""

CHAPTERS = 2
SAMPLE_RATE = 22050
BITRATE = "32k"
CODECS = {
    ".m4b": ("aac", "ipod"),
    ".m4a": ("aac", "ipod"),
    ".mp3": ("libmp3lame", "mp3"),
}
CACHE_ENV = "ABAUTO_AUDIO_CACHE"


class AudioEncodingError(RuntimeError):
    """ffmpeg is missing or refused to make a file."""


@dataclass(frozen=True)
class AudioTags:
    """What a file's tags say: the tags Audiobookshelf reads from an audiobook."""

    title: str
    author: str
    album: str
    track: int = 1
    tracks: int = 1
    year: int | None = None
    language: str | None = None
    """As rips write it: an ISO 639-2 code ("eng", "deu") or a name ("English")."""


def write_audio(path: Path, tags: AudioTags, seconds: float = 4.0) -> None:
    """Put a real, decodable audio file carrying `tags` at `path` (.m4b, .m4a or .mp3)."""
    suffix = path.suffix.lower()
    if suffix not in CODECS:
        raise ValueError(f"no encoder for {suffix!r} files: use one of {sorted(CODECS)}")
    cached = _cache_dir() / f"{recipe_key(tags, seconds, suffix)}{suffix}"
    if not cached.is_file():
        _encode(cached, tags, seconds, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, path)


def recipe_key(tags: AudioTags, seconds: float, suffix: str) -> str:
    """A name for one distinct file: the same tags, length and format make the same file."""
    recipe = {"recipe": RECIPE, "tags": asdict(tags), "seconds": seconds, "suffix": suffix}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]


def chapters_text(seconds: float, count: int = CHAPTERS) -> str:
    """An ffmetadata file splitting `seconds` into `count` equal chapters."""
    total_ms = round(seconds * 1000)
    lines = [";FFMETADATA1"]
    for n in range(count):
        start, end = total_ms * n // count, total_ms * (n + 1) // count
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={start}", f"END={end}"]
        lines.append(f"title=Chapter {n + 1}")
    return "\n".join(lines) + "\n"


def metadata_arguments(tags: AudioTags) -> list[str]:
    """ffmpeg's `-metadata` arguments for `tags` (author as both artist and album artist)."""
    values = {
        "title": tags.title,
        "artist": tags.author,
        "album_artist": tags.author,
        "album": tags.album,
        "track": f"{tags.track}/{tags.tracks}",
        "genre": "Audiobook",
    }
    if tags.year is not None:
        values["date"] = str(tags.year)
    if tags.language is not None:
        values["language"] = tags.language  # MP3: TLAN; the MP4 muxer drops it
    return [arg for key, value in values.items() for arg in ("-metadata", f"{key}={value}")]


def ffmpeg_command(
    out: Path, chapters: Path, tags: AudioTags, seconds: float, suffix: str
) -> list[str]:
    """The ffmpeg command encoding a tone of `seconds` with `tags` and `chapters` to `out`."""
    codec, container = CODECS[suffix]
    tone = f"sine=frequency=440:duration={seconds}:sample_rate={SAMPLE_RATE}"
    return [
        *("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
        *("-f", "lavfi", "-i", tone, "-i", str(chapters)),
        *("-map", "0:a", "-map_chapters", "1", "-ac", "1"),
        *("-c:a", codec, "-b:a", BITRATE, *metadata_arguments(tags)),
        *("-f", container, str(out)),
    ]


def _cache_dir() -> Path:
    folder = Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "abauto-audio")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _encode(cached: Path, tags: AudioTags, seconds: float, suffix: str) -> None:
    # Encoded beside the cache entry and renamed into place, so a concurrent test process
    # never copies a half-written file.
    with tempfile.TemporaryDirectory(dir=cached.parent) as work:
        chapters, out = Path(work) / "chapters.txt", Path(work) / f"audio{suffix}"
        chapters.write_text(chapters_text(seconds))
        try:
            subprocess.run(
                ffmpeg_command(out, chapters, tags, seconds, suffix),
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except FileNotFoundError as missing:
            raise AudioEncodingError(
                "ffmpeg is needed to make the sandbox's audio (`make install` installs it)"
            ) from missing
        except subprocess.CalledProcessError as failed:
            raise AudioEncodingError(f"ffmpeg failed: {failed.stderr.strip()}") from failed
        if tags.language is not None and CODECS[suffix][1] == "ipod":
            _tag_mp4_language(out, tags.language)
        os.replace(out, cached)


MP4_LANGUAGE = "----:com.apple.iTunes:LANGUAGE"
"""Where an MP4 carries its language: the iTunes freeform atom taggers (Mp3tag, tone)
write. ffmpeg's MP4 muxer has no atom for `-metadata language=` and drops it (with
`-movflags use_metadata_tags` it writes a `keys` table instead, which mutagen does not
read), so the sandbox adds the atom with mutagen after encoding."""


def _tag_mp4_language(path: Path, language: str) -> None:
    tagged = mutagen.File(path)  # an MP4: bytes become a UTF-8 freeform value
    tagged[MP4_LANGUAGE] = [language.encode()]
    tagged.save()
