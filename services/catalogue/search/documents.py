"""What the search index holds: one flat document per Leistung or Organisationseinheit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from contracts.catalogue import Leistung, Organisationseinheit, Textmodul

DocumentKind = Literal["leistung", "organisationseinheit"]

#: The weighted fields of a document, in the order of the weights in :class:`RankingParameters`.
FIELDS: Final = ("title", "alt", "taxonomy", "body")
TITLE, ALT, TAXONOMY, BODY = range(4)

#: Body text beyond this many characters is not indexed: the beginning of a text says what it is about.
MAX_BODY_CHARACTERS: Final = 20_000
#: The order the text modules are read into the body, the most telling first.
_BODY_MODULES: Final = (
    Textmodul.KURZTEXT,
    Textmodul.VOLLTEXT,
    Textmodul.VORAUSSETZUNGEN,
    Textmodul.UNTERLAGEN,
    Textmodul.VERFAHRENSABLAUF,
    Textmodul.HINWEISE,
    Textmodul.FRISTEN,
    Textmodul.BEARBEITUNGSDAUER,
    Textmodul.RECHTSBEHELF,
)


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """A searchable record.

    ``title`` is its name, ``alt_titles`` short and other-language names, ``keywords`` the editors'
    Suchbegriffe, ``taxonomy_text`` its place in the OZG taxonomy, ``body`` its texts. ``facets``
    are filterable and counted values (``{"themenfeld": ["Familie & Kind"]}``), ``online`` whether
    it can be done online, ``regions`` the ARS it is relevant in (``None``: everywhere), and
    ``payload`` a small dict handed back with every hit.
    """

    id: str
    kind: DocumentKind
    title: str
    alt_titles: Sequence[str] = ()
    keywords: Sequence[str] = ()
    taxonomy_text: str = ""
    body: str = ""
    facets: Mapping[str, Sequence[str]] = field(default_factory=dict)
    online: bool = False
    regions: Sequence[str] | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    def field_texts(self) -> tuple[str, str, str, str]:
        """The text of each field in :data:`FIELDS` order."""
        return (
            self.title,
            "\n".join((*self.alt_titles, *self.keywords)),
            self.taxonomy_text,
            self.body[:MAX_BODY_CHARACTERS],
        )


def leistung_document(
    record_id: str, leistung: Leistung, *, online: bool = False, regions: Sequence[str] | None = None
) -> SearchDocument:
    """The search document of a published Leistung (German texts; other languages' names as alt titles)."""
    title = _german(leistung.bezeichnung)
    other_names = [name for language, name in leistung.bezeichnung.items() if language != "de" and name != title]
    body_parts = [_german(leistung.texte[module]) for module in _BODY_MODULES if module in leistung.texte]
    body_parts.extend(verweis.titel for verweis in leistung.rechtsgrundlagen)
    facets: dict[str, list[str]] = {}
    if leistung.themenfeld:
        facets["themenfeld"] = [leistung.themenfeld]
    if leistung.lebenslage:
        facets["lebenslage"] = [leistung.lebenslage]
    if leistung.leika_typ:
        facets["leika_typ"] = [typ.strip() for typ in leistung.leika_typ.split(",") if typ.strip()]
    payload: dict[str, Any] = {"leikaKey": leistung.leika_key}
    if leistung.ozg_id:
        payload["ozgId"] = leistung.ozg_id
    return SearchDocument(
        id=record_id,
        kind="leistung",
        title=title,
        alt_titles=(*leistung.kurzbezeichnungen, *other_names),
        keywords=tuple(leistung.suchbegriffe),
        taxonomy_text="\n".join(
            text for text in (leistung.ozg_leistung, leistung.lebenslage, leistung.themenfeld) if text
        ),
        body="\n".join(body_parts),
        facets=facets,
        online=online,
        regions=tuple(regions) if regions is not None else None,
        payload=payload,
    )


def organisationseinheit_document(record_id: str, oe: Organisationseinheit) -> SearchDocument:
    """The search document of a published Organisationseinheit, relevant in the regions it serves or sits in."""
    title = _german(oe.name)
    other_names = [name for language, name in oe.name.items() if language != "de" and name != title]
    address = oe.anschrift
    body = (
        " ".join(
            part
            for part in (address.strasse, address.hausnummer, address.postleitzahl, address.ort, address.zusatz)
            if part
        )
        if address
        else ""
    )
    regions = tuple(dict.fromkeys(ars for ars in (oe.verwaltung_von, oe.ars) if ars)) or None
    payload: dict[str, Any] = {}
    if oe.ars:
        payload["ars"] = oe.ars
    if address:
        payload["ort"] = address.ort
    return SearchDocument(
        id=record_id,
        kind="organisationseinheit",
        title=title,
        alt_titles=(*([oe.kurzname] if oe.kurzname else []), *other_names),
        taxonomy_text=oe.art or "",
        body=body,
        facets={"art": [oe.art]} if oe.art else {},
        regions=regions,
        payload=payload,
    )


def _german(texts: Mapping[str, str]) -> str:
    return texts.get("de") or next(iter(texts.values()))
