from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.payouts.schedule import (
    PaySchedule,
    add_business_days,
    arrival_window,
    is_business_day,
    next_business_day,
    pay_date,
    pay_period,
    period_bounds_utc,
    schedule_for,
    scheduled_pay_date,
)

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
HONOLULU = ZoneInfo("Pacific/Honolulu")
US_ZONES = [NEW_YORK, LOS_ANGELES, HONOLULU]

# Weekday closures from the Federal Reserve's published schedule (federalreserve.gov, "Holidays
# Observed by the Federal Reserve System 2026-2030"), typed in by hand so the test does not trust
# the library it checks. Saturday holidays are absent: the Fed stays open the Friday before.
FED_CLOSED_BY_YEAR = {
    2026: "01-01 01-19 02-16 05-25 06-19 09-07 10-12 11-11 11-26 12-25",
    2027: "01-01 01-18 02-15 05-31 07-05 09-06 10-11 11-11 11-25",
    2028: "01-17 02-21 05-29 06-19 07-04 09-04 10-09 11-23 12-25",
    2029: "01-01 01-15 02-19 05-28 06-19 07-04 09-03 10-08 11-12 11-22 12-25",
}
FED_CLOSED = {
    date.fromisoformat(f"{year}-{day}")
    for year, days in FED_CLOSED_BY_YEAR.items()
    for day in days.split()
}


def fed_open(d: date) -> bool:
    assert date(2026, 1, 1) <= d <= date(2029, 12, 31), "outside the hand-typed Fed schedule"
    return d.isoweekday() <= 5 and d not in FED_CLOSED


def expected_period_date(local_day: str) -> date:
    # Oracle for P3 read straight off the seed's wording, on the local date as text, and using
    # "the day before the 1st of next month" for the last day rather than calendar.monthrange.
    year, month, day = (int(part) for part in local_day.split("-"))
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    if day <= 15:
        return date(next_year, next_month, 1) - timedelta(days=1)
    else:
        return date(next_year, next_month, 15)


def instant(local: str, tz: ZoneInfo, fold: int = 0) -> datetime:
    """A local wall time in tz, handed over as a UTC instant, as the database would."""
    return datetime.fromisoformat(local).replace(tzinfo=tz, fold=fold).astimezone(UTC)


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


# --- P3: which period date -------------------------------------------------------------------


@pytest.mark.parametrize("tz", US_ZONES, ids=str)
@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_every_day_of_the_year_at_both_ends_of_the_local_day(year, tz):
    # rule P3
    for day in days_of(year):
        for wall in (time(0, 0), time(23, 59, 59, 999_999)):
            confirmed_at = datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)
            assert scheduled_pay_date(confirmed_at, tz) == expected_period_date(day.isoformat())


@settings(max_examples=600, deadline=None)
@given(
    local_day=st.dates(date(2026, 1, 1), date(2028, 12, 31)),  # two common years and a leap year
    wall=st.times(),
    fold=st.integers(0, 1),
    tz=st.sampled_from(US_ZONES),
    as_name=st.booleans(),
)
def test_period_and_pay_date_properties(local_day, wall, fold, tz, as_name):
    # rule P3, rule P4
    confirmed_at = datetime.combine(local_day, wall.replace(fold=fold), tzinfo=tz).astimezone(UTC)
    zone = tz.key if as_name else tz

    scheduled = scheduled_pay_date(confirmed_at, zone)
    paid = pay_date(confirmed_at, zone)

    assert scheduled == expected_period_date(local_day.isoformat())
    assert fed_open(paid)
    assert paid >= scheduled
    between = [scheduled + timedelta(days=i) for i in range((paid - scheduled).days)]
    assert not any(fed_open(d) for d in between)


