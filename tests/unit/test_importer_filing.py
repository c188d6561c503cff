"""The import workflow, with Audiobookshelf and the publisher faked in memory (the files
are real, in a temporary folder): an outage is no failure and the import can be re-run;
the library is never damaged; a final failure takes back what the import placed."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from sandbox.audio import AudioTags, write_audio
from services.importer import filing as filing_module
from services.importer.filing import Filing
from services.importer.layout import book_folder
from services.importer.ownership import MARKER, earlier_claim
from services.importer.settings import ImporterSettings
from shared import events as ev
from shared.clients.audiobookshelf import (
    AudiobookshelfAuthError,
    AudiobookshelfResponseError,
    AudiobookshelfUnavailableError,
    Library,
    LibraryItem,
)
from shared.faults import is_refused, is_transient
from shared.http import HttpUnavailableError
from tests.support.fakes import FakePublisher

BOOK = ev.BookRef(
    title="The Glass Orchard", author="Mara Quill", series="Lanterns", series_number="3"
)
HASH = "ab" * 20
RELEASE = "Mara Quill - Lanterns 3 - The Glass Orchard [m4b] {Ilse Marrow}"
LIBRARY_ID = "lib-1"
FILES = ["CD1/part 1.mp3", "CD1/part 2.mp3", "cover.jpg"]


@dataclass
class FakeAudiobookshelf:
    """Audiobookshelf as the importer uses it: lists a folder of the library as an item
    once a scan has seen it; `away` makes the calls named in `failing` (all when None)
    raise it."""

    root: Path
    away: Exception | None = None
    failing: set[str] | None = None
    lists_new_items: bool = True
    scans: int = 0
    told: list[str] = field(default_factory=list)

    async def libraries(self) -> list[Library]:
        self._maybe_fail("libraries")
        return [Library(LIBRARY_ID, "Audiobooks", "book", (("f", str(self.root)),))]

    async def scan(self, library_id: str) -> None:
        self._maybe_fail("scan")
        self.scans += 1

    async def tell_watcher(self, library_id: str, paths: Sequence[str]) -> None:
        self._maybe_fail("tell_watcher")
        self.told.extend(paths)

    async def is_scanning(self, library_id: str) -> bool:
        self._maybe_fail("is_scanning")
        return False

    async def items_at(self, library_id: str, rel_path: str) -> list[LibraryItem]:
        self._maybe_fail("items_at")
        folder = self.root / rel_path
        if not self.lists_new_items or not self.scans or not folder.is_dir():
            return []
        return [_item(rel_path)]

    def _maybe_fail(self, call: str) -> None:
        if self.away is not None and (self.failing is None or call in self.failing):
            raise self.away


@dataclass
class World:
    """A download folder, a library, the fakes, and the filing under test."""

    downloads: Path
    download: Path
    library: Path
    abs: FakeAudiobookshelf
    publisher: FakePublisher
    filing: Filing

    @property
    def book(self) -> Path:
        return self.library.joinpath(*book_folder(BOOK).parts)

    def event(
        self, content: Path | str | None = None, files: list[str] = FILES, book: Any = BOOK
    ) -> Any:
        payload = ev.DownloadCompletedPayload(
            book=book,
            info_hash=HASH,
            content_path=str(content or self.download),
            files=files,
            release_title=RELEASE,
            guid="sandbox-7",
            source="sandbox",
        )
        return ev.DownloadCompleted.create(payload, producer="downloader")

    def failure(self) -> ev.ImportFailedPayload:
        (failed,) = self.publisher.of(ev.ImportFailed)
        assert len(self.publisher.of(ev.FailureRecorded)) == 1
        payload: ev.ImportFailedPayload = failed.payload
        return payload

    def library_entries(self) -> set[str]:
        return {str(p.relative_to(self.library)) for p in self.library.rglob("*")}


def _item(rel_path: str) -> LibraryItem:
    return LibraryItem(
        id="item-1",
        library_id=LIBRARY_ID,
        path=rel_path,
        rel_path=rel_path,
        title=BOOK.title,
        subtitle=None,
        authors=(),
        narrators=(),
        series=(),
        isbn=None,
        asin=None,
        publisher=None,
        published_year=None,
        description=None,
        duration_seconds=None,
        added_at=None,
        updated_at=None,
        is_missing=False,
    )


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    downloads = tmp_path / "downloads"
    download = downloads / "release"
    for n in (1, 2):  # real audio: the importer decodes it before filing
        write_audio(download / "CD1" / f"part {n}.mp3", chapter(n), seconds=1.0)
    (download / "cover.jpg").write_bytes(b"jpg")
    library = tmp_path / "library"
    (library / "Mara Quill" / "Other Book").mkdir(parents=True)
    (library / "Mara Quill" / "Other Book" / "other.m4b").write_bytes(b"o" * 10)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@localhost/db")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
    monkeypatch.setenv("ABAUTO_LIBRARY_ROOT", str(library))
    monkeypatch.setenv("ABAUTO_DOWNLOAD_ROOTS", str(downloads))
    monkeypatch.setenv("ABAUTO_ABS_URL", "http://abs.invalid")
    monkeypatch.setenv("ABAUTO_ABS_API_KEY", "key")
    monkeypatch.setenv("ABAUTO_ITEM_TIMEOUT_SECONDS", "0.01")
    settings = ImporterSettings()
    fake_abs = FakeAudiobookshelf(library)
    publisher = FakePublisher()
    return World(
        downloads, download, library, fake_abs, publisher, Filing(settings, fake_abs, publisher)
    )


def chapter(n: int, **tags: Any) -> AudioTags:
    """The tags of the release's n-th file, as a rip of the book carries them."""
    wanted: dict[str, Any] = {"author": BOOK.author, "album": f"{BOOK.title} (Unabridged)"}
    return AudioTags(**{"title": f"Chapter {n:02d}", **wanted, **tags, "track": n, "tracks": 2})


