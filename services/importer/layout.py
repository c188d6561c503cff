"""Where a book goes in the library: the folder layout Audiobookshelf parses. Pure.

`<Author>/<Series>/Vol. <N> - <Title>` for a book with a series position,
`<Author>/<Series>/<Title>` for one without, `<Author>/<Title>` outside any series.
Audiobookshelf reads `Vol. N - ` under a series folder as the sequence; a title that
itself begins with a number is safe there because the `Vol. N - ` prefix is parsed
first, and outside a series no sequence is parsed at all. The `metadata.json` sidecar
states the same facts anyway, and wins.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

from shared.events import BookRef

MAX_COMPONENT_BYTES = 180
UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')


def sanitise(name: str, fallback: str = "Unknown") -> str:
    """One safe path component: no separators, reserved or control characters, no
    leading/trailing dots or spaces, never `.`/`..`, at most 180 UTF-8 bytes."""
    text = unicodedata.normalize("NFC", name)
    text = UNSAFE.sub(" ", text)
    text = " ".join(text.split()).strip(" .")
    encoded = text.encode()
    if len(encoded) > MAX_COMPONENT_BYTES:
        text = encoded[:MAX_COMPONENT_BYTES].decode(errors="ignore").rstrip(" .")
    return text or fallback


def book_folder(book: BookRef) -> PurePosixPath:
    """The book's folder, relative to the library root."""
    author = sanitise(book.author or "", "Unknown Author")
    title = sanitise(book.title)
    if not book.series:
        return PurePosixPath(author, title)
    series = sanitise(book.series)
    if book.series_number:
        return PurePosixPath(author, series, f"Vol. {sanitise(book.series_number)} - {title}")
    return PurePosixPath(author, series, title)
