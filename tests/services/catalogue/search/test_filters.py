"""Filters and facet counts: kind, online, region, Themenfeld; counts over all hits, disjunctive."""

from services.catalogue.search import SearchIndex
from services.catalogue.search.filters import Filters
from tests.services.catalogue.search.corpus import LEISTUNGEN, document, ids

CORPUS = [
    document(
        "kg", "Kindergeld", body="Geld", facets={"themenfeld": ["Familie"], "lebenslage": ["Geburt"]}, online=True
    ),
    document("eg", "Elterngeld", body="Geld", facets={"themenfeld": ["Familie"], "lebenslage": ["Geburt"]}),
    document("wg", "Wohngeld", body="Geld", facets={"themenfeld": ["Wohnen"], "lebenslage": ["Finanzen"]}, online=True),
    document("bkg", "Baukindergeld", body="Geld", facets={"themenfeld": ["Wohnen"]}, regions=["05"]),
    document("lkg", "Landeskindergeld", body="Geld", facets={"themenfeld": ["Familie"]}, regions=["091620000000"]),
    document("amt", "Kasse der Stadt", body="Geld", kind="organisationseinheit", regions=["05315"]),
    document("geld", "Geld"),
]


def test_facet_counts_cover_every_hit_not_just_the_page() -> None:
    index = SearchIndex(CORPUS)
    result = index.search("geld", limit=1)
    assert result.total == 7 and len(result.hits) == 1
    assert result.facets["kind"] == {"leistung": 6, "organisationseinheit": 1}
    assert result.facets["online"] == {"false": 5, "true": 2}
    assert result.facets["themenfeld"] == {"Familie": 3, "Wohnen": 2}
    assert result.facets["lebenslage"] == {"Geburt": 2, "Finanzen": 1}


def test_values_of_one_key_are_alternatives_keys_are_all_required() -> None:
    index = SearchIndex(CORPUS)
    assert set(ids(index.search("geld", filters={"themenfeld": ["Familie", "Wohnen"]}).hits)) == {
        "kg",
        "eg",
        "wg",
        "bkg",
        "lkg",
    }
    assert set(ids(index.search("geld", filters={"themenfeld": ["Familie"], "online": ["true"]}).hits)) == {"kg"}
    assert ids(index.search("geld", filters={"kind": ["organisationseinheit"]}).hits) == ["amt"]
    assert index.search("geld", filters={"themenfeld": ["Unbekannt"]}).total == 0
    assert index.search("geld", filters={"themenfeld": []}).total == 7, "an empty list filters nothing"


def test_counts_of_a_filtered_key_show_the_other_choices() -> None:
    index = SearchIndex(CORPUS)
    result = index.search("geld", filters={"themenfeld": ["Familie"]})
    assert result.total == 3
    assert result.facets["themenfeld"] == {"Familie": 3, "Wohnen": 2}, "counted without the Themenfeld filter"
    assert result.facets["online"] == {"false": 2, "true": 1}, "counted with it"


def test_region_filter_takes_containing_and_contained_regions() -> None:
    index = SearchIndex(CORPUS)

    def found(*ars: str) -> set[str]:
        return set(ids(index.search("geld", filters={"region": list(ars)}).hits))

    everywhere = {"kg", "eg", "wg", "geld"}
    assert found("053150000000") == everywhere | {"bkg", "amt"}, "a Gemeinde in NRW, in Köln's Kreis"
    assert found("05") == everywhere | {"bkg", "amt"}, "the Land takes what lies in it"
    assert found("09") == everywhere | {"lkg"}
    assert found("0") == set(ids(index.search("geld").hits)), "Germany takes everything"
    assert found("06") == everywhere


def test_online_filter_is_case_insensitive() -> None:
    index = SearchIndex(CORPUS)
    assert set(ids(index.search("geld", filters={"online": ["TRUE"]}).hits)) == {"kg", "wg"}


def test_blank_query_browses_by_title_with_facets() -> None:
    index = SearchIndex(CORPUS)
    result = index.search("", filters={"themenfeld": ["Wohnen"]}, limit=10)
    assert [hit.title for hit in result.hits] == ["Baukindergeld", "Wohngeld"]
    assert result.total == 2
    assert result.facets["themenfeld"] == {"Familie": 3, "Wohnen": 2}
    assert index.search("   ", limit=3, offset=5).total == len(CORPUS)
    assert [hit.id for hit in index.search("   ", limit=3, offset=5).hits] == ["lkg", "wg"]


def test_pagination() -> None:
    index = SearchIndex(LEISTUNGEN)
    every = ids(index.search("anmeldung", limit=100).hits)
    assert len(every) >= 3
    pages = [ids(index.search("anmeldung", limit=1, offset=offset).hits) for offset in range(len(every))]
    assert [page[0] for page in pages] == every
    assert index.search("anmeldung", limit=1, offset=len(every)).hits == ()
    assert len(index.search("anmeldung", limit=10_000).hits) <= 100
    assert index.search("anmeldung", limit=-5).hits == ()


def test_filters_are_bounded() -> None:
    parsed = Filters.parse({f"key{n}": ["x" * 1000] * 500 for n in range(100)})
    assert len(parsed.wanted) == 20
    assert all(len(pairs) == 1 and len(next(iter(pairs))[1]) == 200 for pairs in parsed.wanted.values())
