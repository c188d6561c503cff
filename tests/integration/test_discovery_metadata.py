"""The METADATA job against the sandbox's Audiobookshelf and catalogue, over loopback:
the corrections it proposes, the one a fill-empty setting writes at once, and applying
and reverting one on command; then what `abauto corrections` allows, on the record."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ops import correction_commands
from sandbox.world import ABS_KEY, Sandbox
from services.discovery import applying
from services.discovery.catalogue import AudibleCatalogue
from services.discovery.library_scan import read_libraries
from services.discovery.metadata_check import CorrectionPolicy, check_metadata
from shared import events as ev
from shared.clients.audiobookshelf import (
    AudiobookshelfClient,
    AudiobookshelfForbiddenError,
    AudiobookshelfNotFoundError,
    LibraryItem,
)
from shared.corrections_record import RecordedCorrection
from shared.faults import is_refused
from shared.http import PoliteHttp
from shared.task_runs import TaskRun
from tests.support.fakes import FakePublisher
from tests.support.http import fast_http
from tests.support.recording import migrated_database, record

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 24)


@pytest.fixture
async def http() -> AsyncIterator[PoliteHttp]:
    async with fast_http() as client:
        yield client


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(tmp_path / "world", incomplete=(2,))
    await sandbox.start_library()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


def library_of(world: Sandbox, http: PoliteHttp) -> AudiobookshelfClient:
    return AudiobookshelfClient(world.urls["abs"], SecretStr(ABS_KEY), http)


async def items(library: AudiobookshelfClient) -> list[LibraryItem]:
    return [i for lib in (await read_libraries(library, [])).values() for i in lib]


async def check(
    world: Sandbox, http: PoliteHttp, policy: CorrectionPolicy, known: dict[uuid.UUID, str]
) -> tuple[FakePublisher, TaskRun]:
    library = library_of(world, http)
    catalogue = AudibleCatalogue(http, base_url=world.urls["audible"])
    publisher, run = FakePublisher(), TaskRun(uuid.uuid4(), "METADATA", uuid.uuid4())
    await check_metadata(
        catalogue, library, await items(library), known, publisher, run, policy, TODAY
    )
    return publisher, run


def steps(publisher: FakePublisher) -> list[tuple[str, str, str | None, str | None]]:
    return sorted(
        (e.payload.status.value, e.payload.field_name, e.payload.old_value, e.payload.new_value)
        for e in publisher.of(ev.MetadataCorrected)
    )


def recorded(event: ev.MetadataCorrected, title: str = "A Quiet Harbour") -> RecordedCorrection:
    p = event.payload
    assert p.correction_id is not None
    return RecordedCorrection(
        p.correction_id, p.abs_id, title, p.field_name, p.old_value, p.new_value, p.source,
        p.reason, p.status.value, event.occurred_at, p.corrected_by,
    )  # fmt: skip


async def test_what_the_incomplete_book_lacks_is_proposed_and_nothing_written(
    world: Sandbox, http: PoliteHttp
) -> None:
    publisher, run = await check(world, http, CorrectionPolicy(), {})
    assert steps(publisher) == [
        ("proposed", "narrators", None, '["Ilse Marrow"]'),
        ("proposed", "published_year", None, "2022"),
        ("proposed", "publisher", None, "Tidewater Audio"),
    ]
    assert {e.payload.reason for e in publisher.of(ev.MetadataCorrected)} == {
        "empty in the library"
    }
    assert world.abs is not None
    assert world.abs.updates == []
    assert run.details["incomplete_books"] == 3  # no ISBN or description in the sandbox
    again, _ = await check(world, http, CorrectionPolicy(), {
        e.payload.correction_id: "proposed" for e in publisher.of(ev.MetadataCorrected)
    })  # fmt: skip
    assert steps(again) == []  # known: not proposed twice


async def test_a_fill_empty_setting_writes_that_field_at_once(
    world: Sandbox, http: PoliteHttp
) -> None:
    policy = CorrectionPolicy.of(["publisher"], [])
    publisher, _ = await check(world, http, policy, {})
    publisher_steps = [s for s in steps(publisher) if s[1] == "publisher"]
    assert publisher_steps == [
        ("applied", "publisher", None, "Tidewater Audio"),
        ("proposed", "publisher", None, "Tidewater Audio"),
    ]
    ids = {e.payload.correction_id for e in publisher.of(ev.MetadataCorrected)
           if e.payload.field_name == "publisher"}  # fmt: skip
    assert len(ids) == 1
    book = next(i for i in await items(library_of(world, http)) if i.title == "A Quiet Harbour")
    assert (book.publisher, book.published_year, book.narrators) == ("Tidewater Audio", None, ())

    # A later library scan (an import elsewhere) reads only changed folders, as the real
    # server does: what was written stays, and a second run finds nothing new to write.
    assert world.abs is not None
    await world.abs.scan_now()
    book = next(i for i in await items(library_of(world, http)) if i.title == "A Quiet Harbour")
    assert book.publisher == "Tidewater Audio"


async def test_a_proposed_correction_is_applied_then_reverted_through_audiobookshelf(
    world: Sandbox, http: PoliteHttp
) -> None:
    proposals, _ = await check(world, http, CorrectionPolicy(), {})
    [year] = [
        e for e in proposals.of(ev.MetadataCorrected) if e.payload.field_name == "published_year"
    ]
    library, publisher = library_of(world, http), FakePublisher()

    applied = await applying.carry_out(library, publisher, recorded(year), applying.APPLY, "alice")
    assert applied is not None
    assert world.abs is not None
    assert world.abs.updates[-1][1] == {"publishedYear": "2022"}
    book = next(i for i in await items(library) if i.id == year.payload.abs_id)
    assert book.published_year == 2022

    reverted = await applying.carry_out(
        library, publisher, recorded(applied), applying.REVERT, "bob"
    )
    assert reverted is not None
    p = reverted.payload
    assert (p.status, p.old_value, p.new_value, p.reason, p.corrected_by) == (
        ev.CorrectionStatus.REVERTED,
        "2022",
        None,
        "reverted on request",
        "bob",
    )
    assert p.correction_id == year.payload.correction_id
    book = next(i for i in await items(library) if i.id == year.payload.abs_id)
    assert book.published_year is None
    # The library changed since it was proposed: applying it now would overwrite that.
    await library.update_metadata(book.id, {"publishedYear": "1999"})
    assert await applying.carry_out(library, publisher, recorded(year), applying.APPLY, "a") is None
    assert [e.payload.status for e in publisher.of(ev.MetadataCorrected)] == [
        ev.CorrectionStatus.APPLIED,
        ev.CorrectionStatus.REVERTED,
    ]


async def test_a_key_that_may_not_update_is_refused_and_an_unknown_item_not_found(
    world: Sandbox, http: PoliteHttp
) -> None:
    library = library_of(world, http)
    with pytest.raises(AudiobookshelfNotFoundError):
        await library.update_metadata("no-such-item", {"publisher": "X"})
    assert world.abs is not None
    rights = {**world.abs.user["permissions"], "update": False}
    world.abs.user = {**world.abs.user, "type": "user", "permissions": rights}
    [book, *_] = await items(library)
    with pytest.raises(AudiobookshelfForbiddenError) as refused:
        await library.update_metadata(book.id, {"publisher": "X"})
    assert is_refused(refused.value)


async def test_the_commands_refuse_unknown_ids_and_the_wrong_step(stack: Any) -> None:
    correction = uuid.uuid4()
    proposed = ev.MetadataCorrected.create(
        ev.MetadataCorrectedPayload(
            abs_id="li_cli", field_name="publisher", new_value="Tor", source="audible",
            reason="empty in the library", correction_id=correction,
            status=ev.CorrectionStatus.PROPOSED,
        ),
        producer="tests",
    )  # fmt: skip
    async with migrated_database(stack, "corr") as (engine, _):
        await record(engine, [proposed])
        sent = FakePublisher()
        [row] = await correction_commands.listed(engine, "proposed")
        assert (row.correction_id, row.field_name, row.new_value) == (
            correction,
            "publisher",
            "Tor",
        )
        assert await correction_commands.listed(engine, "applied") == []
        for action, wrong in (("revert", str(correction)), ("apply", str(uuid.uuid4())),
                              ("apply", "not-an-id")):  # fmt: skip
            with pytest.raises(correction_commands.CorrectionRefusedError):
                await correction_commands.request(engine, sent, action, wrong, "alice")
        command = await correction_commands.request(engine, sent, "apply", str(correction), "al")
        assert isinstance(command, ev.CorrectionApplyRequested)
        assert command.payload.correction_id == correction
        assert len(sent.events) == 1