def _inode(path: Path) -> int:
    return path.stat().st_ino


# ------------------------------------------------------- Audiobookshelf away or refusing


@pytest.mark.parametrize(
    "error",
    [AudiobookshelfUnavailableError("HTTP 503"), HttpUnavailableError("connection refused")],
)
async def test_audiobookshelf_away_is_raised_for_redelivery_not_charged_to_the_book(
    world: World, error: Exception
) -> None:
    world.abs.away = error
    with pytest.raises(type(error)) as raised:
        await world.filing.file(world.event())
    assert is_transient(raised.value)
    assert not world.publisher.of(ev.ImportFailed)
    assert not world.publisher.of(ev.FailureRecorded)


async def test_a_refused_key_is_raised_as_a_configuration_error(world: World) -> None:
    world.abs.away = AudiobookshelfAuthError("refused the API key")
    with pytest.raises(AudiobookshelfAuthError) as raised:
        await world.filing.file(world.event())
    assert is_refused(raised.value)
    assert not world.publisher.of(ev.ImportFailed)
    assert not world.publisher.of(ev.FailureRecorded)


async def test_an_outage_during_the_scan_keeps_the_placement_and_a_rerun_completes(
    world: World,
) -> None:
    world.abs.away, world.abs.failing = AudiobookshelfUnavailableError("HTTP 502"), {"scan"}
    with pytest.raises(AudiobookshelfUnavailableError):
        await world.filing.file(world.event())
    assert (world.book / "CD1" / "part 1.mp3").exists()  # kept for the re-run
    world.abs.away = None
    await world.filing.file(world.event())
    (completed,) = world.publisher.of(ev.ImportCompleted)
    assert completed.payload.library_path == str(world.book)
    assert not world.publisher.of(ev.ImportFailed)
    assert _inode(world.book / "CD1" / "part 1.mp3") == _inode(world.download / "CD1/part 1.mp3")


async def test_a_rerun_after_a_crash_mid_placement_finishes_the_placement(world: World) -> None:
    await world.filing.file(world.event())
    (world.book / "CD1" / "part 2.mp3").unlink()  # as if the process died before this link
    (world.book / "metadata.json").unlink()
    world.publisher.events.clear()
    await world.filing.file(world.event())
    assert len(world.publisher.of(ev.ImportCompleted)) == 1
    assert (world.book / "CD1" / "part 2.mp3").exists()
    assert (world.book / "metadata.json").exists()


# ---------------------------------------------------------------- the library is safe


