"""Municipal administrations: every Gemeinde's administration as an Organisationseinheit, and the
national rules that make them responsible for the municipal Leistungen.

The addresses come from the Gemeindeverzeichnis of 31.12.2011 as CSV
(``gemeindeverwaltungen/gemeindeverwaltungen_2011.csv`` under ``CATALOGUE_DATA_DIR``), columns
``ags,bundesland,kreis,gemeindetyp,plz_gemeindename,anschrift_der_gemeinde,strasse,plz_ort,
einwohner,flaeche_km2,stand``. Each row becomes the Organisationseinheit ``gv-<AGS>``:

* named "Stadtverwaltung <Gemeinde>" when the ``gemeindetyp`` is a kind of Stadt (Stadt, Große
  Kreisstadt, Kreisfreie Stadt, Stadtkreis, Stadtstaat …), "Verwaltung des gemeindefreien Bezirks
  <Gemeinde>" for an inhabited area outside any Gemeinde, and "Gemeindeverwaltung <Gemeinde>"
  otherwise (Märkte and Flecken are Gemeinden). <Gemeinde> is the name without its suffix
  ("Flensburg, Stadt" → "Flensburg"). Given the current register, its name and type are used
  instead: 243 of the 2011 names have changed since (Werlte has become a Stadt).
* ``ars`` and ``verwaltungVon`` are the Gemeinde's 12-digit ARS, looked up by AGS in the current
  register. An AGS the register no longer has (the Gemeinde was merged since 2011) is skipped.
* The address: postal code and place from ``plz_ort``; street and house number split from
  ``strasse`` ("Teichstr. 5 a", "Schneewiesenstr.21", "An 44 Nr.31"); a note in brackets and a
  Postfach go to ``zusatz``, and so does the addressee when it is not the Gemeinde itself: many
  Gemeinden are run by an Amt, a Verbandsgemeinde or a Samtgemeinde ("Amt Lützow-Lübstorf"),
  whose office is where citizens go. ``strasse`` "0" means unknown; the address then has no
  street. A row without a postal code and place is skipped as a malformed address.

:func:`parse_administrations` yields a :class:`ParsedAdministration` or a
:class:`SkippedAdministration` per row and never stops at a bad one. Gemeinden of the register
that no row covers get an administration named from the register, without an address, from
:func:`administrations_for_missing`. :func:`national_rules` gives the Zuständigkeiten that make
every Gemeinde's administration responsible for the Leistungen municipalities execute.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from pydantic import ValidationError

from contracts.catalogue import Anschrift, Leistungsauswahl, Organisationseinheit, Zustaendigkeit
from services.catalogue.importers.data_dir import data_dir
from services.catalogue.resolution.leika_types import canonical_leika_typ, leika_typ_parts

#: The columns the file must have (more are tolerated).
COLUMNS: Final = (
    "ags",
    "gemeindetyp",
    "plz_gemeindename",
    "anschrift_der_gemeinde",
    "strasse",
    "plz_ort",
)
#: Where the file lies below the data directory.
ADMINISTRATIONS_FILE: Final = Path("gemeindeverwaltungen") / "gemeindeverwaltungen_2011.csv"
#: The register's type of an area outside any Gemeinde where nobody lives: it has no administration.
UNINHABITED: Final = "gemeindefreies Gebiet, unbewohnt"

#: LeiKa type designations of Leistungen that municipalities execute (see :func:`national_rules`).
MUNICIPAL_LEIKA_TYPE_PARTS: Final = frozenset({"2/3", "3", "5", "6"})
#: Leistungsauswahl takes at most this many LeiKa types per rule.
_TYPES_PER_RULE: Final = 20
_MAX_TYPE_LENGTH: Final = 20

_AGS = re.compile(r"\d{8}")
_PLZ_ORT = re.compile(r"(?P<plz>\d{5})\s+(?P<ort>\S.*)")
_LEADING_PLZ = re.compile(r"\d{5}(?:\s+|$)")
_NOTE = re.compile(r"\((?P<note>[^()]*)\)\s*$")
_POSTFACH = re.compile(r"postfach\b\s*(?P<number>.*)", re.IGNORECASE)
_WITH_NR = re.compile(r"(?P<street>.+?)\s+Nr\.?\s*(?P<number>\d.*)")
_NUMBERED = re.compile(r"(?P<street>.*?[^\d\s])\s*(?P<number>\d+\s*[a-zA-Z]?(?:\s*[-/]\s*\d+\s*[a-zA-Z]?)?)")
_MAX_HOUSE_NUMBER = 20


class RegisterGemeinde(Protocol):
    """A Gemeinde of the municipality register (``services.catalogue.regions.register.RegisterRecord`` fits)."""

    @property
    def ars(self) -> str: ...
    @property
    def ags(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def type_text(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ParsedAdministration:
    """A Gemeinde's administration: its record key and content; `line` is None when made from the register."""

    line: int | None
    ags: str
    key: str
    organisationseinheit: Organisationseinheit


