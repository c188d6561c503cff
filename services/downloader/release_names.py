"""What a release name says besides the title: its language tag, its edition and its
narrators. Pure: no IO.

Names are read conservatively: a word counts only where trackers and scene groups put it.
- Language: only a curated set of tags (`LANGUAGE_TAGS`: "ENG", "GER", "GERMAN", "FR",
  "MULTI", …), never any word `language_code` would accept ("aac" is a language code),
  and only in a tag's place: a scene field (`…-AUDIOBOOK-WEB-EN-2021-GRP`), a bracket of
  tags alone (Jackett's MyAnonamouse writes `Title by Author [ENG / M4B]`), or in capitals
  in a name that is not all capitals (`… 2019 GERMAN AUDIOBOOK`). Two languages, or
  "MULTI", make no claim. "Hörbuch" ("audiobook" in German) is not a tag: German
  trackers label every audiobook so, English ones too, and a German edition's German title
  already fails the title match.
- Edition: the word "abridged" (not "unabridged") anywhere in the name.
- Narrators: "read by X", "narrated by X", "(Narrator: X)", "X [narr]", and
  Audiobookshelf's "Title {X}" folder convention; names are split at ";", "&", " and ",
  and at commas only when every part is a full name ("Kramer, Michael" stays one name).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.languages import language_code
from shared.text import match_text

FORMATS = ("m4b", "mp3", "m4a", "flac", "opus", "ogg", "aac", "wma")
SCENE_TAGS = frozenset(
    {"web", "webrip", "webdl", "dl", "cd", "cdrip", "rip", "retail", "proper", "repack",
     "internal", "multi", "audible", "itunes", "aax", "ogg", "en", "eng", "english", "de",
     "ger", "german", "fr", "fre", "french", "nl", "dutch", "es", "spa", "spanish", "ita",
     "italian", "mono", "stereo"}
)  # fmt: skip
"""What scene and tracker names add after the title: source, language, release flags
(with digits, "2CD", "192kbps", "2021", "64k", are descriptive anyway)."""
EDITION_WORDS = frozenset({"unabridged", "abridged", "audiobook", "audiobooks", "hearplay"})
DESCRIPTIVE = frozenset(
    {*FORMATS, *SCENE_TAGS, *EDITION_WORDS, "audio", "book", "books", "vol", "volume",
     "part", "series", "novel", "by", "read", "narrated", "narrator", "narr", "edition", "ed",
     "rev", "revised", "expanded", "updated", "anniversary", "deluxe", "illustrated",
     "annotated", "kbps", "cbr", "vbr", "chapterized", "chaptered", "vip"}
)  # fmt: skip

LANGUAGE_TAGS: dict[str, str | None] = {
    **{
        tag: language_code(tag)
        for tag in (
            "en", "eng", "english", "de", "ger", "german", "deutsch", "fr", "fre", "fra",
            "french", "es", "spa", "spanish", "ita", "italian", "italiano", "nl", "dut",
            "nld", "dutch", "nederlands", "pol", "polish", "rus", "russian", "swe", "swedish",
        )
    },
    "francais": "fr",  # "Français" once accents are folded
    "espanol": "es",
    "multi": None,  # several languages: no claim
}  # fmt: skip
"""The language tags scene and tracker names use, folded to lowercase. Scene dirnames
carry an ISO 639-1 field (`-EN-`, `-DE-`); MyAnonamouse's `lang_code` is ISO 639-2/B
("ENG", "GER", "FRE"); tracker titles spell the name out ("GERMAN", "Deutsch")."""
FREE_STANDING = frozenset(t for t in LANGUAGE_TAGS if len(t) >= 3) | {"en", "fr", "nl"}
"""Tags read from capitals anywhere: not "DE", "ES" (words of names and titles)."""

BRACKETS = re.compile(r"[\[({]([^\[\](){}]*)[\])}]")
WORDS = re.compile(r"[^\W_]+")
FIELDS = re.compile(r"-")

NARRATED = (
    re.compile(r"\{([^{}]+)\}"),  # Audiobookshelf: "Vol 1 - Wizards First Rule {Sam Tsoutsouvas}"
    re.compile(r"[(\[]\s*(?:narrators?|narrated by|read by)\s*:?\s*([^()\[\]]+)[)\]]", re.I),
    re.compile(r"\b(?:narrated|read)\s+by\s+(.+?)(?=\s*(?:[\[\](){}]|\s-\s|$))", re.I),
    re.compile(r"(?:^|\s-\s)((?:(?!\s-\s)[^\[\](){}])+?)\s*[\[(]narr(?:ator)?\.?[\])]", re.I),
)
NAME_SEPARATORS = re.compile(r"\s*(?:;|&|\||\band\b)\s*", re.I)
NAME_WORD = re.compile(r"^[^\W\d_][\w.'\u2019-]*$")
NAME_STOPS = frozenset(w for w in (*FORMATS, *SCENE_TAGS, *EDITION_WORDS) if len(w) > 2)


def name_language(name: str) -> str | None:
    """The language code ("de") a release name's tags claim, or None when they claim
    none, or more than one."""
    found = {LANGUAGE_TAGS[tag] for tag in _language_tags(name)}
    return found.pop() if len(found) == 1 else None


def _language_tags(name: str) -> Iterator[str]:
    for group in BRACKETS.findall(name):
        words = match_text(group).split()
        if words and all(_is_tag_word(w) for w in words):
            yield from (w for w in words if w in LANGUAGE_TAGS)
    if " " not in name.strip():  # a scene name: a field that is a tag alone
        for field in FIELDS.split(name):
            if (tag := field.lower()) in LANGUAGE_TAGS:
                yield tag
    if any(c.islower() for c in name):  # capitals stand out only in a mixed-case name
        for word in WORDS.findall(name):
            if word.isupper() and (tag := word.lower()) in FREE_STANDING:
                yield tag


def _is_tag_word(word: str) -> bool:
    return word in LANGUAGE_TAGS or word in DESCRIPTIVE or any(c.isdigit() for c in word)


def says_abridged(name: str) -> bool | None:
    """True when the name says "abridged", False when it says "unabridged", else None."""
    words = set(match_text(name).split())
    if "abridged" in words:
        return True
    return False if "unabridged" in words else None


def name_narrators(name: str) -> tuple[str, ...]:
    """The narrators a release name credits, in order; () when it credits none."""
    text = _spaced(name)
    found = [n for pattern in NARRATED for raw in pattern.findall(text) for n in split_names(raw)]
    return tuple(dict.fromkeys(found))


def _spaced(name: str) -> str:
    if " " in name.strip():
        return name
    # A scene name (`Author-Title-Read_by_Michael_Kramer-2007-GRP`): its fields as words.
    return " - ".join(re.sub(r"[._]", " ", f).strip() for f in FIELDS.split(name))


def split_names(text: str) -> tuple[str, ...]:
    """The people a credit names ("Michael Kramer & Kate Reading"); a name that does not
    look like one is left out."""
    names: list[str] = []
    for part in NAME_SEPARATORS.split(text):
        pieces = [p.strip() for p in part.split(",")]
        whole = all(" " in p for p in pieces if p)  # "Kramer, Michael" is one name
        names.extend(pieces if whole else [part.strip()])
    return tuple(n for n in map(_person, names) if n)


def _person(text: str) -> str | None:
    words: list[str] = []
    for word in text.replace(",", " , ").split():
        if word.lower() in NAME_STOPS or any(c.isdigit() for c in word):
            break  # "Steven Weber MP3": the tags after a name are not part of it
        words.append(word)
    name = " ".join(words).strip(" ,")
    checked = name.replace(" , ", " ").split()
    if not 1 <= len(checked) <= 5 or not all(NAME_WORD.match(w) for w in checked):
        return None
    return name.replace(" , ", ", ")
