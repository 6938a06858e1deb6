"""A Leistung's texts for a region: the Stammtext overlaid, module by module, by Spezialisierungen.

For each text module (and the name), the most specific region on the ARS chain whose
Spezialisierung has that module supplies it (of several for one region, the most recently
published); modules no Spezialisierung has come from the Stammtext. Regional content outranks
language: a Gemeinde's German text replaces the Stammtext's English one, because it says what
holds there. Within the chosen source the language falls back from the asked tag to its primary
language ('de-x-leichte-sprache' → 'de'), then to German, then to the first language there is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from contracts.catalogue import Textmodul
from services.catalogue.resolution.ars import ars_chain
from services.catalogue.resolution.results import ResolvedText, ResolvedTexts, TextSource

if TYPE_CHECKING:
    from services.catalogue.resolution.model import CatalogueReadModel

_FALLBACK_LANGUAGE = "de"


def texts(model: CatalogueReadModel, leika_key: str, ars: str, language: str = "de") -> ResolvedTexts | None:
    """The Leistung's name and text modules as they read in `ars`; None for an unpublished Leistung."""
    leistung = model.leistung(leika_key)
    if leistung is None:
        return None
    depth = {level: index for index, level in enumerate(ars_chain(ars))}
    # Already most recently published first; a stable sort keeps that order within one region.
    overlays = sorted(
        (record for record in model.spezialisierungen(leika_key) if record.content.ars in depth),
        key=lambda record: depth[record.content.ars],
    )
    stammtext = TextSource(leistung.record_id, leistung.tenant, leistung.key, None)
    bezeichnung = _pick(leistung.content.bezeichnung, language, stammtext)
    texte = {modul: _pick(text, language, stammtext) for modul, text in leistung.content.texte.items()}
    named = False
    overlaid: set[Textmodul] = set()
    for record in overlays:
        source = TextSource(record.record_id, record.tenant, record.key, record.content.ars)
        if record.content.bezeichnung and not named:
            bezeichnung, named = _pick(record.content.bezeichnung, language, source), True
        for modul, text in record.content.texte.items():
            if modul not in overlaid:
                texte[modul] = _pick(text, language, source)
                overlaid.add(modul)
    ordered = {modul: texte[modul] for modul in Textmodul if modul in texte}
    return ResolvedTexts(leika_key, language, leistung, bezeichnung, ordered)


def pick_language(available: Mapping[str, str], language: str) -> str:
    """The language to show of those `available`: the asked one, its primary language, German, the first."""
    primary = language.split("-", 1)[0]
    for candidate in (language, primary, _FALLBACK_LANGUAGE):
        if candidate in available:
            return candidate
    return min(available)


def _pick(available: Mapping[str, str], language: str, source: TextSource) -> ResolvedText:
    chosen = pick_language(available, language)
    return ResolvedText(available[chosen], chosen, source)
