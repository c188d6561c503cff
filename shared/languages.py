"""Languages as the world writes them, read as one code: the catalogue says "english",
an indexer's attribute "en" or "English", a scene name "ENG" or "GERMAN", an MP3's TLAN
tag "eng" (ISO 639-2), a tracker "Deutsch". `language_code` reads any of these as a
BCP 47 language subtag ("en", "de"), with `langcodes` and its language data, so that two
descriptions of the same language compare equal.
"""

from __future__ import annotations

from functools import lru_cache

import langcodes

UNDETERMINED = frozenset({"und", "mul", "zxx", "mis"})
"""ISO 639-2's "undetermined", "multiple", "no linguistic content", "uncoded": no claim."""


@lru_cache(maxsize=4096)
def language_code(value: str | None) -> str | None:
    """The language subtag ("en") of a code or a name (in English or in the language
    itself), or None when `value` names no language."""
    text = (value or "").strip()
    if not text or len(text) > 60:
        return None
    if len(text) <= 3 or "-" in text or "_" in text:
        code = _from_code(text)
        if code is not None:
            return code
    try:
        return langcodes.find(text).language
    except LookupError:
        return None


def _from_code(text: str) -> str | None:
    if text.lower() in UNDETERMINED:
        return None
    try:
        language = langcodes.Language.get(langcodes.standardize_tag(text.replace("_", "-")))
    except (ValueError, LookupError):
        return None
    if not language.language or not language.is_valid():
        return None
    if language.display_name().startswith("Unknown language"):
        return None
    return language.language


def same_language(one: str | None, other: str | None) -> bool | None:
    """Whether two descriptions name the same language; None if either names none."""
    a, b = language_code(one), language_code(other)
    if a is None or b is None:
        return None
    return a == b


def language_name(code: str | None) -> str | None:
    """The English name of a language code, for people reading the record."""
    found = language_code(code)
    return None if found is None else langcodes.Language.get(found).display_name().lower()
