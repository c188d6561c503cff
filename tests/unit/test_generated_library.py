"""The bench's generated library is the same for the same seed, and as messy as said."""

from __future__ import annotations

from sandbox.generated_library import generate


def test_the_same_seed_makes_the_same_library() -> None:
    first, second = (
        generate(7, books=600, series=60, authors=120),
        generate(7, books=600, series=60, authors=120),
    )
    assert first == second
    assert generate(8, books=600, series=60, authors=120) != first


def test_the_library_is_messy_the_way_real_ones_are() -> None:
    library = generate(3, books=2000, series=200, authors=400)
    items = library.items
    assert len(items) == 2000
    assert len({item.id for item in items}) == 2000
    assert len(library.series) == 200
    sequences = [seq or "" for item in items for _, seq in item.series]
    names = [name for item in items for name, _ in item.series]
    assert any(name.endswith("(Publication Order)") for name in names)
    assert any(seq.startswith("Book ") for seq in sequences)
    assert any("." in seq for seq in sequences)
    assert any("-" in seq for seq in sequences)  # an omnibus
    assert any(item.asin is None for item in items)
    assert any("," in item.authors[0] for item in items)
    assert any(len(item.authors) == 2 for item in items)
    assert any(not item.series for item in items)
    assert any(not item.audio and item.ebook for item in items)
