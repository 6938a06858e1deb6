"""The shapes of the catalogue's editorial records (after XZuFi 2.2, PVOG and LeiKa).

They cross service boundaries twice: editors send them to the catalogue's API, and the catalogue's
``catalogue.*`` events carry the published ones to other services (routing builds its read model of
Zuständigkeiten and Online-Dienste from them). JSON field names are camelCase; Python names are
snake_case. Money is integer cents with an ISO 4217 currency; dates are ISO dates (Europe/Berlin).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator
from pydantic.alias_generators import to_camel

#: An Amtlicher Regionalschlüssel: 2 digits (Land) up to 12 (Gemeinde); "0" is Germany as a whole.
ARS_PATTERN = r"^(0|\d{2}|\d{3}|\d{5}|\d{9}|\d{12})$"
Ars = Annotated[str, Field(pattern=ARS_PATTERN, description="Amtlicher Regionalschlüssel (ARS); '0' = Germany.")]
#: A LeiKa key is 14 digits; records without one in the LeiKa use a local key starting with 'X'.
LeikaKey = Annotated[
    str, Field(pattern=r"^(\d{14}|X[0-9A-Za-z]{1,31})$", description="LeiKa key, or a local key 'X…'.")
]
#: The key editors give a record inside their tenant (letters, digits, '.', '_', '-').
RecordKey = Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$")]
#: A language tag such as 'de', 'en' or 'de-x-leichte-sprache'.
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[0-9A-Za-z-]{1,32})?$")]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]
LongText = Annotated[str, Field(min_length=1, max_length=50_000)]


def _non_empty(texts: dict[str, str]) -> dict[str, str]:
    if not texts:
        raise ValueError("at least one language is required")
    return texts


#: A text in several languages; readers get their language or fall back to German.
LocalizedText = Annotated[dict[Language, LongText], AfterValidator(_non_empty)]
LocalizedName = Annotated[dict[Language, ShortText], AfterValidator(_non_empty)]


class Model(BaseModel):
    """Strict camelCase models: unknown fields are an error in editors' input."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class RecordKind(StrEnum):
    """The kinds of editorial records, each with its own content model and topic."""

    LEISTUNG = "leistung"
    SPEZIALISIERUNG = "spezialisierung"
    GEBUEHR = "gebuehr"
    ORGANISATIONSEINHEIT = "organisationseinheit"
    ONLINEDIENST = "onlinedienst"
    ZUSTAENDIGKEIT = "zustaendigkeit"
    SYNONYM = "synonym"


class Textmodul(StrEnum):
    """The text modules of a Leistungsbeschreibung (XZuFi/FIM Stammtext)."""

    KURZTEXT = "kurztext"
    VOLLTEXT = "volltext"
    VORAUSSETZUNGEN = "voraussetzungen"
    UNTERLAGEN = "unterlagen"
    VERFAHRENSABLAUF = "verfahrensablauf"
    FRISTEN = "fristen"
    BEARBEITUNGSDAUER = "bearbeitungsdauer"
    HINWEISE = "hinweise"
    RECHTSBEHELF = "rechtsbehelf"


class Verweis(Model):
    """A titled link: a Rechtsgrundlage or a Formular."""

    titel: ShortText
    url: HttpUrl | None = None


class Leistung(Model):
    """A Leistung (administrative service) with its Stammtext, keyed by its LeiKa key."""

    leika_key: LeikaKey
    bezeichnung: LocalizedName
    kurzbezeichnungen: list[ShortText] = Field(default_factory=list, max_length=20)
    leika_typ: str | None = Field(None, max_length=20, description="LeiKa type: '1', '2/3', '4', …")
    texte: dict[Textmodul, LocalizedText] = Field(default_factory=dict)
    rechtsgrundlagen: list[Verweis] = Field(default_factory=list, max_length=100)
    formulare: list[Verweis] = Field(default_factory=list, max_length=100)
    themenfeld: ShortText | None = None
    lebenslage: ShortText | None = None
    ozg_leistung: ShortText | None = None
    ozg_id: str | None = Field(None, max_length=20)
    suchbegriffe: list[ShortText] = Field(default_factory=list, max_length=50)
    version: str | None = Field(None, max_length=40)
    freigabedatum: dt.date | None = None


class Spezialisierung(Model):
    """A region's specialisation of a Leistung: texts that replace the Stammtext's in that region."""

    leika_key: LeikaKey
    ars: Ars
    bezeichnung: LocalizedName | None = None
    texte: dict[Textmodul, LocalizedText] = Field(default_factory=dict)


