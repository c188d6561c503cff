"""Applying a proposed correction, or reverting an applied one, when asked
("correction apply/revert requested"). The correction comes from the record (read-only);
the library must still hold the value it replaces (for a revert: the value it wrote),
else the library changed meanwhile and nothing is written. The value goes to
Audiobookshelf (`PATCH /api/items/:id/media`), then the step is published: "applied",
or "reverted" with old and new values swapped. Audiobookshelf being away raises (the
command is tried again later); a refused key raises as refused.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from services.discovery import corrections
from services.discovery.metadata_check import library_metadata
from shared import events as ev
from shared.clients.audiobookshelf import AudiobookshelfClient, AudiobookshelfNotFoundError
from shared.corrections_record import RecordedCorrection
from shared.task_runs import Publisher

logger = logging.getLogger(__name__)

PRODUCER = "discovery"
REVERTED = "reverted on request"


@dataclass(frozen=True)
class Step:
    """What a command asks: from which status, writing which value, publishing what."""

    wanted_status: str
    writes_old: bool
    status: ev.CorrectionStatus


APPLY = Step("proposed", writes_old=False, status=ev.CorrectionStatus.APPLIED)
REVERT = Step("applied", writes_old=True, status=ev.CorrectionStatus.REVERTED)


def refusal(recorded: RecordedCorrection | None, step: Step) -> str | None:
    """Why the command cannot be served, or None."""
    if recorded is None:
        return "the record has no such correction"
    if recorded.status != step.wanted_status:
        return f"it is {recorded.status}, not {step.wanted_status}"
    return None


async def carry_out(
    library: AudiobookshelfClient,
    publisher: Publisher,
    recorded: RecordedCorrection,
    step: Step,
    requested_by: str,
) -> ev.MetadataCorrected | None:
    """Write the correction's value (the new one, or the old one back) if the library
    still holds the value it replaces; the event published, or None if not written."""
    before, after = recorded.old_value, recorded.new_value
    if step.writes_old:
        before, after = after, before
    item = next(iter(await library.expanded_items([recorded.abs_id])), None)
    if item is None or not corrections.holds(library_metadata(item), recorded.field_name, before):
        logger.warning(
            "correction %s not written: the library no longer holds %s's old value",
            recorded.correction_id,
            recorded.field_name,
            extra={
                "event": "correction.stale",
                "correction_id": str(recorded.correction_id),
                "field": recorded.field_name,
            },
        )
        return None
    body = corrections.patch_metadata([(recorded.field_name, after)])
    try:
        await library.update_metadata(recorded.abs_id, body)
    except AudiobookshelfNotFoundError:
        return None
    payload = ev.MetadataCorrectedPayload(
        abs_id=recorded.abs_id,
        field_name=recorded.field_name,
        old_value=before,
        new_value=after,
        source=recorded.source if not step.writes_old else "manual",
        reason=REVERTED if step.writes_old else recorded.reason,
        corrected_by=requested_by,
        correction_id=recorded.correction_id,
        status=step.status,
    )
    event = ev.MetadataCorrected.create(payload, producer=PRODUCER)
    await publisher.publish(event)
    logger.info(
        "correction %s %s: %s of item %s",
        recorded.correction_id,
        step.status.value.lower(),
        recorded.field_name,
        recorded.abs_id,
        extra={
            "event": f"correction.{step.status.value.lower()}",
            "correction_id": str(recorded.correction_id),
            "field": recorded.field_name,
            "abs_id": recorded.abs_id,
        },
    )
    return event


def failure(correction_id: uuid.UUID, step: Step, reason: str) -> ev.FailureRecorded:
    """The recorded failure of a command that could not be served."""
    payload = ev.FailureRecordedPayload(
        task_name="METADATA",
        item_key=f"correction:{correction_id}",
        item_name=f"correction {correction_id}",
        reason=reason[:500],
        error_code="CORRECTION_NOT_APPLIED" if not step.writes_old else "CORRECTION_NOT_REVERTED",
    )
    return ev.FailureRecorded.create(payload, producer=PRODUCER)
