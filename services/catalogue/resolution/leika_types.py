"""LeiKa types as written in the catalogue ('1', '2/3', '1, 2/3'), compared in one canonical form.

A Leistung may carry several types at once ("1, 2/3": the Bund executes one part, Land or Kommune
the rest). A Zuständigkeit for LeiKa types matches a Leistung whose type, canonically written,
is one of the rule's: the types are compared as whole designations, so a rule for '2/3' does not
match '1, 2/3' unless it lists that too. Canonical means: the comma-separated parts, trimmed,
without repeats, in sorted order, joined by ", " — so '2/3,1' and '1, 2/3' are one type.
"""

from __future__ import annotations

import sys


def canonical_leika_typ(typ: str | None) -> str | None:
    """The canonical spelling of a LeiKa type, or None when it names none."""
    if typ is None:
        return None
    parts = leika_typ_parts(typ)
    return sys.intern(", ".join(parts)) if parts else None


def leika_typ_parts(typ: str) -> tuple[str, ...]:
    """The single designations a LeiKa type is made of, sorted: '1, 2/3' -> ('1', '2/3')."""
    return tuple(sorted({" ".join(part.split()) for part in typ.split(",")} - {""}))
