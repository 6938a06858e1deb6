"""The GV100AD parser: the real files, hand-made edge cases, and generated records."""

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.catalogue.regions.register import (
    RECORD_LENGTH,
    RegisterRecord,
    SkippedLine,
    parse_register,
)
from tests.services.catalogue.regions.conftest import REGISTER_2021, REGISTER_2025

SATZARTEN = {"10": "land", "20": "regierungsbezirk", "40": "kreis", "50": "gemeindeverband", "60": "gemeinde"}


def register_line(
    satzart: str,
    key: str,
    name: str,
    *,
    verband: str = "    ",
    stand: str = "20251130",
    seat: str = "",
    type_code: str = "",
    hectares: int | None = None,
    population: int | None = None,
    plz: str = "",
    several: bool = False,
) -> str:
    """A register record laid out as the Datensatzbeschreibung says (key: positions 11-18)."""
    line = satzart + stand + key.ljust(8) + verband.ljust(4) + name.ljust(50)[:50]
    line += (seat.ljust(50)[:50] if satzart != "60" else " " * 50) + type_code.ljust(2) + " " * 4
    if satzart == "60":
        line += f"{hectares:011d}" if hectares is not None else " " * 11
        line += f"{population:011d}" if population is not None else " " * 11
        line += " " * 11 + " " * 4 + plz.ljust(5) + ("*****" if several else "     ")
    return line.ljust(RECORD_LENGTH)


def _parsed(lines: Iterable[str | bytes]) -> list[RegisterRecord | SkippedLine]:
    return list(parse_register(lines))


def test_the_real_registers_parse_completely() -> None:
    for path, gemeinden in ((REGISTER_2021, 10997), (REGISTER_2025, 10953)):
        parsed = _parsed(path.open("rb"))
        records = [item for item in parsed if isinstance(item, RegisterRecord)]
        skipped = [item for item in parsed if isinstance(item, SkippedLine)]
        assert {item.reason for item in skipped} == {"not-in-ars-chain"}
        assert len(skipped) == 12
        assert Counter(record.level for record in records)["gemeinde"] == gemeinden
        assert all(
            len(record.ars) == {"land": 2, "regierungsbezirk": 3, "kreis": 5}.get(record.level, len(record.ars))
            for record in records
        )


def test_a_gemeinde_record_has_its_ars_ags_area_population_and_postal_code() -> None:
    records = _parsed(REGISTER_2025.open("rb"))
    flensburg = next(r for r in records if isinstance(r, RegisterRecord) and r.ags == "01001000")
    assert flensburg.ars == "010010000000"
    assert flensburg.name == "Flensburg, Stadt"
    assert flensburg.gebietsstand == dt.date(2025, 11, 30)
    assert flensburg.area_km2 == Decimal("56.73")
    assert flensburg.population == 96326
    assert (flensburg.postal_code, flensburg.several_postal_codes) == ("24937", True)
    assert (flensburg.type_code, flensburg.type_text) == ("61", "Kreisfreie Stadt")
    # UTF-8 with Sorbian letters, and the name cut at 50 characters as the file has it.
    bautzen = next(r for r in records if isinstance(r, RegisterRecord) and r.ags == "14625020")
    assert bautzen.name == "Bautzen / Budyšin, Stadt, Hochschulstadt / Wysokoš"
    kreis = next(r for r in records if isinstance(r, RegisterRecord) and r.ars == "01001")
    assert (kreis.level, kreis.seat, kreis.type_text, kreis.ags) == ("kreis", "Flensburg", "Kreisfreie Stadt", None)


