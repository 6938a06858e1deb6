"""The municipal administrations importer: the real 2011 file against the 2025 register, edge cases,
the Gemeinden the file lacks, and the national rules for the municipal LeiKa types."""

from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.catalogue.importers.administrations import (
    MUNICIPAL_LEIKA_TYPE_PARTS,
    AdministrationRow,
    ParsedAdministration,
    SkippedAdministration,
    administration_key,
    administrations_for_missing,
    municipal_leika_typen,
    national_rules,
    parse_administration_lines,
    parse_administrations,
    split_street,
)
from services.catalogue.importers.leika import ParsedLeistung, parse_leika
from services.catalogue.regions.register import RegisterRecord, parse_register
from tests.services.catalogue.resolution.national import (
    ADMINISTRATIONS_2011,
    LEIKA,
    REGISTER_2025,
    Gemeinde,
    register_gemeinden,
)

HEADER = ",".join(
    [
        "ags",
        "bundesland",
        "kreis",
        "gemeindetyp",
        "plz_gemeindename",
        "anschrift_der_gemeinde",
        "strasse",
        "plz_ort",
        "einwohner",
        "flaeche_km2",
        "stand",
    ]
)


@pytest.fixture(scope="module")
def gemeinden() -> list[Gemeinde]:
    return register_gemeinden(REGISTER_2025)


@pytest.fixture(scope="module")
def rows(gemeinden: list[Gemeinde]) -> list[AdministrationRow]:
    ars_by_ags = {gemeinde.ags: gemeinde.ars for gemeinde in gemeinden}
    return list(parse_administrations(ADMINISTRATIONS_2011, ars_by_ags, register={g.ags: g for g in gemeinden}))


def parsed_by_ags(rows: list[AdministrationRow]) -> dict[str, ParsedAdministration]:
    return {row.ags: row for row in rows if isinstance(row, ParsedAdministration)}


def test_the_ags_to_ars_mapping_follows_the_record_layout(gemeinden: list[Gemeinde]) -> None:
    """Read here by the Datensatzbeschreibung's positions; the regions package reads it on its own."""
    by_regions_package = {
        record.ags: record.ars
        for record in parse_register(REGISTER_2025.read_bytes().splitlines())
        if isinstance(record, RegisterRecord) and record.level == "gemeinde"
    }
    assert len(gemeinden) == 10_953
    assert {gemeinde.ags: gemeinde.ars for gemeinde in gemeinden} == by_regions_package
    wyk = next(gemeinde for gemeinde in gemeinden if gemeinde.ags == "01054164")
    assert wyk.ars == "010545488164" and wyk.name == "Wyk auf Föhr, Stadt" and wyk.type_text == "Stadt"


def test_the_real_file_gives_an_administration_for_every_gemeinde_that_still_exists(
    rows: list[AdministrationRow],
) -> None:
    parsed = parsed_by_ags(rows)
    skipped = [row for row in rows if isinstance(row, SkippedAdministration)]
    assert len(rows) == 11_270
    assert len(parsed) == 10_594
    assert Counter(row.reason for row in skipped) == {"unknown-ags": 676}
    assert all(row.line is not None and row.ags is not None for row in skipped)
    merged = next(row for row in skipped if row.ags == "01059014")  # Brebel, part of Boren since 2013
    assert "01059014" in merged.detail and "Brebel" in merged.detail
    arts = Counter(row.organisationseinheit.art for row in parsed.values())
    assert arts == {
        "Gemeindeverwaltung": 8_578,
        "Stadtverwaltung": 2_014,
        "Verwaltung eines gemeindefreien Gebiets": 2,
    }
    assert all(row.key == administration_key(row.ags) == f"gv-{row.ags}" for row in parsed.values())
    assert all(
        row.organisationseinheit.ars == row.organisationseinheit.verwaltung_von
        and len(row.organisationseinheit.verwaltung_von or "") == 12
        for row in parsed.values()
    )
    assert len({row.organisationseinheit.verwaltung_von for row in parsed.values()}) == len(parsed)