class Gueltigkeit(Model):
    """Validity dates: from (inclusive) and to (inclusive); open ends are unbounded."""

    gueltig_ab: dt.date | None = None
    gueltig_bis: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.gueltig_ab and self.gueltig_bis and self.gueltig_bis < self.gueltig_ab:
            raise ValueError("gueltigBis lies before gueltigAb")
        return self

    def holds_on(self, day: dt.date) -> bool:
        """Whether the record is valid on `day`."""
        return (self.gueltig_ab is None or self.gueltig_ab <= day) and (
            self.gueltig_bis is None or day <= self.gueltig_bis
        )


class Gebuehr(Gueltigkeit):
    """A fee for a Leistung, optionally only in one region: fixed, a range, or a rule with bounds."""

    leika_key: LeikaKey
    ars: Ars | None = Field(None, description="Only in this region (and below); none = everywhere.")
    art: Literal["fest", "spanne", "regel"]
    betrag_cent: int | None = Field(None, ge=0, le=10**12)
    min_cent: int | None = Field(None, ge=0, le=10**12)
    max_cent: int | None = Field(None, ge=0, le=10**12)
    waehrung: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    beschreibung: LongText | None = None

    @model_validator(mode="after")
    def _amounts_fit_the_kind(self) -> Self:
        if self.art == "fest" and (self.betrag_cent is None or self.min_cent is not None or self.max_cent is not None):
            raise ValueError("a fixed fee has betragCent and no minCent/maxCent")
        if self.art == "spanne" and (self.min_cent is None or self.max_cent is None or self.betrag_cent is not None):
            raise ValueError("a range has minCent and maxCent and no betragCent")
        if self.art == "regel" and (not self.beschreibung or self.betrag_cent is not None):
            raise ValueError("a rule fee has a beschreibung and no betragCent")
        if self.min_cent is not None and self.max_cent is not None and self.max_cent < self.min_cent:
            raise ValueError("maxCent is below minCent")
        return self


class Zeitraum(Model):
    """A span of time on one day, 'HH:MM' to 'HH:MM' (24:00 allowed as the end)."""

    von: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    bis: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.bis <= self.von:
            raise ValueError("bis must lie after von")
        return self


class Oeffnungsregel(Gueltigkeit):
    """Weekly opening hours: on these weekdays (1 = Monday … 7 = Sunday), these spans."""

    wochentage: list[Annotated[int, Field(ge=1, le=7)]] = Field(min_length=1, max_length=7)
    zeiten: list[Zeitraum] = Field(min_length=1, max_length=10)
    #: Only in these ISO weeks' parity ('gerade'/'ungerade'), for offices open every other week.
    wochen: Literal["alle", "gerade", "ungerade"] = "alle"


class Oeffnungsausnahme(Model):
    """A day that differs from the weekly rules: closed, or open at other times."""

    datum: dt.date
    zeiten: list[Zeitraum] = Field(default_factory=list, max_length=10, description="Empty = closed.")
    hinweis: ShortText | None = None


class Oeffnungszeiten(Model):
    """Opening hours as structured rules, so that 'open now' and 'open on day X' can be answered."""

    regeln: list[Oeffnungsregel] = Field(default_factory=list, max_length=50)
    ausnahmen: list[Oeffnungsausnahme] = Field(default_factory=list, max_length=400)
    #: Closed on the public holidays of the authority's Land (and the nationwide ones).
    an_feiertagen_geschlossen: bool = True
    hinweis: ShortText | None = None


class Anschrift(Model):
    """A postal address."""

    strasse: ShortText | None = None
    hausnummer: str | None = Field(None, max_length=20)
    postleitzahl: str | None = Field(None, pattern=r"^\d{5}$")
    ort: ShortText
    zusatz: ShortText | None = None


class Kontakt(Model):
    """Ways to reach an authority."""

    telefon: str | None = Field(None, max_length=40)
    fax: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    web: HttpUrl | None = None


class Barrierefreiheit(Model):
    """Accessibility of an authority's premises."""

    rollstuhlgerecht: bool | None = None
    aufzug: bool | None = None
    behindertenparkplatz: bool | None = None
    induktionsschleife: bool | None = None
    hinweis: ShortText | None = None


