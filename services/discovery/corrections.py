"""Which of a book's metadata the catalogue would correct, and how a correction is
written to Audiobookshelf. Pure: no IO.

The rules, as a careful librarian applies them:
- values are compared in a normal form, so a case, punctuation or accent difference is
  no correction ("the way of kings" = "The Way of Kings"), nor is an edition marker in
  brackets ("The Way of Kings (Unabridged)"), a name written surname first
  ("Sanderson, Brandon"), the order of names, a position written otherwise ("1.0" = "1")
  or a language named otherwise ("en" = "english");
- an empty catalogue value never replaces a library value;
- a series is its name and position together; the library's spelling of the name wins,
  and a series the library has that the catalogue does not name is kept;
- description and genres are only filled when empty: their differences are taste
  (a summary rewritten, genres named otherwise), not errors.

A value travels as text (`MetadataCorrected.old_value`/`new_value`): a single value as
itself, a list as a JSON array (series as `[{"name", "sequence"}]`), so that applying
or reverting writes back exactly what was recorded.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.discovery.sequences import parse_sequence
from services.discovery.titles import titles_match
from shared.languages import language_code
from shared.text import key_text

FIELDS = (
    "title", "subtitle", "authors", "narrators", "series", "published_year", "publisher",
    "language", "description", "genres", "isbn",
)  # fmt: skip
"""Every field compared, in the order corrections are listed."""
ALL = "all"
"""In a setting naming fields: every field."""
LISTS = frozenset({"authors", "narrators", "genres"})
FILL_ONLY = frozenset({"description", "genres"})
SOURCE = "audible"
EMPTY = "empty in the library"
DIFFERS = "differs from the Audible catalogue"
NAMESPACE = uuid.UUID("5b0d9c1e-7f4a-4e43-9a8c-2d6f1e0b7a35")
EDITION_MARK = re.compile(
    r"\s*[(\[]\s*(?:un)?abridged(?: edition)?\s*[)\]]|\s*[(\[]\s*dramati[sz]ed(?: adaptation)?"
    r"\s*[)\]]|\s*[(\[]\s*audio ?book\s*[)\]]",
    re.IGNORECASE,
)
"""A bracketed note about the recording, not part of the title."""

Series = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class BookMetadata:
    """The metadata compared, from the library or from the catalogue."""

    title: str | None = None
    subtitle: str | None = None
    authors: tuple[str, ...] = ()
    narrators: tuple[str, ...] = ()
    series: Series = ()
    published_year: int | None = None
    publisher: str | None = None
    language: str | None = None
    description: str | None = None
    genres: tuple[str, ...] = ()
    isbn: str | None = None


@dataclass(frozen=True)
class Proposal:
    """One field the catalogue would correct: its values as text (None: empty)."""

    field_name: str
    old_value: str | None
    new_value: str
    reason: str

    def correction_id(self, abs_id: str) -> uuid.UUID:
        """The same change of the same book is the same correction, whenever found:
        a proposal made again is recognised, a reverted one is not proposed again."""
        text = "\n".join((abs_id, self.field_name, self.old_value or "", self.new_value))
        return uuid.uuid5(NAMESPACE, text)


# ------------------------------------------------------------------------- comparing


def propose(library: BookMetadata, catalogue: BookMetadata) -> list[Proposal]:
    """Every correction the catalogue offers for the library's metadata."""
    found = []
    for name in FIELDS:
        old, new = getattr(library, name), getattr(catalogue, name)
        if name == "series":
            new = series_correction(library.series, catalogue.series)
        if _empty(new):
            continue  # nothing to offer: an empty value never replaces one
        if _empty(old):
            found.append(Proposal(name, None, _encode(name, new), EMPTY))
        elif name not in FILL_ONLY and not same(name, old, new):
            found.append(Proposal(name, _encode(name, old), _encode(name, new), DIFFERS))
    return found