def test_bad_lines_are_skipped_with_their_line_number_and_parsing_goes_on() -> None:
    good = register_line("10", "01", "Schleswig-Holstein", seat="Kiel")
    lines: list[str | bytes] = [
        "\ufeff" + good + "\n",
        register_line("99", "01", "Unbekannt"),
        register_line("10", "0x", "Kaputt"),
        register_line("10", "02", "Hamburg", stand="20251331"),
        register_line("10", "03", ""),
        good + "overflow",
        "   \r\n",
        b"10" + b"20251130" + b"04" + b" " * 10 + "Bremen-Ä".encode("cp1252").ljust(198),
        b"\x81\x8d\x8f\x90\x9d",
        register_line("30", "081", "Region Stuttgart"),
        register_line(
            "60", "01001000", "Flensburg, Stadt", verband="0000", hectares=None, population=None, plz="2x937"
        ),
    ]
    parsed = _parsed(lines)
    reasons = [(item.line, item.reason) for item in parsed if isinstance(item, SkippedLine)]
    assert reasons == [
        (2, "unknown-satzart"),
        (3, "invalid-key"),
        (4, "invalid-gebietsstand"),
        (5, "missing-name"),
        (6, "line-too-long"),
        (9, "undecodable"),
        (10, "not-in-ars-chain"),
    ]
    records = [item for item in parsed if isinstance(item, RegisterRecord)]
    assert [(r.line, r.ars, r.name) for r in records] == [
        (1, "01", "Schleswig-Holstein"),
        (8, "04", "Bremen-Ä"),
        (11, "010010000000", "Flensburg, Stadt"),
    ]
    # Malformed attributes are left out; the Gemeinde itself is kept.
    assert (records[2].area_km2, records[2].population, records[2].postal_code) == (None, None, None)


def test_a_line_cut_short_of_its_trailing_blanks_still_parses() -> None:
    line = register_line("40", "01001", "Flensburg, Stadt", seat="Flensburg", type_code="41").rstrip()
    (record,) = _parsed([line])
    assert isinstance(record, RegisterRecord)
    assert (record.ars, record.type_text) == ("01001", "Kreisfreie Stadt")


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")) | st.sampled_from("äöüßšž"),
    min_size=1,
    max_size=50,
).filter(lambda name: name.strip() and "\n" not in name and "\r" not in name)
digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def records(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    satzart = draw(st.sampled_from(sorted(SATZARTEN)))
    land = draw(st.text(alphabet="0123456789", min_size=2, max_size=2))
    rb, kreis = draw(digits), draw(st.text(alphabet="0123456789", min_size=2, max_size=2))
    gemeinde = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    verband = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    name = draw(names)
    day = draw(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31)))
    hectares = draw(st.none() | st.integers(0, 10**10))
    population = draw(st.none() | st.integers(0, 10**9))
    key = {
        "10": land,
        "20": land + rb,
        "40": land + rb + kreis,
        "50": land + rb + kreis,
        "60": land + rb + kreis + gemeinde,
    }[satzart]
    line = register_line(
        satzart,
        key,
        name,
        verband=verband if satzart in ("50", "60") else "",
        stand=day.strftime("%Y%m%d"),
        hectares=hectares,
        population=population,
        plz="12345",
    )
    ars = {
        "50": land + rb + kreis + verband,
        "60": land + rb + kreis + verband + gemeinde,
    }.get(satzart, key)
    expected = {"level": SATZARTEN[satzart], "ars": ars, "name": " ".join(name.split()), "gebietsstand": day}
    if satzart == "60":
        expected |= {"ags": land + rb + kreis + gemeinde, "population": population}
        expected |= {"area_km2": None if hectares is None else Decimal(hectares) / 100}
    return line, expected


@settings(max_examples=300)
@given(records())
def test_generated_records_parse_back_to_their_fields(record) -> None:
    line, expected = record
    for raw in (line, line.encode("utf-8"), line.rstrip() + "\r\n"):
        (parsed,) = _parsed([raw])
        assert isinstance(parsed, RegisterRecord), parsed
        assert {name: getattr(parsed, name) for name in expected} == expected


@settings(max_examples=300)
@given(st.lists(st.text(max_size=300) | st.binary(max_size=300), max_size=20))
def test_any_input_gives_one_result_per_non_blank_line_and_never_raises(lines) -> None:
    parsed = _parsed(lines)
    assert [item.line for item in parsed] == sorted({item.line for item in parsed})
    assert len(parsed) <= len(lines)
    for item in parsed:
        assert isinstance(item, RegisterRecord | SkippedLine)
