"""Telling whether two titles name the same book. Pure.

As the best matchers do it: NFKD with diacritics stripped, lowercase, parenthesised text
dropped, a subtitle after ": " or " - " dropped, an edition suffix ("3rd edition",
"rev. ed.", "75th anniversary edition") dropped, punctuation as spaces, British spellings
as American ones ("armour" as "armor", "theatre" as "theater"); then a token-set
similarity of at least `THRESHOLD` (rapidfuzz), which forgives word order and a stray
"the" but not a different book of the same series. A typo that *changes* one word
("Small Godz" for "Small Gods", one edit in a word of four letters or more) is forgiven
too, in titles of two words or more (a one-word title changed by a letter is another
word: "Mort" is not "Fort").
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

THRESHOLD = 90.0

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


def normalise_title(text: str) -> str:
    """The comparable form of a title or a series name."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    plain = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", plain)
    plain = re.split(r":\s| - ", plain, maxsplit=1)[0]
    plain = EDITION.sub(" ", plain)
    return " ".join(_american(w) for w in re.sub(r"[^\w]+", " ", plain).split())


def _american(word: str) -> str:
    if word in SPELLINGS:
        return SPELLINGS[word]
    if word.endswith("s") and word[:-1] in SPELLINGS:
        return SPELLINGS[word[:-1]] + "s"
    return word


def titles_match(a: str, b: str) -> bool:
    """Whether two titles name the same book."""
    left, right = normalise_title(a), normalise_title(b)
    if not left or not right:
        return False
    return (
        left == right
        or (fuzz.token_set_ratio(left, right) >= THRESHOLD and _close_length(left, right))
        or _one_word_mistyped(left, right)
    )


def _one_word_mistyped(left: str, right: str) -> bool:
    """The same words but one, which differs by a single edit ("godz"/"gods", or two
    letters swapped: "kigns"/"kings"), in titles of two words or more: a typo changes a
    word rather than adding one."""
    a, b = left.split(), right.split()
    if len(a) != len(b) or len(a) < 2:
        return False
    changed = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return len(changed) == 1 and all(
        min(len(x), len(y)) >= 4 and OSA.distance(x, y) == 1 for x, y in changed
    )


def _close_length(left: str, right: str) -> bool:
    """token_set_ratio is 100 when one title's words are a subset of the other's ("Dune"
    vs "Dune Messiah"): the words only one side has must be filler, or, between titles of
    three words or more, a single word (a typo, a "Part")."""
    a, b = set(left.split()), set(right.split())
    extra = a ^ b
    return extra <= FILLER or (len(extra - FILLER) <= 1 and min(len(a), len(b)) >= 3)


FILLER = frozenset({"the", "a", "an", "unabridged", "novel", "audiobook", "edition"})
