"""Which corrections the catalogue offers for a book's metadata, and how one is written
to Audiobookshelf: the messy ways real libraries and catalogues spell the same thing."""

from __future__ import annotations

from datetime import date

import pytest

from services.discovery import corrections
from services.discovery.catalogue import CatalogueProduct, SeriesRef
from services.discovery.corrections import BookMetadata, Proposal, propose
from services.discovery.metadata_check import CorrectionPolicy, catalogue_metadata
from services.discovery.settings import DiscoverySettings

CATALOGUE = BookMetadata(
    title="The Way of Kings",
    authors=("Brandon Sanderson",),
    narrators=("Michael Kramer", "Kate Reading"),
    series=(("The Stormlight Archive", "1"),),
    published_year=2010,
    publisher="Macmillan Audio",
    language="English",
    isbn="978-1-4272-1050-4",
)


def fields(proposals: list[Proposal]) -> dict[str, tuple[str | None, str, str]]:
    return {p.field_name: (p.old_value, p.new_value, p.reason) for p in proposals}


def test_the_same_metadata_spelt_otherwise_is_no_correction() -> None:
    library = BookMetadata(
        title="The Way of Kings (Unabridged)",
        authors=("Sanderson, Brandon",),
        narrators=("Kate Reading", "michael kramer"),
        series=(("Stormlight Archive", "1.0"),),
        published_year=2010,
        publisher="MACMILLAN AUDIO",
        language="en",
        isbn="9781427210504",
    )
    assert propose(library, CATALOGUE) == []


def test_an_empty_field_is_filled_and_a_differing_one_corrected() -> None:
    library = BookMetadata(
        title="The Way of Kings",
        authors=("Brandon Sanderson",),
        narrators=("Michael Kramer", "Kate Reading"),
        series=(("The Stormlight Archive", "2"),),
        publisher="Tor",
    )
    assert fields(propose(library, CATALOGUE)) == {
        "series": (
            '[{"name": "The Stormlight Archive", "sequence": "2"}]',
            '[{"name": "The Stormlight Archive", "sequence": "1"}]',
            corrections.DIFFERS,
        ),
        "published_year": (None, "2010", corrections.EMPTY),
        "publisher": ("Tor", "Macmillan Audio", corrections.DIFFERS),
        "language": (None, "English", corrections.EMPTY),
        "isbn": (None, "978-1-4272-1050-4", corrections.EMPTY),
    }


def test_an_empty_catalogue_value_never_replaces_one() -> None:
    library = BookMetadata(title="Warbreaker", subtitle="A Novel", publisher="Tor",
                           authors=("Brandon Sanderson",), genres=("Fantasy",))  # fmt: skip
    assert propose(library, BookMetadata(title="Warbreaker")) == []


def test_a_series_the_catalogue_names_is_added_and_the_library_spelling_kept() -> None:
    catalogue = BookMetadata(series=(("Mistborn", "1"),))
    cosmere = BookMetadata(series=(("The Cosmere", "2.1"),))
    [added] = propose(cosmere, catalogue)
    assert added.new_value == (
        '[{"name": "Mistborn", "sequence": "1"}, {"name": "The Cosmere", "sequence": "2.1"}]'
    )
    renumbered = propose(BookMetadata(series=(("The Mistborn", "Book 2"),)), catalogue)
    assert [p.new_value for p in renumbered] == ['[{"name": "The Mistborn", "sequence": "1"}]']


def test_description_and_genres_are_filled_when_empty_never_rewritten() -> None:
    catalogue = BookMetadata(description="Roshar is a world of stone.", genres=("Fantasy",))
    assert propose(BookMetadata(description="Other words.", genres=("Epic",)), catalogue) == []
    assert fields(propose(BookMetadata(), catalogue)) == {
        "description": (None, "Roshar is a world of stone.", corrections.EMPTY),
        "genres": (None, '["Fantasy"]', corrections.EMPTY),
    }


