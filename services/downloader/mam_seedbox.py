"""Telling MyAnonamouse a seedbox's new IP address (its "dynamic seedbox" API), at start-up.

MAM ties a session cookie to an IP address or ASN. A seedbox whose address changes calls
`dynamicSeedbox.php` with the cookie to move the session to where it is now. The site
accepts one change an hour (429, "Last change too recent", otherwise), so the time of
the last call is kept in a small 0600 file beside the cookie's, and within the hour the
call is not made at all — across restarts, too: a downloader restarted by its
orchestrator in a loop must not hammer the site.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ValidationError

from services.downloader.mam import MamIndexer
from services.downloader.mam_cookie import write_private
from shared.http import HttpBusyError

logger = logging.getLogger(__name__)

SEEDBOX_URL = "https://t.myanonamouse.net/json/dynamicSeedbox.php"
ONCE_AN_HOUR = timedelta(hours=1)


class _Stored(BaseModel):
    last_call: datetime


class SeedboxClock:
    """When the dynamic-seedbox API was last called (None: never, or unknown)."""

    def __init__(self, file: Path | None) -> None:
        self._file = file
        self._last: datetime | None = self._load()

    @property
    def last(self) -> datetime | None:
        """The last call's time."""
        return self._last

    def note(self, at: datetime) -> None:
        """Remember a call made at `at` (kept in the file, if there is one)."""
        self._last = at
        if self._file is None:
            return
        try:
            write_private(self._file, _Stored(last_call=at).model_dump_json().encode())
        except OSError as error:
            logger.warning(
                "could not store the seedbox call's time in %s: %s",
                self._file,
                error,
                extra={"event": "indexer.seedbox_time_not_stored"},
            )

    def _load(self) -> datetime | None:
        if self._file is None or not self._file.exists():
            return None
        try:
            return _Stored.model_validate_json(self._file.read_bytes()).last_call
        except (OSError, ValidationError):
            return None


async def update_seedbox(indexer: MamIndexer, url: str, clock: SeedboxClock, now: datetime) -> str:
    """Ask MAM to move the session to this address, at most once an hour; what happened,
    in words. A refused cookie is raised (`MamCookieRefusedError`), like any refusal."""
    if clock.last is not None and now - clock.last < ONCE_AN_HOUR:
        minutes = (now - clock.last).total_seconds() / 60
        return f"not asked: the last call was {minutes:.0f} min ago (the site allows one an hour)"
    clock.note(now)  # a call that fails still counts against the site's hour
    try:
        answer = await indexer.ask_json(url)
    except HttpBusyError:
        return "refused by the site: the address was changed within the last hour"
    message = str(answer.get("msg", ""))[:200]
    return f"updated ({message})" if answer.get("Success") is True else f"not updated ({message})"