def test_names_and_addresses_from_the_real_file(rows: list[AdministrationRow]) -> None:
    parsed = parsed_by_ags(rows)
    flensburg = parsed["01001000"].organisationseinheit
    assert flensburg.name == {"de": "Stadtverwaltung Flensburg"} and flensburg.art == "Stadtverwaltung"
    assert flensburg.verwaltung_von == "010010000000" and flensburg.anschrift is not None
    assert (flensburg.anschrift.strasse, flensburg.anschrift.hausnummer) == ("Rathausplatz", "1")
    assert (flensburg.anschrift.postleitzahl, flensburg.anschrift.ort, flensburg.anschrift.zusatz) == (
        "24937",
        "Flensburg",
        None,
    )
    # Pokrent is run by the Amt Lützow-Lübstorf, in Lützow: that office is where citizens go.
    pokrent = parsed["13074064"].organisationseinheit
    assert pokrent.name == {"de": "Gemeindeverwaltung Pokrent"} and pokrent.anschrift is not None
    assert (pokrent.anschrift.zusatz, pokrent.anschrift.ort, pokrent.anschrift.strasse) == (
        "Amt Lützow-Lübstorf",
        "Lützow",
        "Dorfmitte",
    )
    # A Postfach and no street; a Markt is a Gemeinde.
    pleinfeld = parsed["09577161"].organisationseinheit
    assert pleinfeld.name == {"de": "Gemeindeverwaltung Pleinfeld"} and pleinfeld.anschrift is not None
    assert pleinfeld.anschrift.strasse is None and pleinfeld.anschrift.zusatz is None
    stadtbergen = parsed["09772202"].organisationseinheit
    assert stadtbergen.anschrift is not None and stadtbergen.anschrift.zusatz == "Postfach 1108"
    # "0" is no street.
    halle = parsed["03456008"].organisationseinheit
    assert halle.anschrift is not None and halle.anschrift.strasse is None and halle.anschrift.ort == "Halle"
    lohheide = parsed["03351501"].organisationseinheit
    assert lohheide.name == {"de": "Verwaltung des gemeindefreien Bezirks Lohheide"}
    assert lohheide.anschrift is not None and lohheide.anschrift.zusatz == "Gemeindefreier Bezirk Lohheide"


def test_the_registers_current_name_and_status_win_over_2011(gemeinden: list[Gemeinde]) -> None:
    ars_by_ags = {gemeinde.ags: gemeinde.ars for gemeinde in gemeinden}
    lines = [
        HEADER,
        "03454057,Niedersachsen,Emsland,Kreisangehörige Gemeinde,49757 Werlte,Gemeinde Werlte,0,49757 Werlte,9562,"
        "63.75,31.12.2011",
    ]
    [old] = parse_administration_lines(lines, ars_by_ags)
    [new] = parse_administration_lines(lines, ars_by_ags, register={g.ags: g for g in gemeinden})
    assert isinstance(old, ParsedAdministration) and isinstance(new, ParsedAdministration)
    assert old.organisationseinheit.name == {"de": "Gemeindeverwaltung Werlte"}
    assert new.organisationseinheit.name == {"de": "Stadtverwaltung Werlte"}
    assert new.organisationseinheit.anschrift == old.organisationseinheit.anschrift


def test_gemeinden_missing_from_2011_get_an_administration_from_the_register(
    rows: list[AdministrationRow], gemeinden: list[Gemeinde]
) -> None:
    covered = set(parsed_by_ags(rows))
    missing = list(administrations_for_missing(gemeinden, covered))
    made = [row for row in missing if isinstance(row, ParsedAdministration)]
    uninhabited = [row for row in missing if isinstance(row, SkippedAdministration)]
    assert (len(missing), len(made), len(uninhabited)) == (359, 159, 200)
    assert {row.reason for row in uninhabited} == {"uninhabited"}
    assert all(row.line is None and row.organisationseinheit.anschrift is None for row in made)
    mittelangeln = next(row for row in made if row.ags == "01059185")
    assert mittelangeln.key == "gv-01059185"
    assert mittelangeln.organisationseinheit.name == {"de": "Gemeindeverwaltung Mittelangeln"}
    assert mittelangeln.organisationseinheit.verwaltung_von == "010595949185"
    assert len(covered) + len(made) + len(uninhabited) == len(gemeinden)