def test_a_different_title_is_proposed_not_a_case_difference() -> None:
    catalogue = BookMetadata(title="The Final Empire")
    assert propose(BookMetadata(title="the final empire!"), catalogue) == []
    [retitled] = propose(BookMetadata(title="Mistborn"), catalogue)
    assert (retitled.old_value, retitled.new_value) == ("Mistborn", "The Final Empire")


def test_the_same_correction_found_again_has_the_same_id() -> None:
    first = propose(BookMetadata(), BookMetadata(publisher="Tor"))[0]
    again = propose(BookMetadata(), BookMetadata(publisher="Tor"))[0]
    other = propose(BookMetadata(), BookMetadata(publisher="Orbit"))[0]
    assert first.correction_id("li_1") == again.correction_id("li_1")
    assert first.correction_id("li_1") not in {
        other.correction_id("li_1"),
        first.correction_id("li_2"),
    }


def test_the_patch_body_has_the_servers_shapes() -> None:
    body = corrections.patch_metadata(
        [
            ("authors", '["Brandon Sanderson"]'),
            ("series", '[{"name": "Mistborn", "sequence": "1"}]'),
            ("narrators", '["Michael Kramer"]'),
            ("genres", '["Fantasy"]'),
            ("published_year", "2006"),
            ("publisher", "Tor"),
            ("subtitle", None),
        ]
    )
    assert body == {
        "authors": [{"name": "Brandon Sanderson"}],
        "series": [{"name": "Mistborn", "sequence": "1"}],
        "narrators": ["Michael Kramer"],
        "genres": ["Fantasy"],
        "publishedYear": "2006",
        "publisher": "Tor",
        "subtitle": None,
    }


def test_a_value_is_still_held_when_only_spelt_otherwise() -> None:
    library = BookMetadata(authors=("Sanderson, Brandon",), published_year=2006)
    assert corrections.holds(library, "authors", '["Brandon Sanderson"]')
    assert corrections.holds(library, "published_year", "2006")
    assert not corrections.holds(library, "publisher", "Tor")
    assert corrections.holds(library, "publisher", None)


def test_the_catalogue_side_names_the_primary_series_first_and_no_future_year() -> None:
    product = CatalogueProduct(
        asin="B0X", title="Secret History", sequence=None, sort=None,
        release_date=date(2200, 1, 1), content_delivery_type=None, format_type=None,
        sku_lite=None, authors=("Brandon Sanderson",),
        series=(SeriesRef("B0C", "The Cosmere", "3.5"), SeriesRef("B0M", "Mistborn", "3.5")),
        publication_name="Mistborn", language="english",
    )  # fmt: skip
    metadata = catalogue_metadata(product, date(2026, 12, 1))
    assert metadata.series[0] == ("Mistborn", "3.5")
    assert (metadata.published_year, metadata.language) == (None, "English")


def test_by_default_corrections_are_only_proposed() -> None:
    filled = Proposal("publisher", None, "Tor", corrections.EMPTY)
    changed = Proposal("publisher", "Orbit", "Tor", corrections.DIFFERS)
    assert not CorrectionPolicy().applies(filled)
    fill = CorrectionPolicy.of(["publisher"], [])
    assert fill.applies(filled)
    assert not fill.applies(changed)
    assert CorrectionPolicy.of([], ["all"]).applies(changed)


def test_a_misspelt_field_in_the_settings_is_refused() -> None:
    base = {"abs_url": "http://abs", "abs_api_key": "k", "database_url": "postgresql+asyncpg://u@127.0.0.1/x",
            "kafka_bootstrap_servers": "127.0.0.1:9"}  # fmt: skip
    with pytest.raises(ValueError, match="publsher"):
        DiscoverySettings(**base, correct_fill_empty=["publsher"])  # type: ignore[arg-type]
    assert DiscoverySettings(**base, correct_overwrite=["All"]).correct_overwrite == ["all"]  # type: ignore[arg-type]
