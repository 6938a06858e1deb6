"""The LeiKa CSV parser: the real file, and hand-written rows for every edge."""

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.catalogue import Textmodul
from services.catalogue.importers.leika import (
    ParsedLeistung,
    SkippedRow,
    default_leika_path,
    local_leika_key,
    parse_leika,
    parse_leika_lines,
    parse_rechtsgrundlagen,
)

LEIKA = default_leika_path()
HEADER = "leika_key,name,leika_typ,ozg_id,ozg_leistung,lebenslage,themenfeld,rechtsgrundlage,description"
real_file = pytest.mark.skipif(not LEIKA.exists(), reason=f"{LEIKA} is not there")


def parse(*rows: str) -> list[ParsedLeistung | SkippedRow]:
    return list(parse_leika_lines([HEADER, *rows]))


@real_file
def test_the_real_file() -> None:
    rows = list(parse_leika(LEIKA))
    parsed = [row for row in rows if isinstance(row, ParsedLeistung)]
    skipped = [row for row in rows if isinstance(row, SkippedRow)]
    assert len(rows) == 5_251
    assert len(parsed) == 5_248
    assert sum(row.local_key for row in parsed) == 435, "436 rows 'nicht im LeiKa', one a repeat"
    assert len({row.leistung.leika_key for row in parsed}) == 5_248
    assert Counter(row.reason for row in skipped) == {"invalid-key": 2, "duplicate-key": 1}
    assert {row.line for row in skipped if row.reason == "invalid-key"} == {5_251, 5_252}
    first = parsed[0]
    assert first.line == 2 and first.local_key
    assert first.leistung.bezeichnung == {"de": "(Baumuster-) Prüfung von Gefahrengutverpackungen"}
    by_key = {row.leistung.leika_key: row.leistung for row in parsed}
    zpo = by_key["99046029000000"]
    assert zpo.leika_typ == "2/3" and zpo.ozg_id == "10569" and zpo.themenfeld == "Querschnitt"
    assert zpo.ozg_leistung == "Schuldnerverzeichnis" and zpo.lebenslage == "Querschnitt Unternehmen"
    assert [(v.titel, str(v.url)) for v in zpo.rechtsgrundlagen] == [
        ("§ 882g Zivilprozessordnung (ZPO)", "http://www.gesetze-im-internet.de/zpo/__882g.html")
    ]
    assert sum(len(row.leistung.rechtsgrundlagen) for row in parsed) == 5_022


@real_file
def test_local_keys_are_stable_between_imports() -> None:
    def local_keys() -> list[str]:
        return [
            row.leistung.leika_key for row in parse_leika(LEIKA) if isinstance(row, ParsedLeistung) and row.local_key
        ]

    first = local_keys()
    assert first == local_keys()
    assert all(key.startswith("X") and len(key) == 13 for key in first)


def test_local_key_depends_on_name_and_ozg_id_only() -> None:
    assert local_leika_key("Anmeldung Abfallbehälter", "10110") == local_leika_key("Anmeldung  Abfallbehälter", "10110")
    assert local_leika_key("Anmeldung Abfallbehälter", "10110") != local_leika_key("Anmeldung Abfallbehälter", "10111")
    assert local_leika_key("A", None) == local_leika_key("A", "")
    (a, b) = parse(
        "nicht im LeiKa,Anmeldung Abfallbehälter,4,10110,Abfallentsorgung,Wohnen & Umzug,Bauen & Wohnen,,",
        ",Abmeldung Abfallbehälter,4,10110,Abfallentsorgung,Wohnen & Umzug,Bauen & Wohnen,,",
    )
    assert isinstance(a, ParsedLeistung) and isinstance(b, ParsedLeistung)
    assert a.leistung.leika_key == local_leika_key("Anmeldung Abfallbehälter", "10110")
    assert b.local_key and b.leistung.leika_key != a.leistung.leika_key


def test_a_full_row() -> None:
    (row,) = parse(
        '99107023000000,Wohngeld,"1, 2/3",10092,Wohngeld,Finanzielle Unterstützung,Arbeit & Ruhestand,'
        '"§ 27 Wohngeldgesetz (WoGG) [http://www.gesetze-im-internet.de/wogg/__27.html], Wohngeldverordnung",'
        "Zuschuss zur Miete."
    )
    assert isinstance(row, ParsedLeistung) and not row.local_key
    leistung = row.leistung
    assert leistung.leika_key == "99107023000000"
    assert leistung.leika_typ == "1, 2/3"
    assert leistung.texte == {Textmodul.VOLLTEXT: {"de": "Zuschuss zur Miete."}}
    assert [v.titel for v in leistung.rechtsgrundlagen] == ["§ 27 Wohngeldgesetz (WoGG)", "Wohngeldverordnung"]
    assert leistung.rechtsgrundlagen[1].url is None


