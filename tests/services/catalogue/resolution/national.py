"""A national-size read model from the real files, for tests and for measure_national.

Real: the 2025 register's Gemeinden, the LeiKa Leistungen, every Gemeinde's administration and
the national rules for the municipal LeiKa types. Made up, reproducibly (seeded): a Landratsamt
per Kreis with Kreis rules for some Leistungen, a Land online service per Land with a type rule,
Gemeinde overrides with online services, and fees.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.catalogue import (
    Gebuehr,
    Leistungsauswahl,
    Onlinedienst,
    Organisationseinheit,
    RecordKind,
    Zustaendigkeit,
)
from services.catalogue.importers.administrations import (
    ParsedAdministration,
    administrations_for_missing,
    national_rules,
    parse_administrations,
)
from services.catalogue.importers.leika import ParsedLeistung, parse_leika
from services.catalogue.resolution import CatalogueReadModel, PublishedRecord

EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def data_dir() -> Path:
    """The shared data: CATALOGUE_DATA_DIR, else ../shared/data beside the repository."""
    root = Path(__file__).resolve().parents[4]
    return Path(os.environ.get("CATALOGUE_DATA_DIR", root.parent / "shared" / "data"))


REGISTER_2025 = data_dir() / "gv100ad" / "GV100AD_30112025.txt"
ADMINISTRATIONS_2011 = data_dir() / "gemeindeverwaltungen" / "gemeindeverwaltungen_2011.csv"
LEIKA = data_dir() / "leika" / "leika_leistungen.csv"


@dataclass(frozen=True, slots=True)
class Gemeinde:
    """A Satzart-60 record of GV100AD, read here independently of the regions package."""

    ars: str
    ags: str
    name: str
    type_text: str | None


_GEMEINDE_TYPES = {
    "60": "Markt",
    "61": "Kreisfreie Stadt",
    "62": "Stadtkreis",
    "63": "Stadt",
    "64": "Kreisangehörige Gemeinde",
    "65": "gemeindefreies Gebiet, bewohnt",
    "66": "gemeindefreies Gebiet, unbewohnt",
    "67": "große Kreisstadt",
}


def register_gemeinden(path: Path = REGISTER_2025) -> list[Gemeinde]:
    """The Gemeinden of a GV100AD file, by the Datensatzbeschreibung's Satzart 60 layout.

    Positions (1-based, in characters): 11-12 Land, 13 Regierungsbezirk, 14-15 Kreis, 16-18
    Gemeinde, 19-22 Gemeindeverband, 23-72 name, 123-124 Textkennzeichen. The AGS is 11-18; the
    ARS puts the Gemeindeverband before the Gemeinde: 11-15 + 19-22 + 16-18.
    """
    gemeinden = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("60"):
            ags = line[10:18]
            ars = line[10:15] + line[18:22] + line[15:18]
            gemeinden.append(Gemeinde(ars, ags, " ".join(line[22:72].split()), _GEMEINDE_TYPES.get(line[122:124])))
    return gemeinden


def record(kind: RecordKind, tenant: str, key: str, content: Any, *, minute: int = 0) -> PublishedRecord[Any]:
    """A published record with a fresh id, published `minute` minutes after EPOCH."""
    return PublishedRecord(
        record_id=uuid.uuid4(),
        kind=kind,
        tenant=tenant,
        key=key,
        version=1,
        content=content,
        published_at=EPOCH + dt.timedelta(minutes=minute),
    )


@dataclass(slots=True)
class National:
    """The model and what was put into it."""

    model: CatalogueReadModel
    gemeinden: list[Gemeinde]
    leika_keys: list[str]
    administrations: int
    rules: int


def leistungen_records() -> list[PublishedRecord[Any]]:
    """The LeiKa file's Leistungen as records of tenant 'bund'."""
    return [
        record(RecordKind.LEISTUNG, "bund", row.leistung.leika_key, row.leistung)
        for row in parse_leika(LEIKA)
        if isinstance(row, ParsedLeistung)
    ]


def administration_records(gemeinden: list[Gemeinde]) -> list[PublishedRecord[Any]]:
    """Every Gemeinde's administration (2011 addresses, the register for the rest), tenant per Land."""
    ars_by_ags = {gemeinde.ags: gemeinde.ars for gemeinde in gemeinden}
    register = {gemeinde.ags: gemeinde for gemeinde in gemeinden}
    parsed = [
        row
        for row in parse_administrations(ADMINISTRATIONS_2011, ars_by_ags, register=register)
        if isinstance(row, ParsedAdministration)
    ]
    covered = {row.ags for row in parsed}
    parsed += [row for row in administrations_for_missing(gemeinden, covered) if isinstance(row, ParsedAdministration)]
    return [
        record(RecordKind.ORGANISATIONSEINHEIT, f"land-{row.ags[:2]}", row.key, row.organisationseinheit)
        for row in parsed
    ]


