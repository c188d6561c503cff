"""The operator's view of metadata corrections (`abauto corrections list|apply|revert`).

`list` reads the record: each correction at its newest step. `apply` and `revert`
publish a command ("correction apply/revert requested") that discovery serves: it writes
to Audiobookshelf and publishes the step, which the recorder keeps. Nothing is written
to PostgreSQL or Audiobookshelf by the command itself. A correction the record does not
know, or one not at the step the command needs (apply: proposed; revert: applied), is
refused here.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared import events as ev
from shared.corrections_record import RecordedCorrection, latest_step, latest_steps
from shared.task_runs import Publisher

NEEDS = {"apply": ev.CorrectionStatus.PROPOSED, "revert": ev.CorrectionStatus.APPLIED}
COMMANDS: dict[str, type[ev.CorrectionApplyRequested | ev.CorrectionRevertRequested]] = {
    "apply": ev.CorrectionApplyRequested,
    "revert": ev.CorrectionRevertRequested,
}


class CorrectionRefusedError(LookupError):
    """No such correction, or not at the step the command needs."""


def line(c: RecordedCorrection) -> str:
    """One line for a terminal."""
    return (
        f"{c.correction_id}\t{c.status}\t{c.title}\t{c.field_name}\t"
        f"{c.old_value or '(empty)'} -> {c.new_value or '(empty)'}\t{c.reason or ''}"
    )


def as_json(c: RecordedCorrection) -> dict[str, Any]:
    """One correction as a JSON object."""
    return {
        "correction_id": str(c.correction_id), "status": c.status, "abs_id": c.abs_id,
        "title": c.title, "field_name": c.field_name, "old_value": c.old_value,
        "new_value": c.new_value, "source": c.source, "reason": c.reason,
        "at": c.at.isoformat() if c.at else None, "corrected_by": c.corrected_by,
    }  # fmt: skip


async def listed(engine: AsyncEngine, status: str | None = None) -> list[RecordedCorrection]:
    """Every correction at its newest step (only those at `status`, if given)."""
    return [c for c in await latest_steps(engine) if status is None or c.status == status]


def parse_id(text: str) -> uuid.UUID:
    """A correction id as typed; `CorrectionRefusedError` if it is not one."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise CorrectionRefusedError(f"{text!r} is not a correction id") from None


async def request(
    engine: AsyncEngine, publisher: Publisher, action: str, correction: str, requested_by: str
) -> ev.Event[Any]:
    """Ask discovery to apply or revert a correction; the command sent."""
    correction_id = parse_id(correction)
    recorded = await latest_step(engine, correction_id)
    if recorded is None:
        raise CorrectionRefusedError(f"the record has no correction {correction_id}")
    if recorded.status != NEEDS[action]:
        raise CorrectionRefusedError(
            f"correction {correction_id} is {recorded.status}: only a {NEEDS[action].value} "
            f"one can be {'applied' if action == 'apply' else 'reverted'}"
        )
    payload = ev.CorrectionRequestPayload(
        correction_id=correction_id, requested_by=requested_by[:100] or "cli"
    )
    event = COMMANDS[action].create(payload, producer="cli")
    await publisher.publish(event)
    return event