@pytest.mark.parametrize("tz", [NEW_YORK, HONOLULU], ids=str)
@pytest.mark.parametrize(
    ("local", "period_date"),
    [
        ("2026-03-15T23:59:59", date(2026, 3, 31)),
        ("2026-03-16T00:00:00", date(2026, 4, 15)),
        ("2026-03-31T23:59:59", date(2026, 4, 15)),
        ("2026-04-01T00:00:00", date(2026, 4, 30)),
    ],
)
def test_boundaries_at_local_midnight(local, period_date, tz):
    # rule P3
    assert scheduled_pay_date(instant(local, tz), tz) == period_date


@pytest.mark.parametrize(
    ("tz", "period_date"),
    [
        ("America/Los_Angeles", date(2026, 3, 31)),  # 20:30 on the 15th
        ("America/New_York", date(2026, 3, 31)),  # 23:30 on the 15th
        ("Pacific/Honolulu", date(2026, 3, 31)),  # 17:30 on the 15th
        ("UTC", date(2026, 4, 15)),
        ("Asia/Tokyo", date(2026, 4, 15)),
    ],
)
def test_the_day_is_taken_in_the_group_time_zone(tz, period_date):
    # rule P3: 03:30 UTC on the 16th is still the 15th on the US mainland and in Hawaii
    assert scheduled_pay_date(datetime(2026, 3, 16, 3, 30, tzinfo=UTC), tz) == period_date