def specific_records(
    gemeinden: list[Gemeinde], leistungen: list[PublishedRecord[Any]], *, seed: int = 5
) -> list[PublishedRecord[Any]]:
    """Made-up regional authorities, online services, rules and fees (a few thousand rules)."""
    rng = random.Random(seed)
    municipal = sorted(r.content.leika_key for r in leistungen if (r.content.leika_typ or "") in ("2/3", "5", "6"))
    all_keys = sorted(r.content.leika_key for r in leistungen)
    records: list[PublishedRecord[Any]] = []
    kreise = sorted({gemeinde.ars[:5] for gemeinde in gemeinden})
    for kreis in kreise:
        tenant = f"land-{kreis[:2]}"
        records.append(
            record(
                RecordKind.ORGANISATIONSEINHEIT,
                tenant,
                f"lra-{kreis}",
                Organisationseinheit(name={"de": f"Landratsamt {kreis}"}, art="Landratsamt", ars=kreis),
            )
        )
        for leika_key in rng.sample(municipal, 5):
            rule = Zustaendigkeit(
                leistungen=Leistungsauswahl(leika_key=leika_key), ars=kreis, organisationseinheit=f"lra-{kreis}"
            )
            records.append(record(RecordKind.ZUSTAENDIGKEIT, tenant, f"kreis-{kreis}-{leika_key}", rule))
    for land in sorted({kreis[:2] for kreis in kreise}):
        tenant = f"land-{land}"
        offered = rng.sample(municipal, 200)
        service = Onlinedienst(
            name={"de": f"Landesportal {land}"}, url=f"https://portal-{land}.example/", leika_keys=offered
        )
        records.append(record(RecordKind.ONLINEDIENST, tenant, "landesportal", service))
        rule = Zustaendigkeit(leistungen=Leistungsauswahl(leika_typen=["2/3"]), ars=land, onlinedienst="landesportal")
        records.append(record(RecordKind.ZUSTAENDIGKEIT, tenant, "landesportal-2-3", rule))
    inhabited = [gemeinde for gemeinde in gemeinden if gemeinde.type_text != "gemeindefreies Gebiet, unbewohnt"]
    for gemeinde in rng.sample(inhabited, 1_000):
        tenant = f"land-{gemeinde.ags[:2]}"
        leika_key = rng.choice(municipal)
        service = Onlinedienst(
            name={"de": f"Online-Dienst {gemeinde.name}"}, url="https://gemeinde.example/", leika_keys=[leika_key]
        )
        records.append(record(RecordKind.ONLINEDIENST, tenant, f"od-{gemeinde.ags}", service))
        rule = Zustaendigkeit(
            leistungen=Leistungsauswahl(leika_key=leika_key),
            ars=gemeinde.ars,
            organisationseinheit=f"gv-{gemeinde.ags}",
            onlinedienst=f"od-{gemeinde.ags}",
        )
        records.append(record(RecordKind.ZUSTAENDIGKEIT, tenant, f"gemeinde-{gemeinde.ags}", rule))
    for number, leika_key in enumerate(rng.sample(all_keys, 1_000)):
        fee = Gebuehr(leika_key=leika_key, art="fest", betrag_cent=rng.randrange(500, 20_000))
        records.append(record(RecordKind.GEBUEHR, "bund", f"gebuehr-{number}", fee))
    return records


def build_national(records: Iterable[PublishedRecord[Any]] = ()) -> National:
    """The national model: real Leistungen, administrations and national rules, plus `records`."""
    gemeinden = register_gemeinden()
    model = CatalogueReadModel()
    leistungen = leistungen_records()
    for leistung in leistungen:
        model.put(leistung)
    administrations = administration_records(gemeinden)
    for administration in administrations:
        model.put(administration)
    rules = national_rules(leistung.content.leika_typ for leistung in leistungen)
    for key, rule in rules:
        model.put(record(RecordKind.ZUSTAENDIGKEIT, "bund", key, rule))
    for extra in records:
        model.put(extra)
    return National(
        model=model,
        gemeinden=gemeinden,
        leika_keys=[leistung.content.leika_key for leistung in leistungen],
        administrations=len(administrations),
        rules=len(rules),
    )