@dataclass(frozen=True, slots=True)
class SkippedAdministration:
    """A row (or a register Gemeinde, `line` None) that gave no administration, and why."""

    line: int | None
    ags: str | None
    reason: str
    detail: str


AdministrationRow = ParsedAdministration | SkippedAdministration


def default_administrations_path() -> Path:
    """The addresses CSV in ``CATALOGUE_DATA_DIR`` (default: ``../shared/data`` beside the checkout)."""
    return data_dir() / ADMINISTRATIONS_FILE


def administration_key(ags: str) -> str:
    """The record key of a Gemeinde's administration: ``gv-<AGS>``."""
    return f"gv-{ags}"


def parse_administrations(
    path: Path, ars_by_ags: Mapping[str, str], *, register: Mapping[str, RegisterGemeinde] | None = None
) -> Iterator[AdministrationRow]:
    """Parse the addresses CSV at `path` (see the module docstring for the rules).

    `ars_by_ags` maps the current register's AGS to ARS; `register`, by AGS too, supplies the
    current names and types when given.
    """
    with path.open(encoding="utf-8-sig", newline="") as lines:
        yield from parse_administration_lines(lines, ars_by_ags, register=register)


def parse_administration_lines(
    lines: Iterable[str], ars_by_ags: Mapping[str, str], *, register: Mapping[str, RegisterGemeinde] | None = None
) -> Iterator[AdministrationRow]:
    """:func:`parse_administrations` over CSV text given as lines, header first."""
    reader = csv.reader(line if line.endswith("\n") else line + "\n" for line in lines)
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        return
    except csv.Error as error:
        yield SkippedAdministration(1, None, "invalid-header", f"the header is not CSV: {error}")
        return
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        yield SkippedAdministration(1, None, "invalid-header", f"columns missing from the header: {', '.join(missing)}")
        return
    first_lines: dict[str, int] = {}
    previous_end = reader.line_num
    while True:
        line = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            previous_end = reader.line_num
            yield SkippedAdministration(line, None, "invalid-csv", f"the row is not valid CSV: {error}")
            continue
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield SkippedAdministration(
                line, None, "invalid-csv", f"{len(cells)} fields where the header has {len(header)}"
            )
            continue
        row = {column: _collapse(cell) for column, cell in zip(header, cells, strict=True)}
        yield _parse_row(line, row, ars_by_ags, register or {}, first_lines)


def administrations_for_missing(
    gemeinden: Iterable[RegisterGemeinde], covered_ags: Collection[str]
) -> Iterator[AdministrationRow]:
    """An administration, named from the register and without an address, for each Gemeinde whose
    AGS is not in `covered_ags` (the AGS :func:`parse_administrations` gave an administration).

    An uninhabited area outside any Gemeinde (a forest, a lake) has no administration: it is
    reported as skipped, and a rule pointing to the Gemeinde's administration finds none there.
    """
    for gemeinde in gemeinden:
        ags = gemeinde.ags
        if ags is None or ags in covered_ags:
            continue
        if gemeinde.type_text == UNINHABITED:
            detail = f"{gemeinde.name} is an uninhabited area outside any Gemeinde: it has no administration"
            yield SkippedAdministration(None, ags, "uninhabited", detail)
            continue
        oe = _administration(gemeinde.name, gemeinde.type_text or "", gemeinde.ars, None)
        yield ParsedAdministration(None, ags, administration_key(ags), oe)


