"""Telling whether two titles name the same book. Pure.

As the best matchers do it: both titles in `shared.text.title_text` form (NFKD with
diacritics stripped, case folded, parenthesised text
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

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from shared.text import title_text

THRESHOLD = 90.0


def titles_match(a: str, b: str) -> bool:
    """Whether two titles name the same book."""
    left, right = title_text(a), title_text(b)
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
