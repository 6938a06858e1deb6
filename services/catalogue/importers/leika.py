"""The LeiKa/OZG catalogue as CSV: each row parsed into a :class:`contracts.catalogue.Leistung`.

The file (``leika/leika_leistungen.csv`` under ``CATALOGUE_DATA_DIR``) has the columns
``leika_key,name,leika_typ,ozg_id,ozg_leistung,lebenslage,themenfeld,rechtsgrundlage,description``.

* A 14-digit ``leika_key`` is the key. A row whose key holds no digits at all ("nicht im LeiKa",
  empty) is a Leistung the LeiKa lacks: it gets a stable local key, ``X`` and a hash of its name and
  OZG id, so importing the same file again gives the same keys. A key made of digits that are not
  14 (the file has two such rows, named "Test 124" and "Test 4") is a broken key, not a missing
  one: the row is skipped.
* A key that appeared before is skipped, naming the line that gave it first (in the 2019 file only
  one keyless row repeats an earlier one word for word; no LeiKa key repeats). A Leistung has one
  place in the OZG taxonomy, so there is nothing to merge: the first row is the Leistung.
* ``rechtsgrundlage`` holds ``title [url]`` items separated by commas; each becomes a
  :class:`~contracts.catalogue.Verweis`. Text outside brackets becomes a Verweis without a link.

:func:`parse_leika` yields a :class:`ParsedLeistung` or a :class:`SkippedRow` per row, each with the
line the row starts on; it never raises on a bad row.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from contracts.catalogue import Leistung, Textmodul, Verweis
from services.catalogue.importers.data_dir import data_dir

#: The columns the file must have (more are tolerated).
COLUMNS: Final = (
    "leika_key",
    "name",
    "leika_typ",
    "ozg_id",
    "ozg_leistung",
    "lebenslage",
    "themenfeld",
    "rechtsgrundlage",
    "description",
)
#: Where the file lies below the data directory.
LEIKA_FILE: Final = Path("leika") / "leika_leistungen.csv"

_LEIKA_KEY = re.compile(r"\d{14}")
_LINKED_ITEM = re.compile(r"(?P<title>[^\[\]]*)\[(?P<url>[^\[\]]*)\]")
_SEPARATORS = " \t\r\n,;"
_MAX_VERWEISE = 100
_MAX_SHORT_TEXT = 500


@dataclass(frozen=True, slots=True)
class ParsedLeistung:
    """A row turned into a Leistung; `local_key` tells that its key was made here, not read."""

    line: int
    leistung: Leistung
    local_key: bool = False


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row that was not used: a stable reason code and a sentence for people."""

    line: int
    reason: str
    detail: str


LeikaRow = ParsedLeistung | SkippedRow


def default_leika_path() -> Path:
    """The LeiKa CSV in ``CATALOGUE_DATA_DIR`` (default: ``../shared/data`` beside the checkout)."""
    return data_dir() / LEIKA_FILE


def parse_leika(path: Path) -> Iterator[LeikaRow]:
    """Parse the LeiKa CSV at `path`, row by row (see the module's docstring for the rules)."""
    with path.open(encoding="utf-8-sig", newline="") as lines:
        yield from parse_leika_lines(lines)


def parse_leika_lines(lines: Iterable[str]) -> Iterator[LeikaRow]:
    """Parse LeiKa CSV text given as lines (with or without line endings), header first."""
    reader = csv.reader(line if line.endswith("\n") else line + "\n" for line in lines)
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        return
    except csv.Error as error:
        yield SkippedRow(1, "invalid-header", f"the header is not CSV: {error}")
        return
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        yield SkippedRow(1, "invalid-header", f"columns missing from the header: {', '.join(missing)}")
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
            yield SkippedRow(line, "invalid-csv", f"the row is not valid CSV: {error}")
            continue
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield SkippedRow(line, "invalid-csv", f"{len(cells)} fields where the header has {len(header)}")
            continue
        yield _parse_row(line, dict(zip(header, cells, strict=True)), first_lines)


def local_leika_key(name: str, ozg_id: str | None) -> str:
    """The stable key of a Leistung the LeiKa lacks: ``X`` and 12 hex digits of a hash of name and OZG id."""
    digest = hashlib.sha256(f"{_collapse(name)}\x1f{ozg_id or ''}".encode()).hexdigest()
    return "X" + digest[:12]


def parse_rechtsgrundlagen(text: str) -> list[Verweis]:
    """Split a ``rechtsgrundlage`` cell into titled links; text outside brackets has no link."""
    verweise: list[Verweis] = []
    position = 0
    for item in _LINKED_ITEM.finditer(text):
        verweise.extend(_unlinked(text[position : item.start("title")]))
        title = _collapse(item["title"].strip(_SEPARATORS))
        url = _normalised_url(item["url"])
        position = item.end()
        if title or url:
            verweise.append(_verweis(title or url or "", url))
    verweise.extend(_unlinked(text[position:]))
    return verweise[:_MAX_VERWEISE]


def _parse_row(line: int, row: dict[str, str], first_lines: dict[str, int]) -> LeikaRow:
    name = _collapse(row["name"])
    if not name:
        return SkippedRow(line, "missing-name", "the row has no name")
    ozg_id = _optional(row["ozg_id"])
    raw_key = re.sub(r"\s+", "", row["leika_key"])
    local_key = not any(character.isdigit() for character in raw_key)
    if local_key:
        key = local_leika_key(name, ozg_id)
    elif _LEIKA_KEY.fullmatch(raw_key):
        key = raw_key
    else:
        return SkippedRow(line, "invalid-key", f"LeiKa key {raw_key[:40]!r} is not 14 digits")
    if key in first_lines:
        what = f"the local key {key} of {name[:80]!r}" if local_key else f"LeiKa key {key}"
        return SkippedRow(line, "duplicate-key", f"{what} was given on line {first_lines[key]} already")
    try:
        leistung = Leistung(
            leika_key=key,
            bezeichnung={"de": name},
            leika_typ=_optional(row["leika_typ"]),
            texte=_texte(row["description"]),
            rechtsgrundlagen=parse_rechtsgrundlagen(row["rechtsgrundlage"]),
            themenfeld=_optional(row["themenfeld"]),
            lebenslage=_optional(row["lebenslage"]),
            ozg_leistung=_optional(row["ozg_leistung"]),
            ozg_id=ozg_id,
        )
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3])
        return SkippedRow(line, "invalid-row", problems)
    first_lines[key] = line
    return ParsedLeistung(line, leistung, local_key)


def _texte(description: str) -> dict[Textmodul, dict[str, str]]:
    text = description.strip()
    return {Textmodul.VOLLTEXT: {"de": text}} if text else {}


def _unlinked(text: str) -> list[Verweis]:
    titles = (_collapse(part.strip(_SEPARATORS)) for part in text.split(";"))
    return [_verweis(title, None) for title in titles if title]


def _verweis(title: str, url: str | None) -> Verweis:
    title = title[:_MAX_SHORT_TEXT]
    if url is not None:
        try:
            return Verweis(titel=title, url=url)
        except ValidationError:
            pass  # a broken link loses the link, not the title
    return Verweis(titel=title)


def _normalised_url(url: str) -> str | None:
    url = url.strip()
    if not url:
        return None
    return "https://" + url if url.lower().startswith("www.") else url


def _optional(value: str) -> str | None:
    value = _collapse(value)
    return value or None


def _collapse(value: str) -> str:
    return " ".join(value.split())
