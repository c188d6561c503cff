"""Telling whether two titles name the same book. Pure.

As the best matchers do it: NFKD with diacritics stripped, lowercase, parenthesised text
dropped, a subtitle after ": " or " - " dropped, punctuation as spaces; then a token-set
similarity of at least `THRESHOLD` (rapidfuzz), which forgives word order and a stray
"the" but not a different book of the same series.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

THRESHOLD = 90.0


def normalise_title(text: str) -> str:
    """The comparable form of a title or a series name."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    plain = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", plain)
    plain = re.split(r":\s| - ", plain, maxsplit=1)[0]
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def titles_match(a: str, b: str) -> bool:
    """Whether two titles name the same book."""
    left, right = normalise_title(a), normalise_title(b)
    if not left or not right:
        return False
    return left == right or (
        fuzz.token_set_ratio(left, right) >= THRESHOLD and _close_length(left, right)
    )


def _close_length(left: str, right: str) -> bool:
    """token_set_ratio is 100 when one title's words are a subset of the other's ("Dune"
    vs "Dune Messiah"): the words only one side has must be filler, or, between titles of
    three words or more, a single word (a typo, a "Part")."""
    a, b = set(left.split()), set(right.split())
    extra = a ^ b
    return extra <= FILLER or (len(extra - FILLER) <= 1 and min(len(a), len(b)) >= 3)


FILLER = frozenset({"the", "a", "an", "unabridged", "novel", "audiobook", "edition"})
