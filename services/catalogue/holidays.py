"""Statutory public holidays (gesetzliche Feiertage) of each Land, for opening hours.

The rules are those of the Länder's Feiertagsgesetze as summarised by the Federal Ministry of the
Interior's list of public holidays: nine days hold in every Land; the others by Land, some only
since a year. Holidays that hold only in part of a Land (Fronleichnam in parts of Saxony and
Thuringia, Mariä Himmelfahrt in Bavaria's Catholic municipalities, the Augsburger Friedensfest) are
left out: an authority there lists them as exceptions of its opening hours.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

#: Land codes: the first two digits of the ARS.
LAENDER = {f"{number:02d}" for number in range(1, 17)}
_WHOLE_GERMANY_REFORMATION_YEAR = 2017

# (name, Länder, first year) of the holidays at fixed dates; None = every Land.
_FIXED: list[tuple[int, int, str, frozenset[str] | None, int]] = [
    (1, 1, "Neujahr", None, 0),
    (1, 6, "Heilige Drei Könige", frozenset({"08", "09", "15"}), 0),
    (3, 8, "Internationaler Frauentag", frozenset({"11"}), 2019),
    (5, 1, "Tag der Arbeit", None, 0),
    (8, 15, "Mariä Himmelfahrt", frozenset({"10"}), 0),
    (9, 20, "Weltkindertag", frozenset({"16"}), 2019),
    (10, 3, "Tag der Deutschen Einheit", None, 1990),
    (10, 31, "Reformationstag", frozenset({"12", "13", "14", "15", "16"}), 0),
    (11, 1, "Allerheiligen", frozenset({"05", "07", "08", "09", "10"}), 0),
    (12, 25, "1. Weihnachtstag", None, 0),
    (12, 26, "2. Weihnachtstag", None, 0),
]
# (days after Easter Sunday, name, Länder).
_MOVABLE: list[tuple[int, str, frozenset[str] | None]] = [
    (-2, "Karfreitag", None),
    (0, "Ostersonntag", frozenset({"12"})),
    (1, "Ostermontag", None),
    (39, "Christi Himmelfahrt", None),
    (49, "Pfingstsonntag", frozenset({"12"})),
    (50, "Pfingstmontag", None),
    (60, "Fronleichnam", frozenset({"05", "06", "07", "08", "09", "10"})),
]
# Holidays introduced later, by Land: (month, day, name, Land, first year).
_LATER: list[tuple[int, int, str, str, int]] = [
    (3, 8, "Internationaler Frauentag", "13", 2023),
    (10, 31, "Reformationstag", "01", 2018),
    (10, 31, "Reformationstag", "02", 2018),
    (10, 31, "Reformationstag", "03", 2018),
    (10, 31, "Reformationstag", "04", 2018),
]
# One-off holidays.
_ONCE: dict[dt.date, tuple[str, frozenset[str]]] = {
    dt.date(2020, 5, 8): ("Tag der Befreiung", frozenset({"11"})),
    dt.date(2025, 5, 8): ("Tag der Befreiung", frozenset({"11"})),
}


def easter_sunday(year: int) -> dt.date:
    """Easter Sunday of the Gregorian calendar (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_offset = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_offset) // 451
    month, day = divmod(h + weekday_offset - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def buss_und_bettag(year: int) -> dt.date:
    """The Wednesday before 23 November."""
    day = dt.date(year, 11, 22)
    return day - dt.timedelta(days=(day.weekday() - 2) % 7)


@lru_cache(maxsize=1024)
def holidays(year: int, land: str) -> dict[dt.date, str]:
    """The statutory public holidays of `land` (two-digit code) in `year`, by date."""
    if land not in LAENDER:
        raise ValueError(f"not a Land code: {land!r}")
    days: dict[dt.date, str] = {}
    for month, day, name, laender, since in _FIXED:
        if year >= since and (laender is None or land in laender):
            days[dt.date(year, month, day)] = name
    easter = easter_sunday(year)
    for offset, name, laender in _MOVABLE:
        if laender is None or land in laender:
            days[easter + dt.timedelta(days=offset)] = name
    for month, day, name, later_land, since in _LATER:
        if land == later_land and year >= since:
            days[dt.date(year, month, day)] = name
    if year == _WHOLE_GERMANY_REFORMATION_YEAR:
        days[dt.date(year, 10, 31)] = "Reformationstag"
    if land == "14":
        days[buss_und_bettag(year)] = "Buß- und Bettag"
    for date, (name, laender) in _ONCE.items():
        if date.year == year and land in laender:
            days[date] = name
    return dict(sorted(days.items()))


def holiday_name(day: dt.date, land: str | None) -> str | None:
    """The name of the public holiday on `day` in `land`, or None (also when the Land is unknown)."""
    if land not in LAENDER:
        return None
    return holidays(day.year, land).get(day)
