"""What the fake Audiobookshelf learns from an audio file the way the real one does: by
running ffprobe on it. A file ffprobe cannot decode (`Invalid data found when processing
input`) or that has no audio stream is no audio file to Audiobookshelf.

Results are kept per path with the size and modification time they were probed at, so a
rescan only probes what changed.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 30.0
WORKERS = 4


class ProbeUnavailableError(RuntimeError):
    """ffprobe is not installed: every file would look broken, so the scan stops."""


def ffprobe_command(path: Path) -> list[str]:
    """The ffprobe call for a file's duration and stream kinds, as JSON."""
    return [
        *("ffprobe", "-v", "error", "-of", "json"),
        *("-show_entries", "format=duration:stream=codec_type", str(path)),
    ]


def duration_from_probe(output: str) -> float | None:
    """The duration ffprobe reported, or None when it found no audio stream or no length."""
    try:
        probe: Any = json.loads(output)
        kinds = {stream.get("codec_type") for stream in probe.get("streams", [])}
        duration = float(probe["format"]["duration"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return duration if "audio" in kinds and duration > 0 else None


class AudioProber:
    """ffprobe over audio files, each probed again only once its size or mtime changed."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[int, int, float | None]] = {}
        self._lock = threading.Lock()

    def durations(self, paths: list[Path]) -> dict[Path, float | None]:
        """Each file's duration in seconds, None for a file that does not decode."""
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            return dict(zip(paths, pool.map(self.duration, paths), strict=True))

    def duration(self, path: Path) -> float | None:
        """One file's duration in seconds, None when it does not decode."""
        try:
            status = path.stat()
        except FileNotFoundError:
            return None  # removed since the walk listed it
        stamp = (status.st_size, status.st_mtime_ns)
        with self._lock:
            known = self._known.get(path)
        if known is not None and known[:2] == stamp:
            return known[2]
        duration = _ffprobe(path)
        with self._lock:
            self._known[path] = (*stamp, duration)
        return duration


def _ffprobe(path: Path) -> float | None:
    try:
        done = subprocess.run(
            ffprobe_command(path), capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
        )
    except FileNotFoundError as missing:
        raise ProbeUnavailableError(
            "ffprobe is needed to scan like Audiobookshelf (`make install` installs ffmpeg)"
        ) from missing
    except subprocess.TimeoutExpired:
        logger.warning("ffprobe timed out on %s", path)
        return None
    duration = duration_from_probe(done.stdout) if done.returncode == 0 else None
    if duration is None:
        reason = done.stderr.strip().splitlines()[-1:] or ["no audio stream"]
        logger.warning("skipping %s: %s", path, reason[0])
    return duration