class Organisationseinheit(Model):
    """An authority or one of its offices (Organisationseinheit)."""

    name: LocalizedName
    kurzname: ShortText | None = None
    art: ShortText | None = Field(None, description="e.g. 'Gemeindeverwaltung', 'Landratsamt'.")
    ars: Ars | None = Field(None, description="The region it sits in.")
    verwaltung_von: Ars | None = Field(
        None, description="The Gemeinde or Gemeindeverband whose administration this is, if any."
    )
    anschrift: Anschrift | None = None
    kontakt: Kontakt = Field(default_factory=Kontakt)
    oeffnungszeiten: Oeffnungszeiten = Field(default_factory=Oeffnungszeiten)
    barrierefreiheit: Barrierefreiheit = Field(default_factory=Barrierefreiheit)


Vertrauensniveau = Literal["niedrig", "substanziell", "hoch"]


class Onlinedienst(Model):
    """An online service through which a Leistung can be applied for."""

    name: LocalizedName
    url: HttpUrl
    leika_keys: list[LeikaKey] = Field(min_length=1, max_length=500)
    vertrauensniveau: Vertrauensniveau = "niedrig"
    sprachen: list[Language] = Field(default_factory=lambda: ["de"], min_length=1, max_length=30)
    routing_destination_id: uuid.UUID | None = Field(
        None, description="The routing destination (Zustellpunkt) that takes its submissions."
    )


class Leistungsauswahl(Model):
    """Which Leistungen a Zuständigkeit is about: one LeiKa key, or every Leistung of some LeiKa types."""

    leika_key: LeikaKey | None = None
    leika_typen: list[Annotated[str, Field(max_length=20)]] | None = Field(None, min_length=1, max_length=20)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.leika_key is None) == (self.leika_typen is None):
            raise ValueError("give exactly one of leikaKey and leikaTypen")
        return self


class Zustaendigkeit(Gueltigkeit):
    """(Leistung, region) -> authority and/or online service, inherited down the ARS hierarchy.

    Set for a Kreis, it holds for every Gemeinde in it unless a rule set lower down overrides it. With
    ``ziel: gemeindeverwaltung`` the authority is the administration (``verwaltungVon``) of the Gemeinde
    asked about, so one rule at Land level answers for every Gemeinde in the Land.
    """

    leistungen: Leistungsauswahl
    ars: Ars
    rolle: Literal["zustaendige_stelle", "ansprechpunkt"] = "zustaendige_stelle"
    ziel: Literal["fest", "gemeindeverwaltung"] = "fest"
    organisationseinheit: RecordKey | None = Field(None, description="Key of the tenant's Organisationseinheit.")
    onlinedienst: RecordKey | None = Field(None, description="Key of the tenant's Onlinedienst.")

    @model_validator(mode="after")
    def _has_a_target(self) -> Self:
        if self.ziel == "gemeindeverwaltung" and self.organisationseinheit is not None:
            raise ValueError("ziel 'gemeindeverwaltung' finds the authority itself; give no organisationseinheit")
        if self.ziel == "fest" and self.organisationseinheit is None and self.onlinedienst is None:
            raise ValueError("give an organisationseinheit, an onlinedienst, or both")
        return self


class Synonym(Model):
    """Words citizens use for a term ('Perso' for 'Personalausweis'), used by search both ways."""

    begriff: ShortText
    synonyme: list[ShortText] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _no_blank_words(self) -> Self:
        if any(not re.search(r"\w", word) for word in [self.begriff, *self.synonyme]):
            raise ValueError("synonyms must contain letters or digits")
        return self


#: The content model of each kind of record.
CONTENT_MODELS: dict[RecordKind, type[Model]] = {
    RecordKind.LEISTUNG: Leistung,
    RecordKind.SPEZIALISIERUNG: Spezialisierung,
    RecordKind.GEBUEHR: Gebuehr,
    RecordKind.ORGANISATIONSEINHEIT: Organisationseinheit,
    RecordKind.ONLINEDIENST: Onlinedienst,
    RecordKind.ZUSTAENDIGKEIT: Zustaendigkeit,
    RecordKind.SYNONYM: Synonym,
}

#: Region levels of the ARS hierarchy, from the top.
RegionLevel = Literal["bund", "land", "regierungsbezirk", "kreis", "gemeindeverband", "gemeinde"]


class Region(Model):
    """A region of the ARS hierarchy as the municipality register (GV100AD) describes it."""

    ars: Ars
    ags: str | None = Field(None, pattern=r"^\d{8}$", description="Amtlicher Gemeindeschlüssel (Gemeinden).")
    level: RegionLevel
    name: ShortText
    parent_ars: Ars | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    successor_ars: list[Ars] = Field(default_factory=list)
    predecessor_ars: list[Ars] = Field(default_factory=list)
