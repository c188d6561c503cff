"""Reading a download's audio for the proof (`proof.py`): each file's running time and
tags with mutagen, and whether it decodes, with ffmpeg.

Decoding is bounded: ffmpeg decodes the first and the last 30 seconds of each file
(`-t 30`; `-sseof -30`), never all of it — decoding a 20-hour book whole takes minutes
per import. A file that is another format under an audio name, has a broken container
or was cut short fails at its head or at its tail; a damaged frame in the middle goes
unseen (players skip one). `-xerror` makes ffmpeg stop with an error at the first
decoding error instead of concealing it; each run has a deadline, and one that passes
it is a file ffmpeg cannot decode.

An MP3 is also held to its own header: a LAME/Xing (or VBRI) header announces the
stream's bytes, and mutagen reports the running time it announces. A file much shorter
than that was cut short, although both its head and its tail still decode.

Reading is conservative about the world, not the file: an `OSError` (the disk, a
vanished folder) is raised, never read as a fault of the release; ffmpeg missing is
`DecoderMissing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import mutagen
from mutagen.mp3 import MPEGInfo

from services.importer.proof import Heard, Tags

DECODED_SECONDS = 30
"""How much of each end of a file is decoded."""
PARALLEL = 4
"""Files read at once (each decode is one ffmpeg process)."""
CUT_SHORT = 0.9
"""An MP3 holding less than this share of the bytes its header announces was cut."""

KEYS: dict[str, tuple[str, ...]] = {
    "album": ("TALB", "©alb", "album", "WM/AlbumTitle"),
    "title": ("TIT2", "©nam", "title", "Title"),
    "artist": ("TPE1", "©ART", "artist", "Author"),
    "album_artist": ("TPE2", "aART", "albumartist", "album artist", "WM/AlbumArtist"),
    "language": (
        *("TLAN", "----:com.apple.iTunes:LANGUAGE", "----:com.apple.iTunes:language"),
        *("©lan", "language", "WM/Language"),
    ),
}
"""Where each format keeps a tag: ID3 (MP3), MP4 atoms (a freeform atom for the
language, or `©lan`), Vorbis comments (FLAC, Ogg, Opus; any case), ASF (WMA)."""


class DecoderMissing(RuntimeError):  # noqa: N818  (a state of the host, named as one)
    """ffmpeg is not installed: the proof cannot be made (no fault of any release)."""


async def hear(files: Sequence[tuple[str, Path]], timeout_s: float) -> list[Heard]:
    """Each audio file (its name for people, its path) read and decoded, in order."""
    limit = asyncio.Semaphore(PARALLEL)

    async def one(name: str, path: Path) -> Heard:
        async with limit:
            heard = await asyncio.to_thread(read, name, path)
            if heard.fault is None:
                fault = await decode_fault(path, timeout_s)
                heard = heard if fault is None else replace(heard, fault=fault)
            return heard

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(name, path)) for name, path in files]
    except ExceptionGroup as failed:  # the rest were cancelled: the first says why
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


def read(name: str, path: Path) -> Heard:
    """One file's running time and tags with mutagen, or why it is no usable audio."""
    size = path.stat().st_size
    if size == 0:
        return Heard(name, fault="is empty (0 bytes)")
    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError as error:
        cause = error.args[0] if error.args else None
        if isinstance(cause, OSError):
            raise cause from error  # the disk, not the file
        return Heard(name, fault=f"cannot be read as audio ({error})")
    if audio is None or audio.info is None:
        return Heard(name, fault="is in no audio format mutagen knows")
    seconds = float(getattr(audio.info, "length", 0) or 0)
    if seconds <= 0:
        return Heard(name, fault="holds no audio (0 s)")
    if isinstance(audio.info, MPEGInfo) and size < CUT_SHORT * _announced(audio.info):
        held = round(100 * size / _announced(audio.info))
        return Heard(name, fault=f"was cut short (it holds {held} % of its announced length)")
    return Heard(name, seconds, tags(audio.tags))


def _announced(info: MPEGInfo) -> float:
    """The bytes of audio the MP3's header announces (its bitrate over its length)."""
    return float(getattr(info, "bitrate", 0) or 0) * float(info.length) / 8


def tags(found: object) -> Tags:
    """The tags the proof compares, from a mutagen tag object (None: no tags)."""
    if found is None:
        return Tags()
    return Tags(**{field: _first(found, keys) for field, keys in KEYS.items()})


def _first(found: object, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        try:
            value = found[key]  # type: ignore[index]  # every mutagen tag type is a mapping
        except (KeyError, ValueError, TypeError):  # ValueError: no valid key in this format
            continue
        text = _text(value)
        if text:
            return text
    return None


def _text(value: object) -> str | None:
    """The first non-empty text of a tag value: an ID3 frame (`.text`), a list of
    strings, MP4 freeform bytes, or ASF attributes."""
    items = getattr(value, "text", value)
    for item in items if isinstance(items, list) else [items]:
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        if text.strip():
            return text.strip()
    return None


async def decode_fault(path: Path, timeout_s: float) -> str | None:
    """None if ffmpeg decodes the file's head and tail without error, else what failed."""
    ends = {
        "start": ("-i", f"file:{path}", "-t", str(DECODED_SECONDS)),
        "end": ("-sseof", f"-{DECODED_SECONDS}", "-i", f"file:{path}"),
    }
    for end, arguments in ends.items():
        fault = await _decoded(arguments, timeout_s)
        if fault is not None:
            return f"does not decode at its {end}: {fault}"
    return None


async def _decoded(arguments: tuple[str, ...], timeout_s: float) -> str | None:
    command = ("ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-xerror", *arguments)
    try:
        process = await asyncio.create_subprocess_exec(
            *command, "-f", "null", "-",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except FileNotFoundError as missing:
        raise DecoderMissing(
            "ffmpeg is needed to prove downloads (or ABAUTO_PROOF_ENABLED=false)"
        ) from missing
    try:
        _, errors = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        return f"ffmpeg did not finish within {timeout_s:g} s"
    finally:
        if process.returncode is None:  # timed out or cancelled: no ffmpeg left behind
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode == 0:
        return None
    lines = errors.decode("utf-8", "replace").strip().splitlines()
    said = lines[-1] if lines else f"ffmpeg exited with {process.returncode}"
    return re.sub(r"^\[[^\]]*\]\s*", "", said)[:200]  # without "[aac @ 0x55…] "
