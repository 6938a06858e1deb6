"""Trust levels (Vertrauensniveaus, TR-03107-1) as ``acr`` values, and the session limits TR-03160-1 sets
for each: how long a login session may last at most, and how long it may stay unused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

LEVELS = ("niedrig", "substanziell", "hoch")

#: level -> (maximum lifetime, idle timeout)
SESSION_LIMITS = {
    "niedrig": (dt.timedelta(hours=12), dt.timedelta(minutes=60)),
    "substanziell": (dt.timedelta(hours=2), dt.timedelta(minutes=30)),
    "hoch": (dt.timedelta(minutes=30), dt.timedelta(minutes=5)),
}


def rank(level: str) -> int:
    """The position of `level` (unknown levels rank below niedrig)."""
    return LEVELS.index(level) if level in LEVELS else -1


def satisfies(actual: str, minimum: str | None) -> bool:
    """Whether a session at `actual` meets a demand for `minimum` (None demands nothing)."""
    return minimum is None or rank(actual) >= rank(minimum)


def highest(levels: Iterable[str]) -> str | None:
    """The highest known level among `levels`."""
    known = [level for level in levels if level in LEVELS]
    return max(known, key=rank) if known else None


def lowest(first: str, second: str) -> str:
    """The lower of two levels."""
    return first if rank(first) <= rank(second) else second
