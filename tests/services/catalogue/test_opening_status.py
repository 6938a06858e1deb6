"""Public holidays per Land and opening hours: open now, until when, next opening."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.catalogue import Oeffnungszeiten
from services.catalogue.holidays import buss_und_bettag, easter_sunday, holidays
from services.catalogue.opening_status import BERLIN, intervals_on, is_open, next_opening, open_status, week_schedule

NATIONWIDE_2026 = {
    dt.date(2026, 1, 1), dt.date(2026, 4, 3), dt.date(2026, 4, 6), dt.date(2026, 5, 1), dt.date(2026, 5, 14),
    dt.date(2026, 5, 25), dt.date(2026, 10, 3), dt.date(2026, 12, 25), dt.date(2026, 12, 26),
}  # fmt: skip
#: Holidays of 2026 beyond the nine nationwide ones, per Land.
EXTRA_2026 = {
    "01": {"Reformationstag"},
    "02": {"Reformationstag"},
    "03": {"Reformationstag"},
    "04": {"Reformationstag"},
    "05": {"Fronleichnam", "Allerheiligen"},
    "06": {"Fronleichnam"},
    "07": {"Fronleichnam", "Allerheiligen"},
    "08": {"Heilige Drei Könige", "Fronleichnam", "Allerheiligen"},
    "09": {"Heilige Drei Könige", "Fronleichnam", "Allerheiligen"},
    "10": {"Fronleichnam", "Mariä Himmelfahrt", "Allerheiligen"},
    "11": {"Internationaler Frauentag"},
    "12": {"Ostersonntag", "Pfingstsonntag", "Reformationstag"},
    "13": {"Internationaler Frauentag", "Reformationstag"},
    "14": {"Reformationstag", "Buß- und Bettag"},
    "15": {"Heilige Drei Könige", "Reformationstag"},
    "16": {"Weltkindertag", "Reformationstag"},
}


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, "2024-03-31"), (2025, "2025-04-20"), (2026, "2026-04-05"), (2038, "2038-04-25"),
     (1961, "1961-04-02"), (2285, "2285-03-22")],
)  # fmt: skip
def test_easter_sunday_follows_the_gregorian_computus(year, easter) -> None:
    assert easter_sunday(year).isoformat() == easter


@pytest.mark.parametrize("land", sorted(EXTRA_2026))
def test_each_land_has_its_holidays(land) -> None:
    days = holidays(2026, land)
    assert days.keys() >= NATIONWIDE_2026
    assert {name for day, name in days.items() if day not in NATIONWIDE_2026} == EXTRA_2026[land]


def test_holidays_that_came_later_or_once() -> None:
    assert dt.date(2017, 10, 31) in holidays(2017, "09")  # the 500th anniversary, everywhere
    assert dt.date(2016, 10, 31) not in holidays(2016, "04") and dt.date(2018, 10, 31) in holidays(2018, "04")
    assert dt.date(2022, 3, 8) not in holidays(2022, "13") and dt.date(2023, 3, 8) in holidays(2023, "13")
    assert holidays(2025, "11")[dt.date(2025, 5, 8)] == "Tag der Befreiung"
    assert buss_und_bettag(2025) == dt.date(2025, 11, 19)
    with pytest.raises(ValueError):
        holidays(2026, "17")


HOURS = Oeffnungszeiten.model_validate(
    {
        "regeln": [
            {"wochentage": [1, 2, 3, 4, 5], "zeiten": [{"von": "08:00", "bis": "12:00"}]},
            {"wochentage": [4], "zeiten": [{"von": "11:00", "bis": "18:00"}]},
            {"wochentage": [6], "zeiten": [{"von": "09:00", "bis": "12:00"}], "wochen": "gerade"},
            {"wochentage": [3], "zeiten": [{"von": "14:00", "bis": "24:00"}], "gueltigAb": "2026-12-01"},
        ],
        "ausnahmen": [
            {"datum": "2026-12-24", "zeiten": []},
            {"datum": "2026-10-03", "zeiten": [{"von": "10:00", "bis": "14:00"}], "hinweis": "Tag der offenen Tür"},
        ],
    }
)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_spans_include_their_start_and_exclude_their_end() -> None:
    assert not is_open(HOURS, at("2026-11-23T07:59"), "01")
    assert is_open(HOURS, at("2026-11-23T08:00"), "01")
    assert not is_open(HOURS, at("2026-11-23T12:00"), "01")


def test_overlapping_rules_merge_and_validity_and_week_parity_apply() -> None:
    thursday = intervals_on(HOURS, dt.date(2026, 11, 26), "01")
    assert [(start.hour, end.hour) for start, end in thursday] == [(8, 18)]
    assert intervals_on(HOURS, dt.date(2026, 11, 21), "01") == []  # Saturday of ISO week 47
    assert intervals_on(HOURS, dt.date(2026, 11, 28), "01")  # Saturday of ISO week 48
    assert [(s.hour, e.hour, e.day) for s, e in intervals_on(HOURS, dt.date(2026, 12, 2), "01")] == [
        (8, 12, 2),
        (14, 0, 3),
    ]  # valid from December, open until midnight
    assert len(intervals_on(HOURS, dt.date(2026, 11, 25), "01")) == 1


def test_exceptions_beat_holidays_and_holidays_beat_rules() -> None:
    open_day = open_status(HOURS, at("2026-10-03T11:00"), "01")
    assert open_day.open and open_day.reason == "ausnahme" and open_day.until == at("2026-10-03T14:00")
    whit_monday = open_status(HOURS, at("2026-05-25T09:00"), "01")
    assert not whit_monday.open and whit_monday.reason == "feiertag" and whit_monday.holiday_name == "Pfingstmontag"
    assert whit_monday.next_opening == at("2026-05-26T08:00")
    assert open_status(HOURS, at("2026-05-25T09:00"), None).open  # unknown Land: no holidays known


def test_next_opening_skips_christmas_and_the_weekend() -> None:
    status = open_status(HOURS, at("2026-12-24T09:30"), "01")
    assert (status.open, status.reason) == (False, "ausnahme")
    assert status.next_opening == at("2026-12-28T08:00")


def test_clocks_changing_do_not_move_local_opening_times() -> None:
    for day in ("2026-03-30", "2026-10-26"):  # the Mondays after the changes; the changes are on Sundays
        assert is_open(HOURS, at(f"{day}T08:00"), "01")
    spring = intervals_on(HOURS, dt.date(2026, 3, 30), "01")[0]
    assert spring[0].utcoffset() == dt.timedelta(hours=2)
    assert next_opening(HOURS, at("2026-03-28T13:00"), "01") == at("2026-03-30T08:00")
    assert is_open(HOURS, dt.datetime(2026, 11, 23, 7, 30, tzinfo=dt.UTC), "01")  # 08:30 in Berlin


def test_a_week_for_display() -> None:
    week = week_schedule(HOURS, dt.date(2026, 12, 21), "01")
    assert [day.reason for day in week] == [
        "regel",
        "regel",
        "regel",
        "ausnahme",
        "feiertag",
        "feiertag",
        "geschlossen",
    ]


@given(st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 12, 31)))
def test_open_exactly_inside_the_days_intervals(naive: dt.datetime) -> None:
    moment = naive.replace(tzinfo=dt.UTC, second=0, microsecond=0)
    local = moment.astimezone(BERLIN)
    inside = any(start <= local < end for start, end in intervals_on(HOURS, local.date(), "09"))
    assert is_open(HOURS, moment, "09") == inside
    following = next_opening(HOURS, moment, "09")
    assert following is not None and following > moment and is_open(HOURS, following, "09")
