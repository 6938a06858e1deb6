"""The search documents built from the catalogue's records."""

from contracts.catalogue import Anschrift, Leistung, Organisationseinheit, Textmodul, Verweis
from services.catalogue.search import SearchIndex, leistung_document, organisationseinheit_document
from services.catalogue.search.documents import MAX_BODY_CHARACTERS


def test_leistung_document() -> None:
    leistung = Leistung(
        leika_key="99008001000000",
        bezeichnung={"de": "Personalausweis", "en": "Identity card"},
        kurzbezeichnungen=["Perso-Antrag"],
        leika_typ="1, 2/3",
        texte={
            Textmodul.VOLLTEXT: {"de": "Der Ausweis weist Sie aus."},
            Textmodul.KURZTEXT: {"en": "Only English"},
        },
        rechtsgrundlagen=[Verweis(titel="Personalausweisgesetz (PAuswG)")],
        themenfeld="Querschnitt",
        lebenslage="Querschnitt Bürger",
        ozg_leistung="Personalausweis",
        ozg_id="10119",
        suchbegriffe=["Ausweisdokument"],
    )
    document = leistung_document("rec-1", leistung, online=True, regions=["05"])
    assert document.id == "rec-1" and document.kind == "leistung"
    assert document.title == "Personalausweis"
    assert list(document.alt_titles) == ["Perso-Antrag", "Identity card"]
    assert list(document.keywords) == ["Ausweisdokument"]
    assert document.taxonomy_text.split("\n") == ["Personalausweis", "Querschnitt Bürger", "Querschnitt"]
    assert "Der Ausweis weist Sie aus." in document.body and "PAuswG" in document.body
    assert "Only English" in document.body, "a module without German falls back to its language"
    assert document.facets == {
        "themenfeld": ["Querschnitt"],
        "lebenslage": ["Querschnitt Bürger"],
        "leika_typ": ["1", "2/3"],
    }
    assert document.online and list(document.regions or ()) == ["05"]
    assert document.payload == {"leikaKey": "99008001000000", "ozgId": "10119"}
    index = SearchIndex([document])
    assert index.search("Identity card").total == 1
    assert index.search("Ausweisdokument").total == 1
    assert index.search("PAuswG").total == 1


def test_minimal_leistung_is_relevant_everywhere() -> None:
    document = leistung_document("r", Leistung(leika_key="X1", bezeichnung={"en": "Only English"}))
    assert document.title == "Only English"
    assert document.regions is None and document.facets == {} and not document.online


def test_organisationseinheit_document() -> None:
    oe = Organisationseinheit(
        name={"de": "Bürgeramt Mitte"},
        kurzname="BA Mitte",
        art="Bürgeramt",
        ars="110000000000",
        verwaltung_von="110000000000",
        anschrift=Anschrift(strasse="Karl-Marx-Allee", hausnummer="31", postleitzahl="10178", ort="Berlin"),
    )
    document = organisationseinheit_document("oe-1", oe)
    assert document.kind == "organisationseinheit"
    assert document.title == "Bürgeramt Mitte" and list(document.alt_titles) == ["BA Mitte"]
    assert document.body == "Karl-Marx-Allee 31 10178 Berlin"
    assert list(document.regions or ()) == ["110000000000"]
    assert document.facets == {"art": ["Bürgeramt"]}
    assert document.payload == {"ars": "110000000000", "ort": "Berlin"}
    index = SearchIndex([document])
    assert index.search("10178").total == 1
    assert index.search("buergeramt").total == 1


def test_body_is_cut() -> None:
    leistung = Leistung(
        leika_key="X2",
        bezeichnung={"de": "Lang"},
        texte={Textmodul.VOLLTEXT: {"de": "wort " * 9_000}, Textmodul.HINWEISE: {"de": "mehr " * 9_000}},
    )
    assert len(leistung_document("r", leistung).field_texts()[3]) == MAX_BODY_CHARACTERS
