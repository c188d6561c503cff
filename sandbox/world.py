"""The sandbox's outside world: an Audiobookshelf library holding books 1, 2 and 4 of a
five-book series, an Audible catalogue that knows all five, a Torznab indexer offering
books 3 and 5, a tracker, and two real qBittorrents — one seeding those releases, one for
the downloader. Every fake speaks its real protocol over loopback.

Optional twists, off by default: the library may also hold an epub (and no audio) of
some missing books (`ebook_only`), an owned book's metadata may lack what the catalogue
has (`incomplete`: the METADATA job proposes corrections), the catalogue may name the
series otherwise than the library does (`catalogue_series`, e.g. "Lantern Keepers"), the
indexer may offer, beside the right releases, the ones a careful downloader must pass
over or refuse (`trials`: see `releases.py`), and the author may have written books
outside the series (`standalones`: one the author check fetches, one it leaves for
review, and editions it must fold or drop), and a fake MyAnonamouse may sit beside the
Torznab indexer (`mam`: it alone offers the author's book outside the series, freeleech,
and rotates its session cookie).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from devstack.qbittorrent import QbitInstance, start_qbittorrent, stop_qbittorrent
from sandbox.audible import FakeAudible
from sandbox.audio import AudioTags, write_audio
from sandbox.audiobookshelf import FakeAudiobookshelf
from sandbox.mam import FakeMam
from sandbox.releases import NARRATOR, Offer, offers, write_offer
from sandbox.torznab import FakeTorznab
from sandbox.tracker import Tracker
from services.downloader.torrent_client import QbittorrentClient

AUTHOR = "Mara Quill"
SERIES = "The Lantern Keepers"
SERIES_ASIN = "B0LANTERN0"
ABS_KEY = "sandbox-abs-api-key"
MAM_COOKIE = "sandbox-mam-session"
INDEXER_KEY = "sandbox-indexer-api-key"


@dataclass(frozen=True)
class SandboxBook:
    """One book of the sandbox series."""

    position: int
    title: str
    asin: str


BOOKS = (
    SandboxBook(1, "The Salt Road", "B0LANTERN1"),
    SandboxBook(2, "A Quiet Harbour", "B0LANTERN2"),
    SandboxBook(3, "The Glass Orchard", "B0LANTERN3"),
    SandboxBook(4, "Lamps at Low Tide", "B0LANTERN4"),
    SandboxBook(5, "The Last Keeper", "B0LANTERN5"),
)
OWNED = (1, 2, 4)
RELEASE_YEAR = 2020
AUTHOR_ASIN = "B0MARAQ001"


@dataclass(frozen=True)
class Standalone:
    """A catalogue product of the author outside the series."""

    asin: str
    title: str
    fate: str
    """What the author check makes of it: "gap", "review", or why it is left out."""
    format_type: str = "unabridged"
    content_delivery_type: str = "SinglePartBook"
    language: str = "english"
    sku_lite: str | None = None


STANDALONES = (
    Standalone("B0QUILL001", "The Tidewright", "gap", sku_lite="QUILL-TIDEWRIGHT"),
    Standalone("B0QUILL002", "The Tidewright", "folded: an abridged edition of the same work",
               format_type="abridged", sku_lite="QUILL-TIDEWRIGHT"),
    Standalone("B0QUILL003", "Die Gezeitenmacherin", "dropped: in German", language="german"),
    Standalone("B0QUILL004", "The Lantern Keepers: Books 1-3", "dropped: a box set",
               content_delivery_type="BookSeries"),
    Standalone("B0QUILL005", "Salt and Lamplight: An Interview with Mara Quill",
               "review: reads like an interview"),
)  # fmt: skip
"""The author's other products; only the first and the last become gaps."""
PUBLISHER = "Tidewater Audio"
LANGUAGE = "English"


def book_tags(book: SandboxBook) -> AudioTags:
    """The tags of a sandbox book's audio file, as a ripped audiobook carries them."""
    return AudioTags(
        title=book.title, author=AUTHOR, album=book.title, year=RELEASE_YEAR + book.position
    )


def write_owned_book(
    library: Path, book: SandboxBook, seconds: float, *, incomplete: bool = False
) -> Path:
    """File `book` in `library` as its owner did (audio and a `metadata.json`); its folder.
    An `incomplete` sidecar lacks the narrator, publisher and year the catalogue has."""
    folder = library / AUTHOR / SERIES / f"Vol. {book.position} - {book.title}"
    write_audio(folder / f"{book.title}.m4b", book_tags(book), seconds)
    _sidecar(folder, book, incomplete=incomplete)
    return folder


def write_ebook_only(library: Path, book: SandboxBook) -> Path:
    """An epub of `book` alone, in a folder of its own, stating the book, series and
    ASIN (its audiobook is still missing); its folder."""
    folder = library / AUTHOR / SERIES / f"{book.title} (ebook)"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{book.title}.epub").write_bytes(os.urandom(16 * 1024))
    _sidecar(folder, book)
    return folder


