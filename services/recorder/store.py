"""Reading and writing the recorder's entities in PostgreSQL, a batch at a time.

Within one transaction: `claim` the events (exactly-once), `lock` the natural keys the
batch touches (so two recorder instances never merge the same row at once), `load` those
rows and their versions into a `View`, and, after projecting, `save` every changed row
with one statement per table.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import asyncpg
import orjson
from sqlalchemy.dialects import postgresql

import shared.models  # noqa: F401  (the tables' column types come from the models)
from services.recorder import projection as rules
from services.recorder.admission import Admitted
from services.recorder.entities import Entity, Kind
from services.recorder.projection import View
from shared.database import Base


@dataclass(frozen=True)
class Claim:
    """What claiming a batch found: the events new to the record, and the fingerprints
    recorded for the others (None: recorded before fingerprints were kept)."""

    fresh: set[uuid.UUID]
    recorded: dict[uuid.UUID, bytes | None]


@dataclass(frozen=True)
class Handover:
    """What a batch passes to the next one: its projected view and the ids it wrote."""

    view: View
    ids: dict[tuple[Kind, str], int]


@dataclass(frozen=True)
class Table:
    """How one kind of entity is stored."""

    name: str
    key_sql: str  # the natural key as an SQL expression over alias `t`
    source_sql: str  # FROM clause defining alias `t`
    columns: tuple[str, ...]  # the columns the recorder writes
    conflict: tuple[str, ...]  # the unique key the upsert targets
    references: tuple[tuple[str, Kind, str], ...] = ()  # (reference, kind, id column)
    returning_key: str = ""  # the natural key in an upsert's RETURNING (default: key_sql)
    lookup_on: str = ""  # an indexed expression over `t`/`m` equal to `w.k`, the lookup value
    lookup_arg: Callable[[list[str]], list[str]] = list  # natural keys → the lookup values

    @property
    def lookup(self) -> str:
        """FROM … JOIN <the keys> AS w(k): a join, not `= ANY($1)`, so that PostgreSQL can
        hash or index it instead of comparing every row with every key."""
        on = self.lookup_on or f"{self.key_sql} = w.k"
        return f"{self.source_sql} JOIN {KEYS} ON {on}"


TABLES: dict[Kind, Table] = {
    Kind.BOOK: Table(
        "books", "t.abs_id", "books t",
        ("abs_id", *rules.BOOK_LIBRARY, *rules.BOOK_PRESENCE, *rules.BOOK_ORIGIN), ("abs_id",),
    ),
    Kind.SERIES: Table(
        "series", "t.name", "series t", ("name", *rules.SERIES_ASSESSMENT), ("name",)
    ),
    Kind.AUTHOR: Table(
        "authors", "t.name", "authors t", ("name", *rules.AUTHOR_ASSESSMENT), ("name",)
    ),
    Kind.MISSING: Table(
        "missing_books", "t.book_key", "missing_books t",
        ("book_key", *rules.MISSING_IDENTITY, *rules.MISSING_GAP, *rules.MISSING_STATUS,
         "identified_date", "blocklist_cleared_at", "series_id", "author_id", "book_id"),
        ("book_key",),
        (("series", Kind.SERIES, "series_id"), ("author", Kind.AUTHOR, "author_id"),
         ("book", Kind.BOOK, "book_id")),
    ),
    Kind.DOWNLOAD: Table(
        "downloads", "m.book_key",
        "downloads t JOIN missing_books m ON m.id = t.missing_book_id",
        ("missing_book_id", *rules.DOWNLOAD_RELEASE, *rules.DOWNLOAD_STATUS,
         *rules.DOWNLOAD_IMPORT, *rules.DOWNLOAD_PROGRESS, "max_retries", "retry_count",
         "last_attempt", "date_queued", "date_completed", "qbittorrent_hash",
         "qbittorrent_status", "book_id"),
        ("missing_book_id",),
        (("book", Kind.BOOK, "book_id"),),
        returning_key="t.missing_book_id::text",
    ),
    Kind.TASK: Table(
        "tasks", "t.run_id::text", "tasks t",
        ("run_id", *rules.TASK_START, *rules.TASK_OUTCOME, "duration_seconds"),
        ("run_id",),
        lookup_on="t.run_id = w.k::uuid",
    ),
    Kind.FAILURE: Table(
        "failed_attempts", "t.task_name || '|' || t.item_key || '|' || t.error_code",
        "failed_attempts t",
        ("task_name", "item_key", "error_code", *rules.FAILURE_LATEST, "first_attempt",
         "last_attempt", "attempt_count", "metadata"),
        ("task_name", "item_key", "error_code"),
        lookup_on="t.item_key = w.k",
        lookup_arg=lambda keys: sorted({rules.item_of_failure_key(key) for key in keys}),
    ),
    Kind.BLOCKED: Table(
        "blocked_releases", "t.book_key || chr(10) || t.release_key", "blocked_releases t",
        ("book_key", "release_key", *rules.BLOCKED_LATEST, "first_blocked_at",
         "last_blocked_at", "block_count", "missing_book_id"),
        ("book_key", "release_key"),
        (("missing", Kind.MISSING, "missing_book_id"),),
        lookup_on="t.book_key = w.k",
        lookup_arg=lambda keys: sorted({rules.book_of_blocked_key(key) for key in keys}),
    ),
    Kind.INSTANCE: Table(
        "service_instances", "t.instance_id", "service_instances t",
        ("instance_id", *rules.INSTANCE_STATE, "first_seen_at", "last_seen_at", "stopped_at"),
        ("instance_id",),
    ),
}  # fmt: skip
SAVE_ORDER = (
    Kind.BOOK, Kind.SERIES, Kind.AUTHOR, Kind.MISSING, Kind.DOWNLOAD, Kind.TASK, Kind.FAILURE,
    Kind.BLOCKED, Kind.INSTANCE,
)  # fmt: skip


RECORDER_LOCK = zlib.crc32(b"abauto.recorder")


def as_json(value: Any) -> str:
    """One JSON document for a whole batch: PostgreSQL unpacks it (json_to_recordset),
    which is much cheaper than the driver encoding arrays element by element."""
    return orjson.dumps(value).decode()


KEYS = "json_array_elements_text($1::json) AS w(k)"
VERSIONS = "recorder_versions"
"""Each row's merge versions: read with the row, written in the same upsert."""


class Store:
    """The recorder's SQL, on one connection inside the caller's transaction."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._db = connection
        self._ids: dict[tuple[Kind, str], int] = {}

    async def claim(self, events: Sequence[Admitted]) -> Claim:
        """Record the events (one copy per id) as processed, with their fingerprints; say
        which were not processed before and, for the others, what was recorded."""
        rows = await self._db.fetch(
            "INSERT INTO processed_events (event_id, event_type, fingerprint) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[]) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            [a.event.event_id for a in events],  # binary: cheaper than JSON text for both
            [a.event.event_type for a in events],
            [a.fingerprint for a in events],
        )
        fresh = {row["event_id"] for row in rows}
        seen = [a.event.event_id for a in events if a.event.event_id not in fresh]
        return Claim(fresh, await self._fingerprints(seen) if seen else {})

    async def _fingerprints(self, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, bytes | None]:
        """The fingerprints recorded for these event ids (only redeliveries pay for this
        lookup; rows from before fingerprints were kept have none)."""
        rows = await self._db.fetch(
            "SELECT event_id, fingerprint FROM processed_events WHERE event_id = ANY($1::uuid[])",
            event_ids,
        )
        return {row["event_id"]: row["fingerprint"] for row in rows}

    async def unclaim(self, event_ids: Iterable[uuid.UUID]) -> None:
        """Forget claims of events that were rejected, so a redelivery is judged again."""
        await self._db.execute(
            "DELETE FROM processed_events WHERE event_id = ANY($1::uuid[])", list(event_ids)
        )

    async def take_turn(self) -> int:
        """Increment the writer generation: waits until any other recorder transaction that
        took its turn has finished, and holds the turn until this one ends. Returns the new
        generation."""
        generation: int = await self._db.fetchval(
            "INSERT INTO recorder_writer AS w (id, generation) VALUES (1, 1) "
            "ON CONFLICT (id) DO UPDATE SET generation = w.generation + 1 "
            "RETURNING generation"
        )
        return generation

    async def load(self, keys: Iterable[tuple[Kind, str]], base: Handover | None = None) -> View:
        """Read the rows and versions of these natural keys into a view. Keys the `base`
        (the previous batch, projected but not committed yet) holds are taken from it."""
        allowed = set(keys)
        view = View(allowed=allowed)
        if base is not None:
            for shared in allowed & base.view.entities.keys():
                view.entities[shared] = base.view.entities[shared].handed_over()
            self.adopt(base.ids, view)
        wanted: dict[Kind, set[str]] = {}
        for kind, key in allowed - view.entities.keys():
            wanted.setdefault(kind, set()).add(key)
        for kind, names in wanted.items():
            await self._load_rows(view, kind, sorted(names))
        return view

    @property
    def ids(self) -> dict[tuple[Kind, str], int]:
        """The row ids this store knows, by natural key."""
        return self._ids

    def adopt(self, ids: dict[tuple[Kind, str], int], view: View) -> None:
        """Take from a previous batch's store the ids of the view's entities and of the
        rows they refer to. Only those: what a batch knows stays proportional to its own
        size, however long the pipeline runs."""
        wanted = [*view.entities]
        for (kind, _), entity in view.entities.items():
            for reference, target, _column in TABLES[kind].references:
                name = entity.references.get(reference)
                if name is not None:
                    wanted.append((target, name))
        self._ids.update({key: ids[key] for key in wanted if key in ids})

    async def _load_rows(self, view: View, kind: Kind, keys: list[str]) -> None:
        table = TABLES[kind]
        columns = ", ".join(f"t.{c}" for c in table.columns)
        rows = await self._db.fetch(
            f"SELECT t.id AS id__, {table.key_sql} AS key__, "  # noqa: S608
            f"t.{VERSIONS} AS versions__, {columns} FROM {table.lookup}",
            as_json(table.lookup_arg(keys)),
        )
        wanted = set(keys)
        for row in (row for row in rows if row["key__"] in wanted):
            entity = view.get(kind, row["key__"])
            entity.columns = {c: row[c] for c in table.columns}
            stored = row["versions__"] or {}
            entity.versions = {group: tuple(version) for group, version in stored.items()}
            entity.is_new = False
            self._ids[(kind, row["key__"])] = row["id__"]

    async def save(self, view: View) -> None:
        """Write every new or changed entity, then the links and appended rows."""
        for kind in SAVE_ORDER:
            entities = [
                e for (k, _), e in view.entities.items() if k is kind and (e.changed or e.is_new)
            ]
            placeholders = [e for e in entities if not e.changed]
            if placeholders:
                await self._upsert(kind, placeholders, overwrite=False)
            if len(placeholders) < len(entities):
                await self._upsert(kind, [e for e in entities if e.changed], overwrite=True)
        await self._append_corrections(view)
        await self._link_failures(view)

    async def _upsert(self, kind: Kind, entities: list[Entity], *, overwrite: bool) -> None:
        """Insert or update rows with one set-based statement; a placeholder (a row that
        only has to exist) never overwrites one that does."""
        table = TABLES[kind]
        rows = [self._row(kind, table, entity) for entity in entities]
        returned = await self._db.fetch(_upsert_sql(kind, overwrite), as_json(rows))
        self._remember(kind, returned, entities)
        new = [e.key for e in entities if (kind, e.key) not in self._ids]
        if new:  # placeholders that already existed: DO NOTHING returns no row for them
            found = await self._db.fetch(
                f"SELECT t.id, {table.key_sql} AS key FROM {table.lookup}",  # noqa: S608
                as_json(table.lookup_arg(new)),
            )
            self._ids.update({(kind, row["key"]): row["id"] for row in found})

    def _remember(self, kind: Kind, rows: Sequence[asyncpg.Record], entities: list[Entity]) -> None:
        if kind is Kind.DOWNLOAD:  # keyed by its gap: map the gap's id back to the book key
            gaps = {str(self._ids[(Kind.MISSING, e.key)]): e.key for e in entities}
            self._ids.update({(kind, gaps[row["key"]]): row["id"] for row in rows})
        else:
            self._ids.update({(kind, row["key"]): row["id"] for row in rows})

    def _row(self, kind: Kind, table: Table, entity: Entity) -> dict[str, Any]:
        values = dict(entity.columns)
        for reference, target, column in table.references:
            if reference in entity.references:
                name = entity.references[reference]
                values[column] = None if name is None else self._ids[(target, name)]
        natural = _natural_columns(kind, entity, self._ids)
        values.update(natural)
        if kind is Kind.TASK:
            values["duration_seconds"] = _duration(values)
        row = {c: values.get(c) for c in table.columns}
        row[VERSIONS] = entity.versions
        return row

    async def _link_failures(self, view: View) -> None:
        """Point failures at the gap of their item, whichever of the two came first."""
        new = [e for e in view.entities.values() if e.is_new]
        keys = [e.key for e in new if e.kind is Kind.MISSING]
        keys += [e.columns["item_key"] for e in new if e.kind is Kind.FAILURE]
        if keys:
            await self._db.execute(
                "UPDATE failed_attempts f SET item_id = m.id "
                "FROM json_array_elements_text($1::json) AS w(k) "
                "JOIN missing_books m ON m.book_key = w.k "
                "WHERE f.item_key = w.k AND f.item_id IS DISTINCT FROM m.id",
                as_json(sorted(set(keys))),
            )

    async def _append_corrections(self, view: View) -> None:
        if not view.corrections:
            return
        await self._db.executemany(
            "INSERT INTO metadata_corrections (book_id, field_name, old_value, new_value, "
            "source, reason, corrected_by, correction_date, correction_id, status) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
                (
                    self._ids[(Kind.BOOK, c.abs_id)],
                    c.field_name,
                    c.old_value,
                    c.new_value,
                    c.source,
                    c.reason,
                    c.corrected_by,
                    c.correction_date,
                    c.correction_id,
                    c.status,
                )
                for c in view.corrections
            ],
        )


@cache
def _upsert_sql(kind: Kind, overwrite: bool) -> str:
    """INSERT … SELECT FROM json_to_recordset($1) ON CONFLICT …, typed from the models."""
    table = TABLES[kind]
    model = Base.metadata.tables[table.name]
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    written = (*table.columns, VERSIONS)
    record = ", ".join(f"{c} {model.c[c].type.compile(dialect=dialect)}" for c in written)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in written if c not in table.conflict)
    action = f"DO UPDATE SET {updates}" if overwrite else "DO NOTHING"
    key = table.returning_key or table.key_sql
    upsert = (
        f"INSERT INTO {table.name} AS t ({', '.join(written)}) "  # noqa: S608
        f"SELECT * FROM json_to_recordset($1::json) AS x({record}) "
        f"ON CONFLICT ({', '.join(table.conflict)}) {action} RETURNING t.id, {key} AS key"
    )
    if kind is not Kind.DOWNLOAD:
        return upsert
    # Point each gap's denormalised download_id at its download in the same statement.
    return (
        f"WITH up AS ({upsert}), linked AS ("  # noqa: S608
        "UPDATE missing_books m SET download_id = up.id FROM up "
        # `m.id = key::bigint`, not `m.id::text = key`: the gap is found by its primary
        # key instead of by scanning every gap ever recorded, once per batch.
        "WHERE m.id = up.key::bigint AND m.download_id IS DISTINCT FROM up.id) "
        "SELECT id, key FROM up"
    )


def _natural_columns(
    kind: Kind, entity: Entity, ids: dict[tuple[Kind, str], int]
) -> dict[str, Any]:
    if kind is Kind.BOOK:
        return {"abs_id": entity.key}
    if kind in (Kind.SERIES, Kind.AUTHOR):
        return {"name": entity.key}
    if kind is Kind.MISSING:
        return {"book_key": entity.key}
    if kind is Kind.DOWNLOAD:
        return {"missing_book_id": ids[(Kind.MISSING, entity.key)]}
    if kind is Kind.TASK:
        return {"run_id": uuid.UUID(entity.key)}
    if kind is Kind.BLOCKED:
        book_key, release_key = entity.key.split("\n", 1)
        return {"book_key": book_key, "release_key": release_key}
    if kind is Kind.INSTANCE:
        return {"instance_id": entity.key}
    return {}


def _duration(values: dict[str, Any]) -> int | None:
    start, end = values.get("actual_start"), values.get("actual_end")
    return None if start is None or end is None else round((end - start).total_seconds())