def lines_with(*rows: str) -> list[str]:
    return [HEADER, *rows]


ARS_BY_AGS = {"01001000": "010010000000", "01054164": "010545488164"}


def one(rows: Iterator[AdministrationRow]) -> AdministrationRow:
    [row] = list(rows)
    return row


def test_edge_cases_are_skipped_with_reasons() -> None:
    rows = list(
        parse_administration_lines(
            lines_with(
                "0100100,SH,K,Stadt,24937 Flensburg,Stadt Flensburg,Rathausplatz 1,24937 Flensburg,1,1,x",
                "01001000,SH,K,Stadt,24937 Flensburg,Stadt Flensburg,Rathausplatz 1,Flensburg,1,1,x",
                "01001000,SH,K,Stadt,24937 Flensburg,Stadt Flensburg,Rathausplatz 1,24937 Flensburg,1,1,x",
                "01001000,SH,K,Stadt,24937 Flensburg,Stadt Flensburg,Rathausplatz 1,24937 Flensburg,1,1,x",
                "01054164,SH,K,Stadt,25938,Stadt Wyk,Hafenstr. 23,25938 Wyk auf Föhr,1,1,x",
                "01054164,too,few,fields",
                "",
                "09999999,SH,K,Gemeinde,12345 Nirgendwo,Gemeinde Nirgendwo,Weg 1,12345 Nirgendwo,1,1,x",
            ),
            ARS_BY_AGS,
        )
    )
    assert [(row.line, type(row).__name__, getattr(row, "reason", None)) for row in rows] == [
        (2, "SkippedAdministration", "invalid-ags"),
        (3, "SkippedAdministration", "malformed-address"),
        (4, "ParsedAdministration", None),
        (5, "SkippedAdministration", "duplicate-ags"),
        (6, "SkippedAdministration", "missing-name"),
        (7, "SkippedAdministration", "invalid-csv"),
        (9, "SkippedAdministration", "unknown-ags"),
    ]
    assert "line 4" in rows[3].detail if isinstance(rows[3], SkippedAdministration) else False


def test_a_malformed_address_leaves_the_gemeinde_to_the_register() -> None:
    [row] = parse_administration_lines(
        lines_with("01001000,SH,K,Stadt,24937 Flensburg,Stadt Flensburg,Rathausplatz 1,,1,1,x"), ARS_BY_AGS
    )
    assert isinstance(row, SkippedAdministration) and row.reason == "malformed-address"
    register = [Gemeinde("010010000000", "01001000", "Flensburg, Stadt", "Kreisfreie Stadt")]
    [made] = administrations_for_missing(register, covered_ags=set())
    assert isinstance(made, ParsedAdministration) and made.organisationseinheit.name == {
        "de": "Stadtverwaltung Flensburg"
    }


def test_a_bad_header_stops_the_file_with_one_reason() -> None:
    [row] = parse_administration_lines(["ags,name", "01001000,Flensburg"], ARS_BY_AGS)
    assert isinstance(row, SkippedAdministration) and row.reason == "invalid-header" and "strasse" in row.detail
    assert list(parse_administration_lines([], ARS_BY_AGS)) == []


