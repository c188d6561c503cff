"""Text as the system compares and keys it: one module, one function per purpose.

- `key_text`: natural keys (`book:<author>/<title>`, `series:<name>`, `author:<name>`).
  Stable on purpose: a change changes the keys the record already holds.
- `match_text`: release names against wanted titles (the downloader's rule).
- `title_text`: whether two titles name the same book, and which series an owned book's
  series name is (discovery): parenthesised text, a subtitle and an edition suffix
  dropped, British spellings as American ones.
- `series_key`, `author_key`: the natural keys of a series and an author, the same for
  every event and failure row that names them.

All of them fold alike first (`fold`: NFKD, diacritics stripped, case folded).
"""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """NFKD with diacritics stripped, case folded: the first step of every purpose."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def key_text(text: str) -> str:
    """Folded, punctuation as spaces, spaces collapsed: the text of natural keys."""
    return " ".join("".join(c if c.isalnum() else " " for c in fold(text)).split())


def match_text(text: str) -> str:
    """Folded, "&" as "and", apostrophes dropped ("Sorcerer's" = "Sorcerers"),
    punctuation and "_" as spaces: release names and wanted titles, word by word."""
    plain = re.sub(r"['\u2019`]", "", fold(text).replace("&", " and "))
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


EDITION = re.compile(
    r"[,;]?\s*\b(?:(?:\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|tenth"
    r"|twentieth|twenty-fifth|thirtieth|fortieth|fiftieth|sixtieth|hundredth|revised|rev"
    r"|new|expanded|updated|special|collector'?s|deluxe|illustrated|annotated|anniversary)"
    r"\.?\s+)+(?:ed\b\.?|edition\b)"
)
"""An edition suffix: it names a printing of the book, not another book."""

SPELLINGS = {
    "armour": "armor", "colour": "color", "honour": "honor", "harbour": "harbor",
    "favour": "favor", "labour": "labor", "neighbour": "neighbor", "rumour": "rumor",
    "valour": "valor", "splendour": "splendor", "behaviour": "behavior", "humour": "humor",
    "saviour": "savior", "vapour": "vapor", "endeavour": "endeavor", "clamour": "clamor",
    "ardour": "ardor", "rancour": "rancor", "parlour": "parlor", "vigour": "vigor",
    "centre": "center", "theatre": "theater", "metre": "meter", "spectre": "specter",
    "sombre": "somber", "fibre": "fiber", "lustre": "luster", "sabre": "saber",
    "grey": "gray", "defence": "defense", "offence": "offense", "licence": "license",
    "pretence": "pretense", "travelling": "traveling", "traveller": "traveler",
    "travelled": "traveled", "jewellery": "jewelry", "mould": "mold", "plough": "plow",
    "sceptic": "skeptic", "programme": "program", "catalogue": "catalog", "gaol": "jail",
    "manoeuvre": "maneuver", "aeroplane": "airplane", "sulphur": "sulfur",
    "realise": "realize", "organise": "organize", "recognise": "recognize",
    "apologise": "apologize", "paralyse": "paralyze", "analyse": "analyze",
}  # fmt: skip
"""British spellings as American ones (a plural too): the same title in two markets."""


def title_text(text: str) -> str:
    """The comparable form of a title or a series name: parenthesised text, a subtitle
    after ": " or " - " and an edition suffix dropped, punctuation as spaces, British
    spellings as American ones."""
    plain = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", fold(text))
    plain = re.split(r":\s| - ", plain, maxsplit=1)[0]
    plain = EDITION.sub(" ", plain)
    return " ".join(_american(w) for w in re.sub(r"[^\w]+", " ", plain).split())


def _american(word: str) -> str:
    if word in SPELLINGS:
        return SPELLINGS[word]
    if word.endswith("s") and word[:-1] in SPELLINGS:
        return SPELLINGS[word[:-1]] + "s"
    return word


def series_key(name: str) -> str:
    """The natural key of a series: `series:<key text>`."""
    return f"series:{key_text(name)}"


def author_key(name: str) -> str:
    """The natural key of an author: `author:<key text>`."""
    return f"author:{key_text(name)}"