async def test_an_existing_book_folder_is_refused_and_left_alone(world: World) -> None:
    world.book.mkdir(parents=True)
    (world.book / "mine.m4b").write_bytes(b"the owner's own copy")
    await world.filing.file(world.event())
    assert world.failure().error_code == "LIBRARY_FOLDER_EXISTS"
    assert sorted(p.name for p in world.book.iterdir()) == ["mine.m4b"]
    assert world.abs.scans == 0
    assert not world.publisher.of(ev.ReleaseBlocklisted)  # the library's, not the release's


async def test_a_folder_placed_by_another_download_is_refused(world: World) -> None:
    world.book.mkdir(parents=True)
    claim = {"book_key": BOOK.key, "info_hash": "cd" * 20, "created_folders": []}
    (world.book / MARKER).write_text(json.dumps(claim))
    await world.filing.file(world.event())
    assert world.failure().error_code == "LIBRARY_FOLDER_EXISTS"
    assert sorted(p.name for p in world.book.iterdir()) == [MARKER]


@pytest.mark.parametrize(
    "spelling",
    [
        "mara quill/LANTERNS/vol. 3 - the glass orchard",
        "Mara Quill/Lanterns/Vol. 03 - The Glass Orchard",
        "Mara Quill/Lanterns/Vol. 003 - The  Glass Orchard",
    ],
)
async def test_the_book_folder_under_another_spelling_is_refused(
    world: World, spelling: str
) -> None:
    existing = world.library / spelling
    existing.mkdir(parents=True)
    (existing / "book.m4b").write_bytes(b"x")
    before = world.library_entries()
    await world.filing.file(world.event())
    assert world.failure().error_code == "LIBRARY_FOLDER_EXISTS"
    assert world.library_entries() == before


async def test_the_book_folder_in_another_unicode_form_is_refused(world: World) -> None:
    book = ev.BookRef(title="Café Noir", author="Mara Quill", series="Lanterns", series_number="3")
    for n in (1, 2):
        write_audio(world.download / "CD1" / f"part {n}.mp3", chapter(n, album=book.title), 1.0)
    decomposed = unicodedata.normalize("NFD", book_folder(book).as_posix())
    (world.library / decomposed).mkdir(parents=True)
    payload = ev.DownloadCompletedPayload(
        book=book, info_hash=HASH, content_path=str(world.download), files=FILES
    )
    await world.filing.file(ev.DownloadCompleted.create(payload, producer="downloader"))
    assert world.failure().error_code == "LIBRARY_FOLDER_EXISTS"
    series = world.library / "Mara Quill" / "Lanterns"
    assert [p.name for p in series.iterdir()] == [PurePosixPath(decomposed).name]


@pytest.mark.parametrize("how", ["outside", "symlink", "dotdot"])
async def test_a_download_outside_the_download_folders_is_refused(
    world: World, tmp_path: Path, how: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "CD1").mkdir(parents=True)
    for name in FILES:
        (elsewhere / name).write_bytes(b"s" * 100)
    content = {
        "outside": str(elsewhere),
        "symlink": str(world.downloads / "link"),
        "dotdot": f"{world.downloads}/../elsewhere",
    }[how]
    (world.downloads / "link").symlink_to(elsewhere)
    await world.filing.file(world.event(content))
    assert world.failure().error_code == "OUTSIDE_DOWNLOADS"
    assert not world.book.exists()


async def test_empty_audio_is_refused_and_the_release_blocklisted(world: World) -> None:
    (world.download / "CD1" / "part 2.mp3").write_bytes(b"")
    await world.filing.file(world.event())
    assert world.failure().error_code == "EMPTY_AUDIO"
    assert not (world.library / "Mara Quill" / "Lanterns").exists()
    (blocked,) = world.publisher.of(ev.ReleaseBlocklisted)
    assert (blocked.payload.reason_code, blocked.payload.info_hash) == ("EMPTY_AUDIO", HASH)


# ------------------------------------------------------- proof: the audio is the wanted book


def expecting(**expected: Any) -> ev.BookRef:
    return BOOK.model_copy(update={"expected": ev.Expectations.model_validate(expected)})


