"""The municipality register GV100AD (Destatis Gemeindeverzeichnis): its fixed-width records, parsed.

Each line is one record of 220 characters (positions count characters, not bytes: since the Sorbian
names were added the file is UTF-8; older releases were Windows-1252, which is the fallback for a
line that is not UTF-8). The first two characters are the Satzart:

====  ================  =============================================================
10    Land              ARS = Land (2 digits)
20    Regierungsbezirk  ARS = Land + Regierungsbezirk (3)
30    Region            planning regions of Baden-Württemberg: not part of the ARS chain, skipped
40    Kreis             ARS = Land + Regierungsbezirk + Kreis (5)
50    Gemeindeverband   ARS = Kreis + Gemeindeverband (9)
60    Gemeinde          ARS = Kreis + Gemeindeverband + Gemeinde (12); AGS = Kreis + Gemeinde (8)
====  ================  =============================================================

:func:`parse_register` turns lines into records, or into a :class:`SkippedLine` saying why a line
was not used; it never stops at a bad line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from contracts.catalogue import RegionLevel
from services.catalogue.regions.sources import decoded

RECORD_LENGTH = 220

LEVELS: dict[str, RegionLevel] = {
    "10": "land",
    "20": "regierungsbezirk",
    "40": "kreis",
    "50": "gemeindeverband",
    "60": "gemeinde",
}

#: Textkennzeichen of Kreise, Gemeindeverbände and Gemeinden (Datensatzbeschreibung, EF7U1).
TYPE_TEXTS: dict[str, str] = {
    "41": "Kreisfreie Stadt",
    "42": "Stadtkreis",
    "43": "Kreis",
    "44": "Landkreis",
    "45": "Regionalverband",
    "50": "verbandsfreie Gemeinde",
    "51": "Amt",
    "52": "Samtgemeinde",
    "53": "Verbandsgemeinde",
    "54": "Verwaltungsgemeinschaft",
    "55": "Kirchspielslandgemeinde",
    "56": "Verwaltungsverband",
    "57": "VG Trägermodell",
    "58": "Erfüllende Gemeinde",
    "60": "Markt",
    "61": "Kreisfreie Stadt",
    "62": "Stadtkreis",
    "63": "Stadt",
    "64": "Kreisangehörige Gemeinde",
    "65": "gemeindefreies Gebiet, bewohnt",
    "66": "gemeindefreies Gebiet, unbewohnt",
    "67": "große Kreisstadt",
}

_DIGITS = re.compile(r"[0-9]+")
#: 0-based slices of the key fields.
_LAND, _RB, _KREIS, _GEMEINDE, _VERBAND = slice(10, 12), slice(12, 13), slice(13, 15), slice(15, 18), slice(18, 22)
_NAME, _SEAT, _TYPE = slice(22, 72), slice(72, 122), slice(122, 124)
_AREA_HA, _POPULATION, _PLZ, _PLZ_FLAG = slice(128, 139), slice(139, 150), slice(165, 170), slice(170, 175)
#: The key fields each Satzart needs.
_KEY_FIELDS: dict[str, tuple[slice, ...]] = {
    "10": (_LAND,),
    "20": (_LAND, _RB),
    "40": (_LAND, _RB, _KREIS),
    "50": (_LAND, _RB, _KREIS, _VERBAND),
    "60": (_LAND, _RB, _KREIS, _VERBAND, _GEMEINDE),
}


@dataclass(frozen=True, slots=True)
class RegisterRecord:
    """One region as the register describes it."""

    line: int
    level: RegionLevel
    gebietsstand: dt.date
    ars: str
    ags: str | None
    name: str
    seat: str | None
    type_code: str | None
    type_text: str | None
    area_km2: Decimal | None
    population: int | None
    postal_code: str | None
    several_postal_codes: bool | None


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A line that was not used: where, a stable reason code, and an explanation."""

    line: int
    reason: str
    detail: str


