"""Smaller Organisationseinheiten: one shared copy of what thousands of them hold alike.

Most of the ~11,000 administrations have no contact data, opening hours or accessibility facts
yet, so each holds an empty Kontakt, Oeffnungszeiten and Barrierefreiheit of its own; and every one
read from JSON holds its own copies of strings such as 'Gemeindeverwaltung'. The content models are
frozen, so equal parts can be shared: that halves the memory an administration takes.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from contracts.catalogue import Barrierefreiheit, Kontakt, Oeffnungszeiten, Organisationseinheit

_SHARED: Final[dict[str, Any]] = {
    "kontakt": Kontakt(),
    "oeffnungszeiten": Oeffnungszeiten(),
    "barrierefreiheit": Barrierefreiheit(),
}
_INTERNED: Final = ("art", "ars", "verwaltung_von")


def compact_organisationseinheit(content: Organisationseinheit) -> Organisationseinheit:
    """`content` with empty parts shared and its common strings interned (the same when nothing is shared)."""
    update: dict[str, Any] = {}
    for field, empty in _SHARED.items():
        part = getattr(content, field)
        if part is not empty and part == empty:
            update[field] = empty
    for field in _INTERNED:
        value = getattr(content, field)
        if value is not None and sys.intern(value) is not value:
            update[field] = sys.intern(value)
    if not update:
        return content
    # Equal values, no validation needed; the fields set stay the caller's, so every dump is unchanged.
    return Organisationseinheit.model_construct(_fields_set=content.model_fields_set, **{**dict(content), **update})