def test_instant_in_any_offset_is_read_in_the_group_time_zone():
    # rule P3: 00:30 on the 16th in Kolkata is 19:00 UTC on the 15th, 15:00 in New York
    confirmed_at = datetime(2026, 3, 16, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert scheduled_pay_date(confirmed_at, NEW_YORK) == date(2026, 3, 31)


@pytest.mark.parametrize(
    ("local", "period_date"),
    [
        ("2028-02-15T12:00", date(2028, 2, 29)),  # leap year
        ("2026-02-15T12:00", date(2026, 2, 28)),
        ("2027-02-15T12:00", date(2027, 2, 28)),
        ("2028-02-29T23:59:59", date(2028, 3, 15)),
        ("2026-02-28T23:59:59", date(2026, 3, 15)),
        ("2026-03-01T00:00", date(2026, 3, 31)),
        ("2028-03-01T00:00", date(2028, 3, 31)),
    ],
)
def test_end_of_february(local, period_date):
    # rule P3
    assert scheduled_pay_date(instant(local, NEW_YORK), NEW_YORK) == period_date


@pytest.mark.parametrize(
    ("local", "tz", "period_date"),
    [
        ("2026-12-16T00:00", NEW_YORK, date(2027, 1, 15)),
        ("2026-12-31T23:59:59", NEW_YORK, date(2027, 1, 15)),
        # 07:30 UTC on New Year's Day is still New Year's Eve in Los Angeles
        ("2027-12-31T23:30", LOS_ANGELES, date(2028, 1, 15)),
        ("2028-01-01T00:00", LOS_ANGELES, date(2028, 1, 31)),
    ],
)
def test_second_half_of_december_is_paid_in_january(local, tz, period_date):
    # rule P3
    assert scheduled_pay_date(instant(local, tz), tz) == period_date


@pytest.mark.parametrize(
    ("local", "tz", "fold", "period_date"),
    [
        # New York falls back at 02:00 on Sunday 1 November 2026, the first of the month
        ("2026-10-31T23:59:59", NEW_YORK, 0, date(2026, 11, 15)),
        ("2026-11-01T00:30", NEW_YORK, 0, date(2026, 11, 30)),
        ("2026-11-01T01:30", NEW_YORK, 0, date(2026, 11, 30)),
        ("2026-11-01T01:30", NEW_YORK, 1, date(2026, 11, 30)),
        # ... and springs forward at 02:00 on 8 March 2026
        ("2026-03-08T00:30", NEW_YORK, 0, date(2026, 3, 31)),
        ("2026-03-08T03:30", NEW_YORK, 0, date(2026, 3, 31)),
        ("2026-11-01T00:30", LOS_ANGELES, 0, date(2026, 11, 30)),
        # Havana falls back at 01:00 to 00:00, so midnight of 1 November happens twice
        ("2026-10-31T23:59:59", ZoneInfo("America/Havana"), 0, date(2026, 11, 15)),
        ("2026-11-01T00:30", ZoneInfo("America/Havana"), 0, date(2026, 11, 30)),
        ("2026-11-01T00:30", ZoneInfo("America/Havana"), 1, date(2026, 11, 30)),
    ],
)
def test_daylight_saving_transition_days(local, tz, fold, period_date):
    # rule P3
    assert scheduled_pay_date(instant(local, tz, fold), tz) == period_date


def test_naive_datetime_is_refused():
    # rule P3: a naive datetime names no instant, so no local day
    naive = datetime(2026, 3, 15, 12, 0)
    for compute in (scheduled_pay_date, pay_date, schedule_for):
        with pytest.raises(ValueError, match="timezone-aware"):
            compute(naive, NEW_YORK)


# --- P4: business days and arrival ---------------------------------------------------------


def test_business_days_follow_the_federal_reserve_schedule():
    # rule P4: not the federal (OPM) calendar, which closes on Friday 2027-06-18, 2027-12-24,
    # 2027-12-31 and 2028-11-10 for Saturday holidays; nor the NYSE's (Good Friday)
    day = date(2026, 1, 1)
    while day <= date(2029, 12, 31):
        assert is_business_day(day) == fed_open(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("period_date", "paid"),
    [
        (date(2026, 1, 15), date(2026, 1, 15)),  # a Thursday
        (date(2026, 8, 15), date(2026, 8, 17)),  # Saturday -> Monday
        (date(2026, 5, 31), date(2026, 6, 1)),  # Sunday -> Monday
        (date(2027, 2, 15), date(2027, 2, 16)),  # Washington's Birthday, a Monday
        (date(2027, 5, 31), date(2027, 6, 1)),  # Memorial Day
        (date(2029, 1, 15), date(2029, 1, 16)),  # Martin Luther King Jr. Day
        (date(2026, 2, 15), date(2026, 2, 17)),  # Sunday, then Washington's Birthday
        (date(2028, 1, 15), date(2028, 1, 18)),  # Saturday, Sunday, then MLK Day
        (date(2028, 12, 31), date(2029, 1, 2)),  # Sunday, then New Year's Day
        (date(2027, 12, 31), date(2027, 12, 31)),  # 2028-01-01 is a Saturday: no Friday off
    ],
)
def test_pay_date_moves_to_the_next_business_day(period_date, paid):
    # rule P4
    assert next_business_day(period_date) == paid
    first_confirmable, _ = pay_period(period_date)
    confirmed_at = instant(f"{first_confirmable}T12:00", NEW_YORK)
    assert pay_date(confirmed_at, NEW_YORK) == paid


def test_holiday_followed_by_a_weekend():
    # rule P4: Christmas 2026 and New Year's Day 2027 are Fridays
    assert next_business_day(date(2026, 12, 25)) == date(2026, 12, 28)
    assert add_business_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    assert arrival_window(date(2026, 12, 31)) == (date(2026, 12, 31), date(2027, 1, 5))


def test_arrival_window_is_two_business_days_long():
    # rule P4
    assert arrival_window(date(2026, 3, 31)) == (date(2026, 3, 31), date(2026, 4, 2))
    assert arrival_window(date(2026, 4, 30)) == (date(2026, 4, 30), date(2026, 5, 4))
    # an unadjusted period date is moved first
    assert arrival_window(date(2026, 8, 15)) == (date(2026, 8, 17), date(2026, 8, 19))


def test_add_business_days():
    # rule P4
    assert add_business_days(date(2026, 8, 15), 0) == date(2026, 8, 15)
    assert add_business_days(date(2026, 8, 15), 1) == date(2026, 8, 17)
    # Friday + 2 over a weekend and Washington's Birthday
    assert add_business_days(date(2027, 2, 12), 2) == date(2027, 2, 17)
    with pytest.raises(ValueError):
        add_business_days(date(2026, 8, 14), -1)


def test_schedule_for_a_confirmed_session():
    # rule S6, rule P3, rule P4: confirmed 1 May 2027, paid after Memorial Day on 31 May
    confirmed_at = instant("2027-05-01T09:00", LOS_ANGELES)
    assert schedule_for(confirmed_at, "America/Los_Angeles") == PaySchedule(
        period_date=date(2027, 5, 31),
        pay_date=date(2027, 6, 1),
        arrives_earliest=date(2027, 6, 1),
        arrives_latest=date(2027, 6, 3),
    )


# --- Pay periods, for settlement -----------------------------------------------------------


@pytest.mark.parametrize(
    ("period_date", "first", "last"),
    [
        (date(2028, 2, 29), date(2028, 2, 1), date(2028, 2, 15)),
        (date(2028, 3, 15), date(2028, 2, 16), date(2028, 2, 29)),
        (date(2027, 1, 15), date(2026, 12, 16), date(2026, 12, 31)),
        (date(2026, 4, 30), date(2026, 4, 1), date(2026, 4, 15)),
    ],
)
def test_pay_period_local_days(period_date, first, last):
    # rule P3
    assert pay_period(period_date) == (first, last)


@pytest.mark.parametrize(
    "not_a_period_date", [date(2026, 2, 14), date(2026, 4, 29), date(2026, 3, 1)]
)
def test_pay_period_refuses_other_dates(not_a_period_date):
    # rule P3
    with pytest.raises(ValueError, match="not a period date"):
        pay_period(not_a_period_date)


@pytest.mark.parametrize(
    ("period_date", "tz", "start", "end"),
    [
        # ends at 04:00Z (EDT), where the next period starts; that one ends at 05:00Z (EST)
        (date(2026, 11, 15), NEW_YORK, "2026-10-16T04:00Z", "2026-11-01T04:00Z"),
        (date(2026, 11, 30), NEW_YORK, "2026-11-01T04:00Z", "2026-11-16T05:00Z"),
        # the first of Havana's two midnights on 1 November 2026
        (date(2026, 11, 30), "America/Havana", "2026-11-01T04:00Z", "2026-11-16T05:00Z"),
        (date(2027, 1, 15), "Pacific/Honolulu", "2026-12-16T10:00Z", "2027-01-01T10:00Z"),
    ],
)
def test_period_bounds_utc(period_date, tz, start, end):
    # rule P3
    expected = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    assert period_bounds_utc(period_date, tz) == expected


@pytest.mark.parametrize(
    "tz",
    [
        *US_ZONES,
        ZoneInfo("UTC"),
        ZoneInfo("America/Havana"),  # midnight repeats, or is skipped, on transition days
        ZoneInfo("America/Santiago"),
        ZoneInfo("Australia/Lord_Howe"),  # half-hour daylight saving
        ZoneInfo("Asia/Kathmandu"),
    ],
    ids=str,
)
def test_period_bounds_round_trip_with_scheduled_pay_date(tz):
    # rule P3: [start, end) holds exactly the instants paid on the period date, and the
    # periods tile time without gaps or overlaps
    tick = timedelta(microseconds=1)
    days = [day for year in (2026, 2027, 2028) for day in days_of(year)]
    periods = sorted({expected_period_date(day.isoformat()) for day in days})
    for previous, period, following in zip(periods, periods[1:], periods[2:]):
        start, end = period_bounds_utc(period, tz)
        assert start.tzinfo is UTC and end.tzinfo is UTC
        assert scheduled_pay_date(start - tick, tz) == previous
        assert scheduled_pay_date(start, tz) == period
        assert scheduled_pay_date(end - tick, tz) == period
        assert scheduled_pay_date(end, tz) == following
        assert period_bounds_utc(following, tz)[0] == end
