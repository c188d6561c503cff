"""The downloader's only contact with qBittorrent: qbittorrent-api, called in a thread.

The info-hash of what is added is computed locally from the .torrent (SHA-1 of the
bencoded `info` dictionary), so the add can be confirmed whatever the qBittorrent
version answers. Errors never carry the password. Every call is timed and counted by Web
API call (`shared.metrics`; the host is qBittorrent's `host:port`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any, TypeVar

import qbittorrentapi
import torf
from pydantic import SecretStr

from shared import metrics
from shared.faults import CredentialsRefused, Unavailable, causes

T = TypeVar("T")

ADD_TIMEOUT_S = 15.0

COMPLETE_STATES = frozenset(
    {"uploading", "stalledUP", "queuedUP", "checkingUP", "pausedUP", "stoppedUP", "forcedUP"}
)
ERROR_STATES = frozenset({"error", "missingFiles"})


class TorrentClientError(Exception):
    """qBittorrent could not do what was asked."""


class TorrentClientAuthError(TorrentClientError, CredentialsRefused):
    """qBittorrent refused the credentials: a configuration error (see `shared.faults`)."""


class TorrentClientUnavailableError(TorrentClientError, Unavailable):
    """qBittorrent could not be reached, or failed on its side (5xx): try again later."""


class TorrentRejectedError(TorrentClientError):
    """qBittorrent refused the torrent (not a torrent, or the add failed)."""


@dataclass(frozen=True)
class TorrentStatus:
    """One torrent as qBittorrent reports it."""

    hash: str
    name: str
    state: str
    progress: float
    size: int
    downloaded: int
    eta: int | None
    num_seeds: int
    content_path: str
    save_path: str
    category: str
    tags: tuple[str, ...]
    dlspeed: int = 0
    """Download speed, bytes per second."""
    num_leechs: int = 0
    """Leechers connected (`num_seeds`: seeds connected)."""

    @property
    def is_complete(self) -> bool:
        """All wanted pieces are there (it is seeding, or could be)."""
        return self.progress >= 1.0 and self.state in COMPLETE_STATES

    @property
    def is_errored(self) -> bool:
        """qBittorrent gave up on it."""
        return self.state in ERROR_STATES


def info_hash(torrent: bytes) -> str:
    """The v1 info-hash of a .torrent, lowercase hex; `TorrentRejectedError` if invalid."""
    try:
        return str(torf.Torrent.read_stream(BytesIO(torrent), validate=False).infohash).lower()
    except (torf.TorfError, ValueError, TypeError) as error:
        raise TorrentRejectedError(f"not a torrent file: {error}") from None


def _status(raw: Any) -> TorrentStatus:
    eta = raw.get("eta")
    return TorrentStatus(
        hash=str(raw["hash"]).lower(),
        name=str(raw.get("name", "")),
        state=str(raw.get("state", "unknown")),
        progress=float(raw.get("progress", 0.0)),
        size=int(raw.get("size", 0) or 0),
        downloaded=int(raw.get("downloaded", 0) or 0),
        eta=int(eta) if eta is not None else None,
        num_seeds=int(raw.get("num_seeds", 0) or 0),
        content_path=str(raw.get("content_path", "")),
        save_path=str(raw.get("save_path", "")),
        category=str(raw.get("category", "")),
        tags=tuple(t.strip() for t in str(raw.get("tags", "")).split(",") if t.strip()),
        dlspeed=int(raw.get("dlspeed", 0) or 0),
        num_leechs=int(raw.get("num_leechs", 0) or 0),
    )


class QbittorrentClient:
    """qBittorrent's Web API, asynchronously (each call runs in a worker thread)."""

    def __init__(
        self, url: str, username: str, password: SecretStr, timeout_s: float = 15.0
    ) -> None:
        self._client = qbittorrentapi.Client(
            host=url,
            username=username,
            password=password.get_secret_value(),
            REQUESTS_ARGS={"timeout": timeout_s},
            DISABLE_LOGGING_DEBUG_OUTPUT=True,
        )
        self._url = url
        self._host = metrics.host_of(url)
        # One request at a time: the underlying session (and its login cookie) is shared,
        # and concurrent first logins race each other into 403s.
        self._one_call_at_a_time = asyncio.Lock()
        # Once the credentials are refused, nothing more is sent: qBittorrent bans the
        # address after a few failed logins, and then refuses the right password too.
        self._refused: TorrentClientAuthError | None = None

    async def version(self) -> str:
        """qBittorrent's version, e.g. "v4.5.2"."""
        return str(await self._call("app/version", self._client.app_version))

    async def add(
        self,
        torrent: bytes,
        *,
        category: str,
        tag: str,
        save_path: str | None = None,
        paused: bool = False,
        skip_checking: bool = False,
    ) -> str:
        """Add a .torrent with a category and a job tag; return its info-hash once listed."""
        wanted = info_hash(torrent)
        if await self.status(wanted) is not None:
            return wanted  # already there: the same job, added before a restart
        await self._ensure_category(category)
        try:
            answer = await self._call(
                "torrents/add",
                lambda: self._client.torrents_add(
                    torrent_files=torrent,
                    category=category,
                    tags=tag,
                    save_path=save_path,
                    is_paused=paused,
                    is_stopped=paused,
                    is_skip_checking=skip_checking,
                ),
            )
        except qbittorrentapi.UnsupportedMediaType415Error:
            raise TorrentRejectedError("qBittorrent refused the file as not a torrent") from None
        except qbittorrentapi.Conflict409Error:
            answer = "duplicate"
        if answer == "Fails." and await self.status(wanted) is None:
            raise TorrentRejectedError("qBittorrent refused the torrent")
        await self._until_listed(wanted)
        return wanted

    async def status(self, torrent_hash: str) -> TorrentStatus | None:
        """The torrent's state, or None if qBittorrent does not have it."""
        found = await self._call(
            "torrents/info", lambda: self._client.torrents_info(torrent_hashes=torrent_hash)
        )
        return _status(found[0]) if found else None

    async def by_tag(self, tag: str) -> list[TorrentStatus]:
        """Every torrent carrying the tag."""
        found = await self._call("torrents/info", lambda: self._client.torrents_info(tag=tag))
        return [_status(raw) for raw in found]

    async def files(self, torrent_hash: str) -> list[str]:
        """The torrent's file names, relative to its save path."""
        found = await self._call(
            "torrents/files", lambda: self._client.torrents_files(torrent_hash=torrent_hash)
        )
        return [str(f["name"]) for f in found]

    async def add_peer(self, torrent_hash: str, peer: str) -> None:
        """Tell qBittorrent about a peer ("host:port") for the torrent."""
        await self._call(
            "torrents/addPeers",
            lambda: self._client.torrents_add_peers(peers=peer, torrent_hashes=torrent_hash),
        )

    async def delete(self, torrent_hash: str, *, delete_files: bool) -> None:
        """Remove the torrent (and its data, if asked)."""
        await self._call(
            "torrents/delete",
            lambda: self._client.torrents_delete(
                delete_files=delete_files, torrent_hashes=torrent_hash
            ),
        )

    def _logged_in(self, call: Callable[[], T]) -> T:
        """Run `call`; if qBittorrent forgot the session (403), log in again once."""
        try:
            return call()
        except qbittorrentapi.Forbidden403Error:
            self._client.auth_log_in()
            return call()

    async def _ensure_category(self, category: str) -> None:
        if category in await self._call("torrents/categories", self._client.torrents_categories):
            return
        with contextlib.suppress(qbittorrentapi.Conflict409Error):  # created meanwhile
            await self._call(
                "torrents/createCategory",
                lambda: self._client.torrents_create_category(name=category),
            )

    async def _until_listed(self, torrent_hash: str) -> None:
        deadline = time.monotonic() + ADD_TIMEOUT_S
        while await self.status(torrent_hash) is None:
            if time.monotonic() > deadline:
                raise TorrentRejectedError("qBittorrent accepted the torrent but never listed it")
            await asyncio.sleep(0.2)  # the add is asynchronous in qBittorrent

    async def _call(self, name: str, call: Callable[[], T]) -> T:
        """`call`, which is Web API call `name`, with its errors as this module's."""
        if self._refused is not None:
            raise self._refused
        try:
            return await self._call_once(name, call)
        except TorrentClientAuthError as refused:
            self._refused = refused
            raise

    async def _timed(self, name: str, call: Callable[[], T]) -> T:
        """`call` in a worker thread, timed and counted as Web API call `name`."""
        started = time.monotonic()
        try:
            result = await asyncio.to_thread(self._logged_in, call)
        except qbittorrentapi.APIError as error:
            metrics.external_request(self._host, name, time.monotonic() - started, _kind(error))
            raise
        metrics.external_request(self._host, name, time.monotonic() - started, None)
        return result

    async def _call_once(self, name: str, call: Callable[[], T]) -> T:
        # qbittorrent-api's HTTP errors are also connection errors: the order matters.
        try:
            async with self._one_call_at_a_time:
                if self._refused is not None:  # refused while this call waited its turn
                    raise self._refused
                return await self._timed(name, call)
        except (qbittorrentapi.UnsupportedMediaType415Error, qbittorrentapi.Conflict409Error):
            raise  # answers about the torrent itself: `add` decides
        except qbittorrentapi.LoginFailed:
            raise TorrentClientAuthError(f"qBittorrent at {self._url} refused the login") from None
        except qbittorrentapi.Forbidden403Error:
            raise TorrentClientAuthError(f"qBittorrent at {self._url} refused access") from None
        except qbittorrentapi.HTTP5XXError as error:
            raise TorrentClientUnavailableError(
                f"qBittorrent at {self._url}: {type(error).__name__}"
            ) from None
        except qbittorrentapi.HTTPError as error:
            raise TorrentClientError(
                f"qBittorrent at {self._url}: {type(error).__name__}"
            ) from None
        except qbittorrentapi.APIConnectionError as error:
            raise TorrentClientUnavailableError(
                f"qBittorrent at {self._url} unreachable: {type(error).__name__}"
            ) from None


def _kind(error: qbittorrentapi.APIError) -> str:
    """How a call failed, in the words of `shared.metrics`."""
    if isinstance(error, qbittorrentapi.LoginFailed):
        return "refused"
    if isinstance(error, qbittorrentapi.HTTPError):
        return metrics.status_error(getattr(error, "http_status_code", 400)) or "status_4xx"
    if any(isinstance(cause, TimeoutError) for cause in causes(error)):
        return "timeout"
    return "connection"