def parse_register(lines: Iterable[str | bytes]) -> Iterator[RegisterRecord | SkippedLine]:
    """The records of GV100AD `lines` (numbered from 1), with a SkippedLine for each unusable one.

    Blank lines are ignored. Lines may be bytes (decoded here, UTF-8 or else Windows-1252) or text,
    with or without their line ending.
    """
    for number, raw in enumerate(lines, start=1):
        parsed = parse_register_line(raw, number)
        if parsed is not None:
            yield parsed


def parse_register_line(raw: str | bytes, number: int) -> RegisterRecord | SkippedLine | None:
    """Line `number` of a register parsed: a record, why it is skipped, or None for a blank line."""
    text = decoded(raw)
    if text is None:
        return SkippedLine(number, "undecodable", "The line is neither UTF-8 nor Windows-1252 text.")
    if number == 1:
        text = text.removeprefix("\ufeff")
    text = text.rstrip("\r\n")
    if not text.strip():
        return None
    return parse_line(text, number)


def parse_line(text: str, number: int) -> RegisterRecord | SkippedLine:
    """One record of the register (without its line ending), or why it cannot be used."""
    if len(text) > RECORD_LENGTH:
        return SkippedLine(number, "line-too-long", f"The line has {len(text)} characters; a record has 220.")
    text = text.ljust(RECORD_LENGTH)
    satzart = text[:2]
    if satzart == "30":
        return SkippedLine(
            number,
            "not-in-ars-chain",
            "Satzart 30 is a planning region of Baden-Württemberg, outside the ARS hierarchy.",
        )
    level = LEVELS.get(satzart)
    if level is None:
        return SkippedLine(number, "unknown-satzart", f"Satzart {satzart!r} is none of 10, 20, 30, 40, 50, 60.")
    gebietsstand = _date(text[2:10])
    if gebietsstand is None:
        return SkippedLine(number, "invalid-gebietsstand", f"Gebietsstand {text[2:10]!r} is not a date YYYYMMDD.")
    if not all(_DIGITS.fullmatch(text[field]) for field in _KEY_FIELDS[satzart]):
        return SkippedLine(number, "invalid-key", f"The regional key {text[10:22]!r} has blanks or non-digits.")
    name = " ".join(text[_NAME].split())
    if not name:
        return SkippedLine(number, "missing-name", "The record has no name.")
    type_code = text[_TYPE].strip() or None
    is_gemeinde = satzart == "60"
    postal_code = _postal_code(text[_PLZ]) if is_gemeinde else None
    return RegisterRecord(
        line=number,
        level=level,
        gebietsstand=gebietsstand,
        ars=_ars(text, satzart),
        ags=text[10:18] if is_gemeinde else None,
        name=name,
        seat=None if is_gemeinde else (" ".join(text[_SEAT].split()) or None),
        type_code=type_code,
        type_text=TYPE_TEXTS.get(type_code) if type_code else None,
        area_km2=_area_km2(text[_AREA_HA]) if is_gemeinde else None,
        population=_number(text[_POPULATION]) if is_gemeinde else None,
        postal_code=postal_code,
        several_postal_codes=bool(text[_PLZ_FLAG].strip()) if postal_code else None,
    )


def _ars(text: str, satzart: str) -> str:
    kreis = text[_LAND] + text[_RB] + text[_KREIS]
    if satzart == "50":
        return kreis + text[_VERBAND]
    if satzart == "60":
        return kreis + text[_VERBAND] + text[_GEMEINDE]
    return "".join(text[field] for field in _KEY_FIELDS[satzart])


def _date(text: str) -> dt.date | None:
    if not _DIGITS.fullmatch(text):
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


# Area, population and postal code are attributes: a malformed one is left out, and the Gemeinde is
# still imported (skipping it would end a Gemeinde that exists).
def _number(text: str) -> int | None:
    stripped = text.strip()
    return int(stripped) if _DIGITS.fullmatch(stripped) else None


def _area_km2(text: str) -> Decimal | None:
    hectares = _number(text)
    return None if hectares is None else Decimal(hectares) / 100


def _postal_code(text: str) -> str | None:
    return text if _DIGITS.fullmatch(text) and len(text) == 5 else None