def series_correction(library: Series, catalogue: Series) -> Series:
    """The library's series as the catalogue would have them: the catalogue's primary
    series (its first) with its position; () when nothing would change."""
    if not catalogue:
        return ()
    name, sequence = catalogue[0]
    for n, (owned, position) in enumerate(library):
        if titles_match(owned, name):
            if sequence is None or same_position(position, sequence):
                return ()
            return (*library[:n], (owned, sequence), *library[n + 1 :])
    return ((name, sequence), *library)


def same(field_name: str, a: Any, b: Any) -> bool:
    """Whether two values of a field say the same thing (see the module docstring)."""
    if field_name in LISTS:
        return {person_text(x) for x in a} == {person_text(x) for x in b}
    if field_name == "series":
        return len(a) == len(b) and all(
            key_text(n1) == key_text(n2) and same_position(s1, s2)
            for (n1, s1), (n2, s2) in zip(a, b, strict=True)
        )
    if field_name == "title":
        return key_text(EDITION_MARK.sub("", a)) == key_text(EDITION_MARK.sub("", b))
    if field_name == "language":
        return (language_code(a) or key_text(a)) == (language_code(b) or key_text(b))
    if field_name == "isbn":
        return _isbn(a) == _isbn(b)
    if field_name == "published_year":
        return bool(a == b)
    return key_text(a) == key_text(b)


def person_text(name: str) -> str:
    """A name's comparable form: "Sanderson, Brandon" read as "Brandon Sanderson"."""
    last, comma, first = name.partition(",")
    if comma and first.strip() and last.strip() and "," not in first:
        name = f"{first} {last}"
    return key_text(name)


def same_position(a: str | None, b: str | None) -> bool:
    """Whether two position texts name the same position ("1" = "1.0" = "Book 1")."""
    left, right = parse_sequence(a), parse_sequence(b)
    if left is None or right is None:
        return key_text(a or "") == key_text(b or "")
    return left == right


def _isbn(text: str) -> str:
    return re.sub(r"[^0-9X]", "", text.upper())


def _empty(value: Any) -> bool:
    return value is None or value == () or (isinstance(value, str) and not value.strip())


# ------------------------------------------------------------------- values as text


def _encode(field_name: str, value: Any) -> str:
    if field_name in LISTS:
        return json.dumps(list(value), ensure_ascii=False)
    if field_name == "series":
        return json.dumps([{"name": n, "sequence": s} for n, s in value], ensure_ascii=False)
    return str(value)


def encoded(field_name: str, metadata: BookMetadata) -> str | None:
    """A field of `metadata` as a correction's text (None when empty)."""
    value = getattr(metadata, field_name)
    return None if _empty(value) else _encode(field_name, value)


def holds(metadata: BookMetadata, field_name: str, text: str | None) -> bool:
    """Whether `metadata` still holds the value `text` (as `same` compares)."""
    current = getattr(metadata, field_name)
    if text is None or _empty(current):
        return text is None and _empty(current)
    return same(field_name, current, _decode(field_name, text))


def _decode(field_name: str, text: str) -> Any:
    if field_name in LISTS:
        return tuple(str(v) for v in json.loads(text))
    if field_name == "series":
        return tuple((s["name"], s.get("sequence")) for s in json.loads(text))
    if field_name == "published_year":
        return int(text)
    return text


PATCH_KEYS = {"published_year": "publishedYear"}


def patch_metadata(changes: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """The `metadata` of `PATCH /api/items/:id/media` setting each (field, value text):
    authors `[{name}]`, series `[{name, sequence}]`, narrators and genres as lists of
    names, the year as text; an empty value clears the field."""
    body: dict[str, Any] = {}
    for field_name, text in changes:
        key = PATCH_KEYS.get(field_name, field_name)
        value = None if text is None else _decode(field_name, text)
        if field_name == "authors":
            body[key] = [{"name": name} for name in value or ()]
        elif field_name == "series":
            body[key] = [{"name": n, "sequence": s} for n, s in value or ()]
        elif field_name in LISTS:
            body[key] = list(value or ())
        else:
            body[key] = None if value is None else str(value)
    return body