def _sidecar(folder: Path, book: SandboxBook, *, incomplete: bool = False) -> None:
    """The book's `metadata.json`: title, author, series position, ASIN, language and,
    unless `incomplete`, narrator, publisher and year, as the catalogue has them."""
    sidecar: dict[str, object] = {
        "title": book.title,
        "authors": [AUTHOR],
        "series": [f"{SERIES} #{book.position}"],
        "asin": book.asin,
        "language": LANGUAGE,
    }
    if not incomplete:
        sidecar |= {
            "narrators": [NARRATOR],
            "publisher": PUBLISHER,
            "publishedYear": str(RELEASE_YEAR + book.position),
        }
    (folder / "metadata.json").write_text(json.dumps(sidecar))


@dataclass
class Sandbox:
    """Everything outside abauto, started in `root` (`start()`), stopped by `stop()`.

    `releases`: whether the indexer offers the missing books; `owned`: the positions
    the library holds as audiobooks; `audio_seconds`: the length of each book's (real,
    decodable) audio; `ebook_only`: positions it holds as an epub alone (their audiobook
    is still missing); `incomplete`: owned positions whose library metadata lacks the
    narrator, publisher and year the catalogue has; `catalogue_series`: the catalogue's
    name for the series (the library's is `SERIES`); `trials`: the releases to pass over
    or refuse (`releases.py`; the audio should then run minutes, so a short one shows);
    `standalones`: the author's books outside the series (`STANDALONES`; the indexer
    offers the one to fetch); `mam`: a fake MyAnonamouse beside the Torznab indexer,
    which then alone offers the standalone to fetch.
    """

    root: Path
    releases: bool = True
    owned: tuple[int, ...] = OWNED
    audio_seconds: float = 5.0
    ebook_only: tuple[int, ...] = ()
    incomplete: tuple[int, ...] = ()
    catalogue_series: str = SERIES
    trials: bool = False
    standalones: bool = False
    mam: bool = False
    abs: FakeAudiobookshelf | None = None
    audible: FakeAudible | None = None
    indexer: FakeTorznab | None = None
    mam_site: FakeMam | None = None
    tracker: Tracker = field(default_factory=Tracker)
    seeder: QbitInstance | None = None
    leecher: QbitInstance | None = None
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def library(self) -> Path:
        """The Audiobookshelf library folder (the importer's library root)."""
        return self.root / "library"

    @property
    def missing(self) -> tuple[SandboxBook, ...]:
        """The books the library lacks."""
        return tuple(b for b in BOOKS if b.position not in self.owned)

    async def start(self) -> None:
        """Build the library, start the fakes and both qBittorrents, seed the releases."""
        await self.start_library()
        self.urls["tracker"] = await self.tracker.start()
        self.indexer = FakeTorznab(INDEXER_KEY)
        self.urls["indexer"] = await self.indexer.start()
        if self.mam:
            # Every third answer rotates the session cookie, as the real site does.
            self.mam_site = FakeMam(MAM_COOKIE, rotate_every=3)
            self.urls["mam"] = await self.mam_site.start()
        self.seeder = start_qbittorrent(self.root / "qbit", "seeder")
        self.leecher = start_qbittorrent(self.root / "qbit", "leecher")
        if self.releases:
            await self._seed()

    async def start_library(self) -> None:
        """Build the library and start what discovery reads: Audiobookshelf and the
        catalogue (all `start()` needs before the download side)."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self._owned_library()
        self.abs = FakeAudiobookshelf(self.library, ABS_KEY)
        self.urls["abs"] = await self.abs.start()
        await self.abs.scan_now()
        self.audible = FakeAudible()
        self.urls["audible"] = await self.audible.start()
        entries = [self._catalogue_entry(b) for b in BOOKS]
        self.audible.add_series(SERIES_ASIN, self.catalogue_series, entries)
        if self.standalones:
            for book in STANDALONES:
                self.audible.add_product(
                    book.asin, book.title, authors=[AUTHOR],
                    author_asins={AUTHOR: AUTHOR_ASIN}, release_date=date(RELEASE_YEAR + 3, 9, 1),
                    format_type=book.format_type, content_delivery_type=book.content_delivery_type,
                    sku_lite=book.sku_lite, narrators=[NARRATOR], language=book.language,
                    runtime_length_min=self._runtime_minutes,
                )  # fmt: skip

    @property
    def wanted_standalones(self) -> tuple[Standalone, ...]:
        """The author's books outside the series that should be fetched."""
        return tuple(b for b in STANDALONES if b.fate == "gap") if self.standalones else ()

    @property
    def _runtime_minutes(self) -> int | None:
        # Whole minutes, as the catalogue states them (none for audio under a minute).
        return round(self.audio_seconds / 60) or None

    async def stop(self) -> None:
        """Stop everything started (safe to call after a failed start)."""
        for instance in (self.leecher, self.seeder):
            if instance is not None:
                stop_qbittorrent(instance)
        for server in (self.mam_site, self.indexer, self.audible, self.abs):
            if server is not None:
                await server.stop()
        await self.tracker.stop()

    def environment(self) -> dict[str, str]:
        """How the four services reach this world (their `ABAUTO_*` settings)."""
        assert self.leecher is not None
        indexers: list[dict[str, object]] = [
            {"name": "sandbox", "url": f"{self.urls['indexer']}/api", "api_key": INDEXER_KEY}
        ]
        if self.mam:
            indexers.append(
                {"name": "mam", "kind": "mam", "url": self.urls["mam"], "mam_id": MAM_COOKIE,
                 "cookie_file": str(self.root / "mam" / "cookie.json"), "dynamic_seedbox": True,
                 "seedbox_url": f"{self.urls['mam']}/json/dynamicSeedbox.php"}
            )  # fmt: skip
        return {
            "ABAUTO_ABS_URL": self.urls["abs"],
            "ABAUTO_ABS_API_KEY": ABS_KEY,
            "ABAUTO_AUDIBLE_BASE_URL": self.urls["audible"],
            "ABAUTO_INDEXERS": json.dumps(indexers),
            "ABAUTO_QBITTORRENT_URL": self.leecher.webui_url,
            "ABAUTO_QBITTORRENT_USERNAME": self.leecher.username,
            "ABAUTO_QBITTORRENT_PASSWORD": self.leecher.password.get_secret_value(),
            "ABAUTO_QBITTORRENT_SAVE_PATH": str(self.root / "downloads"),
            "ABAUTO_LIBRARY_ROOT": str(self.library),
            "ABAUTO_DOWNLOAD_ROOTS": str(self.root / "downloads"),
            "ABAUTO_MIN_SIZE_MB": "0",
            "ABAUTO_RETRY_BASE_SECONDS": "2",
            "ABAUTO_MAX_RETRIES": "3",
            "ABAUTO_STALL_TIMEOUT_SECONDS": "20" if self.trials else "60",
            "ABAUTO_POLL_INTERVAL_SECONDS": "0.5",
            "ABAUTO_PROGRESS_INTERVAL_SECONDS": "2",
            "ABAUTO_HEARTBEAT_INTERVAL_SECONDS": "2",  # a minute-long run's status stays current
            "ABAUTO_LOG_LEVEL": "INFO",
        }

    def _owned_library(self) -> None:
        for book in BOOKS:
            if book.position in self.owned:
                incomplete = book.position in self.incomplete
                write_owned_book(self.library, book, self.audio_seconds, incomplete=incomplete)
            if book.position in self.ebook_only:
                write_ebook_only(self.library, book)

    def _catalogue_entry(self, book: SandboxBook) -> dict[str, object]:
        return {
            "asin": book.asin,
            "title": book.title,
            "sequence": str(book.position),
            "author": AUTHOR,
            "release_date": date(RELEASE_YEAR + book.position, 3, 1),
            "narrators": (NARRATOR,),
            "runtime_length_min": self._runtime_minutes,
            "author_asin": AUTHOR_ASIN,
            "publisher_name": PUBLISHER,
        }

    async def _seed(self) -> None:
        assert self.seeder is not None
        assert self.indexer is not None
        seeder = QbittorrentClient(
            self.seeder.webui_url, self.seeder.username, self.seeder.password
        )
        shared, unseeded = self.root / "seed", self.root / "unseeded"
        by_position = {b.position: b for b in BOOKS}
        for book in self.missing:
            for offer in offers(book.position, book.title, AUTHOR, SERIES, trials=self.trials):
                audio = by_position[offer.audio_of or book.position]
                folder = shared if offer.seeded else unseeded
                _, torrent = write_offer(
                    offer, folder, book_tags(audio), self.audio_seconds, self.urls["tracker"]
                )
                if offer.seeded:
                    await seeder.add(
                        torrent, category="seed", tag="sandbox", save_path=str(shared),
                        skip_checking=True,
                    )  # fmt: skip
                self.indexer.add_release(offer.name, torrent, seeders=offer.seeders, author=AUTHOR)
        for standalone in self.wanted_standalones:
            offer = Offer(0, f"{AUTHOR} - {standalone.title} [m4b]", 4, "taken")
            tags = AudioTags(title=standalone.title, author=AUTHOR, album=standalone.title)
            _, torrent = write_offer(offer, shared, tags, self.audio_seconds, self.urls["tracker"])
            await seeder.add(
                torrent, category="seed", tag="sandbox", save_path=str(shared), skip_checking=True
            )
            if self.mam_site is not None:
                self.mam_site.add_release(
                    standalone.title, torrent, author=AUTHOR, narrators=(NARRATOR,),
                    seeders=offer.seeders, free=True,
                )  # fmt: skip
            else:
                self.indexer.add_release(offer.name, torrent, seeders=offer.seeders, author=AUTHOR)
