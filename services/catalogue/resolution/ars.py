"""The ARS hierarchy as string prefixes: a region's ancestors are read off its Regionalschlüssel.

An ARS is Land (2 digits), Regierungsbezirk (3), Kreis (5), Gemeindeverband (9), Gemeinde (12);
each level's key starts with its parent's. Germany as a whole is ``"0"``, which is no prefix of
anything (``"01"`` is Schleswig-Holstein, ``"10"`` the Saarland), so it is added to every chain.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from typing import Final

from contracts.catalogue import ARS_PATTERN, RegionLevel

GERMANY: Final = "0"
#: Lengths of the levels below Germany, from the most specific.
_LENGTHS: Final = (12, 9, 5, 3, 2)
_LEVELS: Final[dict[int, RegionLevel]] = {
    1: "bund",
    2: "land",
    3: "regierungsbezirk",
    5: "kreis",
    9: "gemeindeverband",
    12: "gemeinde",
}
_ARS: Final = re.compile(ARS_PATTERN)


@lru_cache(maxsize=65_536)
def ars_chain(ars: str) -> tuple[str, ...]:
    """`ars` and every region above it, the most specific first, ending with Germany (``"0"``).

    Raises ValueError for a string that is no ARS. The strings are interned: the read model's
    dictionaries compare them by identity first.
    """
    if not _ARS.fullmatch(ars):
        raise ValueError(f"{ars!r} is no Amtlicher Regionalschlüssel")
    if ars == GERMANY:
        return (GERMANY,)
    return (*(sys.intern(ars[:length]) for length in _LENGTHS if length <= len(ars)), GERMANY)


def region_level(ars: str) -> RegionLevel:
    """The level of the region an ARS names (``"0"`` is the Bund)."""
    return _LEVELS[len(ars)]


def lies_below(ars: str, region: str) -> bool:
    """Whether `ars` is a region strictly inside `region`."""
    if region == GERMANY:
        return ars != GERMANY
    return len(ars) > len(region) and ars.startswith(region)


def administered_regions(ars: str) -> tuple[str, ...]:
    """The regions whose administration serves `ars`: a Gemeinde's own, then its Gemeindeverband's.

    Above the Gemeindeverband there is no municipal administration: the result is empty.
    """
    if len(ars) == 12:
        return (ars, ars[:9])
    if len(ars) == 9:
        return (ars,)
    return ()