def test_quoted_fields_with_commas_and_a_bom_free_header() -> None:
    row = one(
        parse_administration_lines(
            lines_with(
                '01054164,SH,Nordfriesland,Stadt,"25938 Wyk auf Föhr, Stadt","Amt Föhr-Amrum",'
                '"Hafenstraße 23 (Rathaus, 1. OG)",25938 Wyk auf Föhr,4000,8.2,31.12.2011'
            ),
            ARS_BY_AGS,
        )
    )
    assert isinstance(row, ParsedAdministration)
    assert row.organisationseinheit.name == {"de": "Stadtverwaltung Wyk auf Föhr"}
    anschrift = row.organisationseinheit.anschrift
    assert anschrift is not None
    assert (anschrift.strasse, anschrift.hausnummer, anschrift.postleitzahl, anschrift.ort) == (
        "Hafenstraße",
        "23",
        "25938",
        "Wyk auf Föhr",
    )
    assert anschrift.zusatz == "Amt Föhr-Amrum, Rathaus, 1. OG"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rathausplatz 1", ("Rathausplatz", "1", [])),
        ("Teichstr. 5 a", ("Teichstr.", "5 a", [])),
        ("Schneewiesenstr.21", ("Schneewiesenstr.", "21", [])),
        ("Chausseestr.33b", ("Chausseestr.", "33b", [])),
        ("Neustädter Str.10-12", ("Neustädter Str.", "10-12", [])),
        ("Mühlenstraße 5/6 (Rathaus)", ("Mühlenstraße", "5/6", ["Rathaus"])),
        ("An 44 Nr.31", ("An 44", "31", [])),
        ("Straße des 17. Juni 12", ("Straße des 17. Juni", "12", [])),
        ("Kaiser-Wilhelm-Platz", ("Kaiser-Wilhelm-Platz", None, [])),
        ("- Rathaus -", ("Rathaus", None, [])),
        ("0", (None, None, [])),
        ("", (None, None, [])),
        ("Postfach 1108", (None, None, ["Postfach 1108"])),
        ("Postfach", (None, None, [])),
        ("Burgeffstr. 30/Le-Pontet-Platz", ("Burgeffstr. 30/Le-Pontet-Platz", None, [])),
    ],
)
def test_split_street(text: str, expected: tuple[str | None, str | None, list[str]]) -> None:
    assert split_street(text) == expected


street_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüßABCDEFGHIJKLMNOPQRSTUVWXYZ.-", min_size=1, max_size=12)


@given(
    st.lists(street_words, min_size=1, max_size=3).map(" ".join),
    st.integers(1, 999),
    st.sampled_from(["", "a", " b", "-12", "/3"]),
)
def test_split_street_takes_the_house_number_off_any_street(street: str, number: int, suffix: str) -> None:
    street = street.strip(" -")
    assume(any(character.isalpha() for character in street) and not street.endswith("-"))
    assume(not street.lower().startswith("postfach") and street.split()[-1] not in {"Nr", "Nr."})
    text = f"{street} {number}{suffix}"
    assert split_street(text) == (street, f"{number}{suffix}", [])


def test_national_rules_cover_the_municipal_leika_types_of_the_real_file() -> None:
    typen = [row.leistung.leika_typ for row in parse_leika(LEIKA) if isinstance(row, ParsedLeistung)]
    assert set(municipal_leika_typen(typen)) == {"1, 2/3", "2/3", "5", "6"}
    assert "3" in MUNICIPAL_LEIKA_TYPE_PARTS and "4" not in MUNICIPAL_LEIKA_TYPE_PARTS
    [(key, rule)] = national_rules(typen)
    assert key == "gemeindeverwaltung-1"
    assert (rule.ars, rule.ziel, rule.rolle, rule.organisationseinheit) == (
        "0",
        "gemeindeverwaltung",
        "zustaendige_stelle",
        None,
    )
    assert rule.leistungen.leika_typen == ["1, 2/3", "2/3", "5", "6"]
    municipal = sum(1 for typ in typen if typ in {"1, 2/3", "2/3", "5", "6"})
    assert 3_600 <= municipal <= 3_700


def test_national_rules_split_more_than_twenty_types_and_skip_the_others() -> None:
    typen = [f"{number}, 2/3" for number in range(30)] + ["1", "4", "1, 2", None, "", "44"]
    rules = national_rules(typen)
    assert [key for key, _ in rules] == ["gemeindeverwaltung-1", "gemeindeverwaltung-2"]
    covered = [typ for _, rule in rules for typ in rule.leistungen.leika_typen or []]
    assert len(covered) == 30 and "1" not in covered and "1, 2" not in covered
    assert national_rules([]) == []