def test_empty_cells_are_absent_values() -> None:
    (row,) = parse("99000000000001,Name,,,,,,,")
    assert isinstance(row, ParsedLeistung)
    leistung = row.leistung
    assert leistung.leika_typ is leistung.ozg_id is leistung.themenfeld is leistung.ozg_leistung is None
    assert leistung.texte == {} and leistung.rechtsgrundlagen == []


def test_bad_rows_are_skipped_with_reasons_and_their_lines() -> None:
    rows = parse(
        "99000000000001,Erste,1,1,,,,,",
        "3233,Test 4,44,10513,,,,,",
        "99000000000001,Wieder,1,1,,,,,",
        ",,1,1,,,,,",
        "99000000000002,Zu wenige Felder",
        '99000000000003,"Mehrzeiliger',
        'Name",1,1,,,,,',
        "99000000000004," + "x" * 600 + ",1,1,,,,,",
        "",
        "99000000000005,Letzte,1,1,,,,,",
    )
    summary = [(row.line, row.reason if isinstance(row, SkippedRow) else "ok") for row in rows]
    assert summary == [
        (2, "ok"),
        (3, "invalid-key"),
        (4, "duplicate-key"),
        (5, "missing-name"),
        (6, "invalid-csv"),
        (7, "ok"),
        (9, "invalid-row"),
        (11, "ok"),
    ]
    duplicate = rows[2]
    assert isinstance(duplicate, SkippedRow) and "line 2" in duplicate.detail
    multiline = rows[5]
    assert isinstance(multiline, ParsedLeistung) and multiline.leistung.bezeichnung == {"de": "Mehrzeiliger Name"}


def test_header_problems() -> None:
    assert list(parse_leika_lines([])) == []
    (row,) = parse_leika_lines(["leika_key,name", "1,2"])
    assert isinstance(row, SkippedRow) and row.reason == "invalid-header" and "ozg_id" in row.detail


def test_byte_order_mark_and_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "leika.csv"
    path.write_bytes(("\ufeff" + HEADER + "\r\n99000000000001,Name,1,1,,,,,\r\n").encode())
    (row,) = parse_leika(path)
    assert isinstance(row, ParsedLeistung) and row.leistung.bezeichnung == {"de": "Name"}


def test_rechtsgrundlagen() -> None:
    verweise = parse_rechtsgrundlagen(
        "§ 43 Aufenthaltsgesetz (AufenthG) [http://www.gesetze-im-internet.de/aufenthg_2004/__43.html], "
        "§ 5 Integrationskursverordnung (IntV) [www.gesetze-im-internet.de/intv/__5.html], "
        "Gesetz zu dem Zollübereinkommen von Brüssel vom 6. Dezember 1961 [kein link]; Ohne Link"
    )
    assert [(v.titel, v.url and str(v.url)) for v in verweise] == [
        ("§ 43 Aufenthaltsgesetz (AufenthG)", "http://www.gesetze-im-internet.de/aufenthg_2004/__43.html"),
        ("§ 5 Integrationskursverordnung (IntV)", "https://www.gesetze-im-internet.de/intv/__5.html"),
        ("Gesetz zu dem Zollübereinkommen von Brüssel vom 6. Dezember 1961", None),
        ("Ohne Link", None),
    ]
    assert parse_rechtsgrundlagen("") == []
    assert parse_rechtsgrundlagen("asdqw") == [parse_rechtsgrundlagen("asdqw")[0]]
    assert [v.titel for v in parse_rechtsgrundlagen("[http://example.org/x]")] == ["http://example.org/x"]
    assert len(parse_rechtsgrundlagen("a [http://x.de], " * 500)) == 100


@given(st.text(max_size=300))
def test_rechtsgrundlagen_never_raise(text: str) -> None:
    for verweis in parse_rechtsgrundlagen(text):
        assert verweis.titel.strip()


@given(st.lists(st.text(max_size=80), max_size=8))
def test_any_lines_are_parsed_or_skipped(lines: list[str]) -> None:
    for row in parse_leika_lines([HEADER, *lines]):
        assert row.line >= 2
        assert isinstance(row, ParsedLeistung | SkippedRow)
