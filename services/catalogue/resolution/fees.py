"""Gebühren for a region: the fees set for the most specific region on the ARS chain win.

A Leistung's fees are a set (a passport costs one amount under 24 and another above), so every
fee valid on the day at the winning level applies, whatever tenant set it. A fee without an ARS
holds nationwide, like one set for Germany (``"0"``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from services.catalogue.resolution.ars import GERMANY, ars_chain
from services.catalogue.resolution.results import FeeSource

if TYPE_CHECKING:
    from services.catalogue.resolution.model import CatalogueReadModel


def fees(model: CatalogueReadModel, leika_key: str, ars: str, *, as_of: dt.date) -> list[FeeSource]:
    """The Gebühren of `leika_key` that apply in `ars` on `as_of`, ordered by tenant and key."""
    chain = ars_chain(ars)
    depth = {level: index for index, level in enumerate(chain)}
    best: int | None = None
    found: list[FeeSource] = []
    for record in model.gebuehren(leika_key):
        fee = record.content
        level = depth.get(fee.ars or GERMANY)
        if level is None or not fee.holds_on(as_of) or (best is not None and level > best):
            continue
        if best is None or level < best:
            best, found = level, []
        inherited = None if fee.ars == ars or (fee.ars is None and ars == GERMANY) else (fee.ars or GERMANY)
        found.append(FeeSource(record=record, ars=fee.ars, inherited_from=inherited))
    return sorted(found, key=lambda source: (source.record.tenant, source.record.key))
