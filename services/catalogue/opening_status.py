"""Opening hours answered: is an authority open at a moment, until when, and when does it open next?

Times are local times in Europe/Berlin: an office open 08:00 to 12:00 is open from eight o'clock on the
day the clocks change too. A day's hours come from the first that applies: an exception for that
date, closure on a public holiday of the authority's Land, then the weekly rules valid that day
(overlapping rules are merged). A span includes its start and excludes its end; '24:00' ends the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from contracts.catalogue import Oeffnungszeiten, Zeitraum
from services.catalogue.holidays import holiday_name

BERLIN = ZoneInfo("Europe/Berlin")
#: Minutes since midnight: [start, end).
Span = tuple[int, int]
Reason = Literal["regel", "ausnahme", "feiertag", "geschlossen"]


@dataclass(frozen=True, slots=True)
class DayHours:
    """The spans an authority is open on one day, and why."""

    day: dt.date
    spans: tuple[Span, ...]
    reason: Reason
    holiday: str | None = None


@dataclass(frozen=True, slots=True)
class OpenStatus:
    """What an authority's page shows: open now and until when, or when it opens next."""

    open: bool
    until: dt.datetime | None
    next_opening: dt.datetime | None
    reason: Reason
    holiday_name: str | None


def day_hours(hours: Oeffnungszeiten, day: dt.date, land: str | None) -> DayHours:
    """The opening spans of `day`."""
    for exception in hours.ausnahmen:
        if exception.datum == day:
            return DayHours(day, _merged(_span(time) for time in exception.zeiten), "ausnahme")
    holiday = holiday_name(day, land)
    if holiday is not None and hours.an_feiertagen_geschlossen:
        return DayHours(day, (), "feiertag", holiday)
    weekday, even_week = day.isoweekday(), day.isocalendar().week % 2 == 0
    spans = [
        _span(time)
        for rule in hours.regeln
        if weekday in rule.wochentage
        and rule.holds_on(day)
        and (rule.wochen == "alle" or (rule.wochen == "gerade") == even_week)
        for time in rule.zeiten
    ]
    merged = _merged(spans)
    return DayHours(day, merged, "regel" if merged else "geschlossen", holiday)


def intervals_on(hours: Oeffnungszeiten, day: dt.date, land: str | None) -> list[tuple[dt.datetime, dt.datetime]]:
    """The opening spans of `day` as aware datetimes (Europe/Berlin)."""
    return [(_at(day, start), _at(day, end)) for start, end in day_hours(hours, day, land).spans]


def is_open(hours: Oeffnungszeiten, at: dt.datetime, land: str | None) -> bool:
    """Whether the authority is open at the aware moment `at`."""
    local = at.astimezone(BERLIN)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in day_hours(hours, local.date(), land).spans)


def open_status(hours: Oeffnungszeiten, at: dt.datetime, land: str | None, *, horizon_days: int = 62) -> OpenStatus:
    """Open at `at` and until when, or closed and when next open (within `horizon_days`)."""
    local = at.astimezone(BERLIN)
    today = day_hours(hours, local.date(), land)
    minute = local.hour * 60 + local.minute
    for start, end in today.spans:
        if start <= minute < end:
            return OpenStatus(True, _at(local.date(), end), None, today.reason, today.holiday)
    return OpenStatus(
        False, None, next_opening(hours, at, land, horizon_days=horizon_days), today.reason, today.holiday
    )


def next_opening(
    hours: Oeffnungszeiten, after: dt.datetime, land: str | None, *, horizon_days: int = 62
) -> dt.datetime | None:
    """The first moment after `after` at which the authority opens, or None within the horizon."""
    local = after.astimezone(BERLIN)
    minute = local.hour * 60 + local.minute
    for offset in range(horizon_days + 1):
        day = local.date() + dt.timedelta(days=offset)
        for start, _ in day_hours(hours, day, land).spans:
            if offset > 0 or start > minute:
                return _at(day, start)
    return None


def week_schedule(hours: Oeffnungszeiten, week_start: dt.date, land: str | None) -> list[DayHours]:
    """Seven days of opening hours from `week_start`, for display."""
    return [day_hours(hours, week_start + dt.timedelta(days=offset), land) for offset in range(7)]


def _span(time: Zeitraum) -> Span:
    return _minutes(time.von), _minutes(time.bis)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _merged(spans: Iterable[Span]) -> tuple[Span, ...]:
    ordered = sorted(spans)
    merged: list[Span] = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _at(day: dt.date, minute: int) -> dt.datetime:
    if minute >= 24 * 60:
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=BERLIN)
    return dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=BERLIN)
