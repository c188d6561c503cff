"""Series positions from the text catalogues and libraries use. Pure.

"1", "01", "0.5", "1.5", "Book 2", "Vol. 3", "Volume 12", "#4" are single positions;
"1-3", "1\u20133" (en dash), "1 - 3", "Book 1-3" are ranges (an omnibus covering 1 to 3);
"2, Dramatized Adaptation" is position 2 (the first number is what counts, as in
Audiobookshelf). Anything without a number is no position at all.

A fraction may be written without its leading zero (".5", "Vol .5", "Book .5", "#.5":
a novella between books 0 and 1): the dot then stands after a space, "#", "(" or "["
or at the start. "Vol.5" — the dot right after a word, the abbreviation's — is volume 5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

NUMBER = r"(\d+(?:\.\d+)?|(?:^|(?<=[\s#(\[]))\.\d+)"
RANGE = re.compile(rf"^\D*?{NUMBER}\s*[-\u2013\u2014]\s*{NUMBER}")  # -, en and em dash
SINGLE = re.compile(rf"^\D*?{NUMBER}")


@dataclass(frozen=True)
class Positions:
    """An inclusive range of positions; a single position has first == last."""

    first: Decimal
    last: Decimal

    def covers(self, position: Decimal) -> bool:
        """Whether `position` lies in the range."""
        return self.first <= position <= self.last

    def whole_positions(self) -> list[Decimal]:
        """The positions a range covers (whole numbers), or the single position itself."""
        if self.first == self.last:
            return [self.first]
        start = int(self.first) if self.first == int(self.first) else int(self.first) + 1
        return [Decimal(n) for n in range(start, int(self.last) + 1)]


def parse_sequence(text: str | None) -> Positions | None:
    """The positions a sequence text names, or None."""
    if not text:
        return None
    cleaned = text.strip()
    try:
        if found := RANGE.match(cleaned):
            first, last = _decimal(found.group(1)), _decimal(found.group(2))
            return Positions(first, last) if first <= last else Positions(first, first)
        if found := SINGLE.match(cleaned):
            position = _decimal(found.group(1))
            return Positions(position, position)
    except InvalidOperation:
        return None
    return None


def _decimal(text: str) -> Decimal:
    return Decimal("0" + text if text.startswith(".") else text)


def sequence_text(position: Decimal) -> str:
    """A position as catalogues write it: "3", "0.5" (no trailing zeros)."""
    normal = position.normalize()
    return f"{normal:f}"