def municipal_leika_typen(leika_typen: Iterable[str | None]) -> list[str]:
    """The distinct LeiKa types (canonical, sorted) of Leistungen that municipalities execute."""
    canonical = {canonical_leika_typ(typ) for typ in leika_typen}
    return sorted(
        typ
        for typ in canonical
        if typ is not None
        and len(typ) <= _MAX_TYPE_LENGTH
        and not MUNICIPAL_LEIKA_TYPE_PARTS.isdisjoint(leika_typ_parts(typ))
    )


def national_rules(leika_typen: Iterable[str | None]) -> list[tuple[str, Zustaendigkeit]]:
    """The Zuständigkeiten that make each Gemeinde's administration responsible for the municipal
    Leistungen nationwide: set for Germany (ARS "0") with ``ziel: gemeindeverwaltung``, for the
    LeiKa types among `leika_typen` (the types of the catalogue's Leistungen) that municipalities
    execute. Keys are ``gemeindeverwaltung-<n>``; one rule takes 20 types, so more make more rules.

    The LeiKa types say which level regulates a Leistung and which executes it (LeiKa-Handbuch):

    ====  ===========================================  ===============
    1     Bund regelt und vollzieht                     not municipal
    2     Bund regelt, Land vollzieht                   not municipal
    3     Bund regelt, Kommune vollzieht                municipal
    2/3   Bund regelt, Land oder Kommune vollzieht      municipal
    4     Land regelt und vollzieht                     not municipal
    5     Land regelt, Kommune vollzieht                municipal
    6     Kommune regelt und vollzieht                  municipal
    ====  ===========================================  ===============

    A combined type ("1, 2/3": Arbeitslosengeld II, executed by the Bundesagentur and by the
    Kommunen) is municipal when one of its parts is. Type 2/3 is executed by the Land in some
    Länder; a Land overrides these rules there with rules of its own, which win by being set
    lower (and by key over type). The OZG-Datenbank NRW, the source of the 2019 LeiKa file, reads
    type 4 as "Land regelt, Land oder Kommune vollzieht" and has no 6; its type-4 Leistungen that
    Gemeinden execute (Leichenpass, Wählerverzeichnis) need a Land's own rules, as they would in
    PVOG.
    """
    typen = municipal_leika_typen(leika_typen)
    chunks = [typen[start : start + _TYPES_PER_RULE] for start in range(0, len(typen), _TYPES_PER_RULE)]
    return [
        (
            f"gemeindeverwaltung-{number}",
            Zustaendigkeit(
                leistungen=Leistungsauswahl(leika_typen=chunk),
                ars="0",
                rolle="zustaendige_stelle",
                ziel="gemeindeverwaltung",
            ),
        )
        for number, chunk in enumerate(chunks, start=1)
    ]


def split_street(text: str) -> tuple[str | None, str | None, list[str]]:
    """Street, house number and notes (a bracketed remark, a Postfach) of a ``strasse`` cell."""
    text = _collapse(text).strip(" -")
    notes: list[str] = []
    note = _NOTE.search(text)
    if note:
        if note["note"].strip():
            notes.append(_collapse(note["note"]))
        text = text[: note.start()].strip(" -,")
    postfach = _POSTFACH.fullmatch(text)
    if postfach:
        if postfach["number"]:
            notes.append(f"Postfach {postfach['number']}")
        return None, None, notes
    if not text or text == "0":
        return None, None, notes
    numbered = _WITH_NR.fullmatch(text) or _NUMBERED.fullmatch(text)
    if numbered and len(numbered["number"]) <= _MAX_HOUSE_NUMBER:
        return numbered["street"].strip(" ,"), numbered["number"], notes
    return text, None, notes


