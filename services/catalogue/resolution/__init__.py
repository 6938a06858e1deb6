"""In-memory resolution of the published catalogue: Zuständigkeiten, Gebühren and regional texts.

Feed a :class:`CatalogueReadModel` every published record (:class:`PublishedRecord`) with ``put``
and take withdrawn or deleted ones out with ``remove``; then ask it ``resolve`` (who is responsible
for a LeiKa key in a region on a day, and which rule decided it), ``online_services``, ``fees``,
``texts`` and ``ozg_overview``. Nothing is stored per (Leistung, Gemeinde) pair: rules are set for
regions and inherited down the ARS hierarchy.
"""

from services.catalogue.resolution.ars import ars_chain
from services.catalogue.resolution.leika_types import canonical_leika_typ, leika_typ_parts
from services.catalogue.resolution.model import CatalogueReadModel
from services.catalogue.resolution.overview import Children
from services.catalogue.resolution.records import ROLLEN, PublishedRecord, Rolle
from services.catalogue.resolution.results import (
    TIE_BREAK,
    DecidingRule,
    FeeSource,
    OnlineLeistung,
    OzgOverview,
    Resolution,
    ResolvedText,
    ResolvedTexts,
    Responsible,
    RoleResolution,
    TextSource,
)

__all__ = [
    "ROLLEN",
    "TIE_BREAK",
    "CatalogueReadModel",
    "Children",
    "DecidingRule",
    "FeeSource",
    "OnlineLeistung",
    "OzgOverview",
    "PublishedRecord",
    "Resolution",
    "ResolvedText",
    "ResolvedTexts",
    "Responsible",
    "RoleResolution",
    "Rolle",
    "TextSource",
    "ars_chain",
    "canonical_leika_typ",
    "leika_typ_parts",
]