@pytest.mark.parametrize(
    ("book", "album", "code", "reason"),
    [
        (
            expecting(runtime_minutes=16 * 60 + 41),
            "The Glass Orchard",
            "RUNTIME_MISMATCH",
            "the audio runs 2 s; the catalogue says 16 h 41 min",
        ),
        (
            BOOK,
            "The Salt Road (Unabridged)",
            "WRONG_BOOK",
            "the tags name the book 'The Salt Road (Unabridged)', not 'The Glass Orchard'",
        ),
    ],
)
async def test_a_release_that_is_not_the_book_is_refused_placed_nowhere_and_blocklisted(
    world: World, book: ev.BookRef, album: str, code: str, reason: str
) -> None:
    for n in (1, 2):
        write_audio(world.download / "CD1" / f"part {n}.mp3", chapter(n, album=album), 1.0)
    before = world.library_entries()
    await world.filing.file(world.event(book=book))
    failure = world.failure()
    assert (failure.error_code, failure.reason, failure.info_hash) == (code, reason, HASH)
    (recorded,) = world.publisher.of(ev.FailureRecorded)
    assert recorded.payload.error_code == code
    (blocked,) = world.publisher.of(ev.ReleaseBlocklisted)
    assert blocked.payload.info_hash == HASH
    # Named as the indexer named it, so the record says which release was refused.
    assert (blocked.payload.release_title, blocked.payload.guid, blocked.payload.indexer) == (
        RELEASE, "sandbox-7", "sandbox",
    )  # fmt: skip
    assert blocked.payload.stage is ev.BlockStage.IMPORT
    assert (blocked.payload.reason_code, blocked.payload.reason) == (code, reason)
    assert blocked.payload.book == book
    assert world.library_entries() == before
    assert world.abs.scans == 0


async def test_an_undecodable_file_is_named(world: World) -> None:
    (world.download / "CD1" / "part 2.mp3").write_bytes(b"\xff\xfb" + bytes(4000))
    await world.filing.file(world.event())
    failure = world.failure()
    assert failure.error_code == "UNDECODABLE"
    assert failure.reason.startswith("CD1/part 2.mp3 ")
    assert world.publisher.of(ev.ReleaseBlocklisted)
    assert not world.book.exists()


async def test_the_right_book_in_the_right_language_is_filed(world: World) -> None:
    for n in (1, 2):
        write_audio(world.download / "CD1" / f"part {n}.mp3", chapter(n, language="eng"), 1.0)
    await world.filing.file(world.event(book=expecting(runtime_minutes=1, language="english")))
    assert world.publisher.of(ev.ImportCompleted)
    assert not world.publisher.of(ev.ReleaseBlocklisted)


async def test_without_proof_the_audio_is_not_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABAUTO_PROOF_ENABLED", "false")
    filing = Filing(ImporterSettings(), world.abs, world.publisher)
    await filing.file(world.event(book=expecting(runtime_minutes=900)))
    assert world.publisher.of(ev.ImportCompleted)


async def test_a_failure_on_the_librarys_side_blocklists_no_release(world: World) -> None:
    world.abs.lists_new_items = False
    await world.filing.file(world.event())
    assert world.failure().error_code == "ABS_ITEM_NOT_FOUND"
    assert not world.publisher.of(ev.ReleaseBlocklisted)


# ------------------------------------------------- a final failure takes back its placement


async def test_an_item_that_never_appears_takes_back_the_placement(world: World) -> None:
    before = world.library_entries()
    world.abs.lists_new_items = False
    await world.filing.file(world.event())
    failure = world.failure()
    assert failure.error_code == "ABS_ITEM_NOT_FOUND"
    assert world.library_entries() == before  # the author folder was there: it stays
    assert "was removed" in (failure.details or "")
    assert (world.download / "CD1" / "part 1.mp3").exists()  # still seeding


async def test_a_rerun_that_fails_takes_back_the_folders_the_first_run_made(
    world: World,
) -> None:
    before = world.library_entries()
    world.abs.away, world.abs.failing = AudiobookshelfUnavailableError("HTTP 503"), {"scan"}
    with pytest.raises(AudiobookshelfUnavailableError):
        await world.filing.file(world.event())
    assert (world.book / "CD1").is_dir()
    world.abs.away = None
    world.abs.lists_new_items = False
    await world.filing.file(world.event())
    assert world.failure().error_code == "ABS_ITEM_NOT_FOUND"
    assert world.library_entries() == before