def _parse_row(
    line: int,
    row: dict[str, str],
    ars_by_ags: Mapping[str, str],
    register: Mapping[str, RegisterGemeinde],
    first_lines: dict[str, int],
) -> AdministrationRow:
    ags = row["ags"]
    if not _AGS.fullmatch(ags):
        return SkippedAdministration(line, None, "invalid-ags", f"AGS {ags[:40]!r} is not 8 digits")
    if ags in first_lines:
        return SkippedAdministration(line, ags, "duplicate-ags", f"AGS {ags} was given on line {first_lines[ags]}")
    ars = ars_by_ags.get(ags)
    if ars is None:
        detail = f"AGS {ags} ({row['plz_gemeindename']}) is not in the municipality register: merged or renumbered"
        return SkippedAdministration(line, ags, "unknown-ags", detail)
    name = _LEADING_PLZ.sub("", row["plz_gemeindename"], count=1)
    if not name:
        return SkippedAdministration(line, ags, "missing-name", "the row names no Gemeinde")
    current = register.get(ags)
    try:
        anschrift = _anschrift(row, name)
        if current is not None:
            oe = _administration(current.name, current.type_text or "", ars, anschrift)
        else:
            oe = _administration(name, row["gemeindetyp"], ars, anschrift)
    except _MalformedAddressError as error:
        return SkippedAdministration(line, ags, "malformed-address", str(error))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3])
        return SkippedAdministration(line, ags, "invalid-row", problems)
    first_lines[ags] = line
    return ParsedAdministration(line, ags, administration_key(ags), oe)


class _MalformedAddressError(ValueError):
    pass


def _anschrift(row: dict[str, str], gemeinde: str) -> Anschrift:
    place = _PLZ_ORT.fullmatch(row["plz_ort"])
    if place is None:
        raise _MalformedAddressError(f"plz_ort {row['plz_ort'][:60]!r} is not a postal code and a place")
    strasse, hausnummer, notes = split_street(row["strasse"])
    addressee = row["anschrift_der_gemeinde"]
    if addressee and not _names_itself(addressee, gemeinde):
        notes.insert(0, addressee)
    try:
        return Anschrift(
            strasse=strasse,
            hausnummer=hausnummer,
            postleitzahl=place["plz"],
            ort=place["ort"],
            zusatz=", ".join(notes) or None,
        )
    except ValidationError as error:
        raise _MalformedAddressError(f"the address does not fit: {error.errors()[0]['msg']}") from error


def _names_itself(addressee: str, gemeinde: str) -> bool:
    """Whether the addressee is just the Gemeinde ("Stadt Monschau" for "Monschau, Stadt")."""
    base = _base_name(gemeinde)
    if addressee in (gemeinde, base):
        return True
    return addressee.endswith(" " + base) and len(addressee[: -len(base)].split()) == 1


def _administration(gemeinde: str, typ: str, ars: str, anschrift: Anschrift | None) -> Organisationseinheit:
    base = _base_name(gemeinde)
    kind = typ.lower()
    if "gemeindefrei" in kind or "gemfr" in kind:
        art, name = "Verwaltung eines gemeindefreien Gebiets", f"Verwaltung des gemeindefreien Bezirks {base}"
    elif "stadt" in kind:
        art, name = "Stadtverwaltung", f"Stadtverwaltung {base}"
    else:
        art, name = "Gemeindeverwaltung", f"Gemeindeverwaltung {base}"
    return Organisationseinheit(name={"de": name}, art=art, ars=ars, verwaltung_von=ars, anschrift=anschrift)


def _base_name(gemeinde: str) -> str:
    """The name without the official suffix after the first comma ("Kiel, Landeshauptstadt" → "Kiel")."""
    return gemeinde.split(",", 1)[0].strip() or gemeinde


def _collapse(value: str) -> str:
    return " ".join(value.split())
