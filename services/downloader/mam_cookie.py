"""MyAnonamouse's session cookie, kept as the site rotates it.

The site sends a new `mam_id` in `Set-Cookie` now and then; the old one dies soon after.
The newest value is kept in memory and in a file (mode 0600, replaced atomically), and
the file is read at start-up in preference to the configured value, unless the configured
value changed since (the operator put a new cookie in: theirs wins). The file remembers
which configured value its cookie descends from by a SHA-256 fingerprint, never the value.

The cookie is a secret: it is never logged, nor put in an event or in the record.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from pydantic import BaseModel, SecretStr, ValidationError

from shared.events import utc_now

logger = logging.getLogger(__name__)

COOKIE_NAME = "mam_id"


class _Stored(BaseModel):
    value: SecretStr
    received_at: datetime
    configured: str
    """The fingerprint of the configured value this cookie replaced."""


@dataclass(frozen=True)
class CookieState:
    """The cookie in use, where it came from and when it was received."""

    value: SecretStr
    received_at: datetime | None
    source: str


def fingerprint(value: SecretStr) -> str:
    """A one-way fingerprint of a configured cookie (to notice that it changed)."""
    return hashlib.sha256(value.get_secret_value().encode()).hexdigest()


class MamCookie:
    """The current `mam_id`: the configured value, or the newest one the site rotated to."""

    def __init__(self, configured: SecretStr, file: Path | None) -> None:
        self._configured = configured
        self._file = file
        self.state = self._initial()

    @property
    def header(self) -> dict[str, str]:
        """The request header carrying the cookie."""
        return {"Cookie": f"{COOKIE_NAME}={self.state.value.get_secret_value()}"}

    def received(self, cookies: Mapping[str, str] | None) -> bool:
        """Keep a rotated cookie from an answer's `Set-Cookie`; whether it was new."""
        value = (cookies or {}).get(COOKIE_NAME, "").strip()
        if not value or value == self.state.value.get_secret_value():
            return False
        self.state = CookieState(SecretStr(value), utc_now(), "rotated")
        logger.info(
            "MyAnonamouse rotated the session cookie; keeping the new one",
            extra={"event": "indexer.cookie_rotated"},
        )
        self._save()
        return True

    def _initial(self) -> CookieState:
        configured = CookieState(self._configured, None, "configured")
        stored = self._load()
        if stored is None:
            return configured
        if stored.configured != fingerprint(self._configured):
            logger.info(
                "the configured MyAnonamouse cookie changed: using it, not the stored one",
                extra={"event": "indexer.cookie_reconfigured"},
            )
            return configured
        return CookieState(stored.value, stored.received_at, "stored")

    def _load(self) -> _Stored | None:
        if self._file is None or not self._file.exists():
            return None
        try:
            return _Stored.model_validate_json(self._file.read_bytes())
        except (OSError, ValidationError) as error:
            logger.warning(
                "ignoring the unreadable cookie file %s: %s",
                self._file,
                type(error),
                extra={"event": "indexer.cookie_file_unreadable"},
            )
            return None

    def _save(self) -> None:
        if self._file is None:
            return
        stored = {
            "value": self.state.value.get_secret_value(),
            "received_at": (self.state.received_at or utc_now()).isoformat(),
            "configured": fingerprint(self._configured),
        }
        try:
            write_private(self._file, orjson.dumps(stored))
        except OSError as error:  # the cookie still works from memory until a restart
            logger.warning(
                "could not store the rotated cookie in %s: %s",
                self._file,
                error,
                extra={"event": "indexer.cookie_not_stored"},
            )


def write_private(path: Path, content: bytes) -> None:
    """Replace `path` atomically with `content`, readable by its owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        try:
            os.fchmod(handle, 0o600)  # mkstemp's mode already; said whatever the umask
            os.write(handle, content)
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise
