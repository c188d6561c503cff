"""The migrated database matches ../shared/reference/schema.md, column by column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.support import databases

pytestmark = pytest.mark.integration

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "schema.md"


@dataclass(frozen=True)
class Expected:
    """What the reference says of one column."""

    table: str
    column: str
    kind: str
    length: int | None
    not_null: bool
    unique: bool
    references: str | None
    on_delete: str | None


def _parse_reference() -> list[Expected]:
    expected: list[Expected] = []
    table = None
    for line in REFERENCE.read_text().splitlines():
        heading = re.match(r"^## (\w+)", line)
        if heading:
            table = heading.group(1) if heading.group(1) != "Decisions" else None
            continue
        row = re.match(r"^\| (\w+) \| ([^|]+) \|", line)
        if table is None or row is None or row.group(1) == "column":
            continue
        expected.append(_expected(table, row.group(1), row.group(2).strip()))
    return expected


def _expected(table: str, column: str, spec: str) -> Expected:
    kind = spec.split()[0]
    length = re.match(r"varchar\((\d+)\)", kind)
    fk = re.search(r"FK (\w+)(?: ON DELETE (SET NULL|CASCADE))?", spec)
    return Expected(
        table=table,
        column=column,
        kind=re.sub(r"\(.*", "", kind),
        length=int(length.group(1)) if length else None,
        not_null="NOT NULL" in spec or "PK" in spec,
        unique="UNIQUE" in spec,
        references=fk.group(1) if fk else None,
        on_delete=fk.group(2) if fk else None,
    )


TYPES = {
    "serial": "integer",
    "int": "integer",
    "varchar": "character varying",
    "text": "text",
    "jsonb": "jsonb",
    "timestamp": "timestamp with time zone",  # the schema's decision: timestamptz in UTC
}

COLUMN_QUERY = """
SELECT data_type, character_maximum_length, is_nullable
FROM information_schema.columns WHERE table_name = $1 AND column_name = $2
"""
UNIQUE_QUERY = """
SELECT count(*) FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = $1::regclass AND a.attname = $2 AND i.indisunique
  AND NOT i.indisprimary AND i.indnatts = 1
"""
FK_QUERY = """
SELECT confrelid::regclass::text, confdeltype::text FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND c.conrelid = $1::regclass AND a.attname = $2
"""
# The schema's "Decisions": the one-to-one with missing_books is owned by this unique key.
DECIDED_UNIQUE = {("downloads", "missing_book_id")}
ON_DELETE = {"n": "SET NULL", "c": "CASCADE", "a": None}


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/reference is not beside the repo")
async def test_every_reference_column_exists_as_specified(empty_database: str) -> None:
    async with databases.using(empty_database):
        await databases.migrate()
    connection = await asyncpg.connect(databases.plain(empty_database))
    try:
        expected = _parse_reference()
        assert len(expected) > 100  # the reference really was read
        for column in expected:
            await _check(connection, column)
    finally:
        await connection.close()


async def _check(connection: asyncpg.Connection, want: Expected) -> None:
    where = f"{want.table}.{want.column}"
    row = await connection.fetchrow(COLUMN_QUERY, want.table, want.column)
    assert row is not None, f"{where} is missing"
    assert row["data_type"] == TYPES[want.kind], where
    assert row["character_maximum_length"] == want.length, where
    assert (row["is_nullable"] == "NO") == want.not_null, where
    unique = await connection.fetchval(UNIQUE_QUERY, want.table, want.column)
    decided = (want.table, want.column) in DECIDED_UNIQUE
    assert bool(unique) == (want.unique or decided), f"{where} uniqueness"
    fk = await connection.fetchrow(FK_QUERY, want.table, want.column)
    if want.references is None:
        return
    assert fk is not None, f"{where} has no foreign key"
    assert fk[0] == want.references, where
    assert ON_DELETE[fk[1]] == want.on_delete, f"{where} ON DELETE"
