"""Gebühren and texts for a region: the most specific region wins, module by module for texts."""

import datetime as dt

from contracts.catalogue import RecordKind, Textmodul
from services.catalogue.resolution import CatalogueReadModel
from tests.services.catalogue.resolution.factory import (
    DAY,
    ELMSHORN,
    HAMBURG,
    HUND,
    KREIS,
    LAND,
    NEBEL,
    PASS,
    WYK,
    gebuehr,
    leistung,
    spezialisierung,
)


def model_with(*records) -> CatalogueReadModel:
    model = CatalogueReadModel()
    for record in records:
        model.put(record)
    return model


def amounts(model: CatalogueReadModel, ars: str, day: dt.date = DAY) -> list[int | None]:
    return [source.record.content.betrag_cent for source in model.fees(PASS, ars, as_of=day)]


def test_the_most_specific_regions_fees_win_and_nationwide_ones_hold_elsewhere() -> None:
    model = model_with(
        gebuehr("bund", "unter-24", 2280),
        gebuehr("bund", "ab-24", 3700),
        gebuehr("sh", "land", 4000, ars=LAND),
        gebuehr("nf", "kreis", 4500, ars=KREIS),
        gebuehr("bund", "hund", 100, leika_key=HUND),
    )
    assert amounts(model, HAMBURG) == [3700, 2280]  # by tenant and key
    assert amounts(model, ELMSHORN) == [4000]
    assert amounts(model, WYK) == [4500]
    assert amounts(model, "0") == [3700, 2280]
    sources = model.fees(PASS, WYK, as_of=DAY)
    assert sources[0].ars == KREIS and sources[0].inherited_from == KREIS
    nationwide = model.fees(PASS, HAMBURG, as_of=DAY)[0]
    assert nationwide.ars is None and nationwide.inherited_from == "0"
    assert model.fees(PASS, KREIS, as_of=DAY)[0].inherited_from is None


def test_fees_are_valid_on_the_asked_day_only_and_a_set_for_germany_counts_as_nationwide() -> None:
    model = model_with(
        gebuehr("bund", "alt", 2280, ars="0", gueltig_bis=dt.date(2024, 12, 31)),
        gebuehr("bund", "neu", 3700, gueltig_ab=dt.date(2025, 1, 1)),
        gebuehr("nf", "kreis", 4500, ars=KREIS, gueltig_ab=dt.date(2026, 1, 1)),
    )
    assert amounts(model, WYK, dt.date(2024, 12, 31)) == [2280]
    assert amounts(model, WYK, dt.date(2025, 1, 1)) == [3700]
    assert amounts(model, WYK, dt.date(2026, 1, 1)) == [4500]
    assert model.fees("99999999999999", WYK, as_of=DAY) == []


def test_a_removed_fee_is_gone() -> None:
    kreis_fee = gebuehr("nf", "kreis", 4500, ars=KREIS)
    model = model_with(gebuehr("bund", "national", 3700), kreis_fee)
    assert model.remove(RecordKind.GEBUEHR, kreis_fee.record_id)
    assert amounts(model, WYK) == [3700]


STAMMTEXT = {
    Textmodul.VOLLTEXT: {"de": "Bundesweiter Text.", "en": "Nationwide text."},
    Textmodul.FRISTEN: {"de": "Keine Frist."},
    Textmodul.UNTERLAGEN: {"de": "Ausweis.", "en": "ID card."},
}


def texts_model() -> CatalogueReadModel:
    return model_with(
        leistung(PASS, texte=STAMMTEXT),
        spezialisierung("sh", "land", LAND, {Textmodul.FRISTEN: {"de": "Zwei Wochen in Schleswig-Holstein."}}),
        spezialisierung(
            "nf",
            "kreis",
            KREIS,
            {Textmodul.VOLLTEXT: {"de": "Im Kreis Nordfriesland: beim Amt."}},
            bezeichnung={"de": "Reisepass (Nordfriesland)", "en": "Passport (Nordfriesland)"},
        ),
        spezialisierung("wyk", "wyk", WYK, {Textmodul.VOLLTEXT: {"de": "In Wyk: im Rathaus."}}),
    )


def test_texts_are_overlaid_module_by_module_by_the_most_specific_spezialisierung() -> None:
    model = texts_model()
    wyk = model.texts(PASS, WYK)
    assert wyk is not None
    assert wyk.texte[Textmodul.VOLLTEXT].text == "In Wyk: im Rathaus."
    assert wyk.texte[Textmodul.VOLLTEXT].source.ars == WYK
    assert wyk.texte[Textmodul.FRISTEN].text == "Zwei Wochen in Schleswig-Holstein."
    assert wyk.texte[Textmodul.UNTERLAGEN].text == "Ausweis." and wyk.texte[Textmodul.UNTERLAGEN].source.ars is None
    assert wyk.bezeichnung.text == "Reisepass (Nordfriesland)" and wyk.bezeichnung.source.ars == KREIS
    assert list(wyk.texte) == [Textmodul.VOLLTEXT, Textmodul.UNTERLAGEN, Textmodul.FRISTEN]

    nebel = model.texts(PASS, NEBEL)
    assert nebel is not None and nebel.texte[Textmodul.VOLLTEXT].text == "Im Kreis Nordfriesland: beim Amt."
    hamburg = model.texts(PASS, HAMBURG)
    assert hamburg is not None and hamburg.texte[Textmodul.VOLLTEXT].text == "Bundesweiter Text."
    assert hamburg.bezeichnung.text == f"Leistung {PASS}" and hamburg.bezeichnung.source.ars is None


def test_language_falls_back_to_german_within_the_most_specific_source() -> None:
    model = texts_model()
    hamburg = model.texts(PASS, HAMBURG, "en")
    assert hamburg is not None
    assert (hamburg.texte[Textmodul.VOLLTEXT].text, hamburg.texte[Textmodul.VOLLTEXT].language) == (
        "Nationwide text.",
        "en",
    )
    assert hamburg.texte[Textmodul.FRISTEN].language == "de"
    wyk = model.texts(PASS, WYK, "en")
    assert wyk is not None
    # The regional German text says what holds in Wyk; the national English one would not.
    assert (wyk.texte[Textmodul.VOLLTEXT].text, wyk.texte[Textmodul.VOLLTEXT].language) == ("In Wyk: im Rathaus.", "de")
    assert wyk.bezeichnung.text == "Passport (Nordfriesland)"
    simple = model.texts(PASS, HAMBURG, "en-x-simple")
    assert simple is not None and simple.texte[Textmodul.UNTERLAGEN].text == "ID card."


def test_a_later_spezialisierung_for_the_same_region_wins_and_texts_need_a_published_leistung() -> None:
    model = texts_model()
    model.put(spezialisierung("other", "wyk-2", WYK, {Textmodul.VOLLTEXT: {"de": "Neu."}}, minute=5))
    wyk = model.texts(PASS, WYK)
    assert wyk is not None and wyk.texte[Textmodul.VOLLTEXT].text == "Neu."
    assert model.texts(HUND, WYK) is None
