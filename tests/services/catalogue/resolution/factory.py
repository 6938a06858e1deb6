"""Published records for tests, made short."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from contracts.catalogue import (
    Gebuehr,
    Leistung,
    Leistungsauswahl,
    Onlinedienst,
    Organisationseinheit,
    RecordKind,
    Spezialisierung,
    Textmodul,
    Zustaendigkeit,
)
from services.catalogue.resolution import PublishedRecord

EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
DAY = dt.date(2025, 6, 1)

# Regions (GV100AD 2025): Schleswig-Holstein (01), Kreis Nordfriesland (01054), Amt Föhr-Amrum
# (010545488) with Wyk auf Föhr (010545488164) and Nebel (010545488085); Kreis Pinneberg (01056)
# with Elmshorn (010560015015); Hamburg (02) with its one Gemeinde (020000000000).
LAND = "01"
KREIS = "01054"
AMT = "010545488"
WYK = "010545488164"
NEBEL = "010545488085"
OTHER_KREIS = "01056"
ELMSHORN = "010560015015"
HAMBURG = "020000000000"

PASS = "99102013000000"  # a key of LeiKa type 2/3
HUND = "99001001000000"  # another one


def published(
    kind: RecordKind, tenant: str, key: str, content: Any, *, minute: int = 0, version: int = 1
) -> PublishedRecord[Any]:
    """A published record with a fresh id, published `minute` minutes after EPOCH."""
    return PublishedRecord(
        record_id=uuid.uuid4(),
        kind=kind,
        tenant=tenant,
        key=key,
        version=version,
        content=content,
        published_at=EPOCH + dt.timedelta(minutes=minute),
    )


def leistung(leika_key: str = PASS, typ: str | None = "2/3", **fields: Any) -> PublishedRecord[Any]:
    """A Leistung of tenant 'bund'."""
    content = Leistung(leika_key=leika_key, bezeichnung={"de": f"Leistung {leika_key}"}, leika_typ=typ, **fields)
    return published(RecordKind.LEISTUNG, "bund", leika_key, content)


def oe(tenant: str, key: str, *, verwaltung_von: str | None = None, minute: int = 0) -> PublishedRecord[Any]:
    """An Organisationseinheit, the administration of `verwaltung_von` when given."""
    content = Organisationseinheit(name={"de": f"Behörde {key}"}, verwaltung_von=verwaltung_von, ars=verwaltung_von)
    return published(RecordKind.ORGANISATIONSEINHEIT, tenant, key, content, minute=minute)


def od(tenant: str, key: str, leika_keys: list[str]) -> PublishedRecord[Any]:
    """An Onlinedienst offering `leika_keys`."""
    content = Onlinedienst(name={"de": f"Dienst {key}"}, url=f"https://{key}.example/", leika_keys=leika_keys)
    return published(RecordKind.ONLINEDIENST, tenant, key, content)


def rule(
    tenant: str,
    key: str,
    ars: str,
    *,
    leika_key: str | None = None,
    typen: list[str] | None = None,
    oe_key: str | None = None,
    od_key: str | None = None,
    ziel: Literal["fest", "gemeindeverwaltung"] = "fest",
    rolle: Literal["zustaendige_stelle", "ansprechpunkt"] = "zustaendige_stelle",
    ab: dt.date | None = None,
    bis: dt.date | None = None,
    minute: int = 0,
) -> PublishedRecord[Any]:
    """A Zuständigkeit for one LeiKa key or some LeiKa types."""
    content = Zustaendigkeit(
        leistungen=Leistungsauswahl(leika_key=leika_key, leika_typen=typen),
        ars=ars,
        rolle=rolle,
        ziel=ziel,
        organisationseinheit=oe_key,
        onlinedienst=od_key,
        gueltig_ab=ab,
        gueltig_bis=bis,
    )
    return published(RecordKind.ZUSTAENDIGKEIT, tenant, key, content, minute=minute)


def gebuehr(
    tenant: str, key: str, cents: int, *, ars: str | None = None, leika_key: str = PASS, **fields: Any
) -> PublishedRecord[Any]:
    """A fixed Gebühr."""
    content = Gebuehr(leika_key=leika_key, ars=ars, art="fest", betrag_cent=cents, **fields)
    return published(RecordKind.GEBUEHR, tenant, key, content)


def spezialisierung(
    tenant: str,
    key: str,
    ars: str,
    texte: dict[Textmodul, dict[str, str]],
    *,
    bezeichnung: dict[str, str] | None = None,
    leika_key: str = PASS,
    minute: int = 0,
) -> PublishedRecord[Any]:
    """A regional Spezialisierung."""
    content = Spezialisierung(leika_key=leika_key, ars=ars, bezeichnung=bezeichnung, texte=texte)
    return published(RecordKind.SPEZIALISIERUNG, tenant, key, content, minute=minute)