async def test_a_permanent_audiobookshelf_error_takes_back_the_placement(world: World) -> None:
    before = world.library_entries()
    world.abs.away = AudiobookshelfResponseError("unexpected answer")
    world.abs.failing = {"items_at"}
    await world.filing.file(world.event())
    assert world.failure().error_code == "ABS_ERROR"
    assert world.library_entries() == before


async def test_what_cannot_be_taken_back_is_said(world: World) -> None:
    world.abs.lists_new_items = False
    original = world.abs.items_at

    async def someone_adds_a_file(library_id: str, rel_path: str) -> list[LibraryItem]:
        (world.book / "notes.txt").write_text("added by hand meanwhile")
        return await original(library_id, rel_path)

    world.abs.items_at = someone_adds_a_file  # type: ignore[method-assign]
    await world.filing.file(world.event())
    details = world.failure().details or ""
    assert f"{world.book} left: not empty" in details
    assert "notes.txt" in details
    assert sorted(p.name for p in world.book.iterdir()) == ["notes.txt"]


# ----------------------------------------------------------------------------- settings


def test_download_roots_are_required_and_apart_from_the_library(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ABAUTO_DOWNLOAD_ROOTS")
    with pytest.raises(ValueError, match="download_roots"):
        ImporterSettings()
    for overlapping in (str(world.library), str(world.library.parent), "relative/path"):
        monkeypatch.setenv("ABAUTO_DOWNLOAD_ROOTS", f"{world.downloads};{overlapping}")
        with pytest.raises(ValueError, match=r"overlaps the library|not a plain absolute path"):
            ImporterSettings()
    monkeypatch.setenv("ABAUTO_DOWNLOAD_ROOTS", f"{world.downloads}; /srv/more\n")
    roots = ImporterSettings().download_root_paths
    assert roots == (world.downloads, Path("/srv/more"))


async def test_a_book_folder_that_appears_after_the_check_is_not_written_into(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def folder_appears_meanwhile(*args: Any) -> Any:
        found = earlier_claim(*args)
        world.book.mkdir(parents=True)
        (world.book / "theirs.m4b").write_bytes(b"t")
        return found

    monkeypatch.setattr(filing_module, "earlier_claim", folder_appears_meanwhile)
    await world.filing.file(world.event())
    assert world.failure().error_code == "LIBRARY_FOLDER_EXISTS"
    assert sorted(p.name for p in world.book.iterdir()) == ["theirs.m4b"]


async def test_a_placed_file_replaced_meanwhile_is_not_taken_back(world: World) -> None:
    world.abs.lists_new_items = False
    original = world.abs.items_at

    async def someone_replaces_the_cover(library_id: str, rel_path: str) -> list[LibraryItem]:
        cover = world.book / "cover.jpg"
        if cover.read_bytes() != b"a cover chosen by hand":
            cover.unlink()
            cover.write_bytes(b"a cover chosen by hand")
        return await original(library_id, rel_path)

    world.abs.items_at = someone_replaces_the_cover  # type: ignore[method-assign]
    await world.filing.file(world.event())
    assert "cover.jpg left: replaced since this import placed it" in (world.failure().details or "")
    assert (world.book / "cover.jpg").read_bytes() == b"a cover chosen by hand"


async def test_a_failure_with_long_names_still_fits_its_contract(world: World) -> None:
    """A failure quoting 50 names of 4,000 characters each broke the 64 KiB bound of its
    details: the failure event could not even be built, so nothing was recorded."""
    long_names = [f"{n:03d}-" + "x" * 3990 + ".mp3" for n in range(60)]
    await world.filing.file(world.event(files=long_names))
    failure = world.failure()
    (recorded,) = world.publisher.of(ev.FailureRecorded)
    assert failure.error_code
    assert 0 < len(recorded.payload.details["files"]) < 60
    assert len(json.dumps(recorded.payload.details)) <= ev.MAX_DETAILS_BYTES


async def test_the_servers_watcher_is_told_of_exactly_the_new_audio(world: World) -> None:
    """POST /api/watcher/update is what the server offers for this: it scans just those
    files; the library scan stays the fallback (a library's watcher can be off)."""
    await world.filing.file(world.event())
    assert world.publisher.of(ev.ImportCompleted)
    assert sorted(world.abs.told) == [
        str(world.book / "CD1" / "part 1.mp3"),
        str(world.book / "CD1" / "part 2.mp3"),
    ]
