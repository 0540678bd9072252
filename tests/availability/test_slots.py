"""Open slots, the pure part (app/availability/slots.py): a hand-computed table on daylight-saving days of
zones with whole- and half-hour offsets, the edges of busy time, buffers, notice and horizon, and property
tests across every daylight-saving change of 2026-2028 in several zones."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.availability.slots import Rules, WeeklyHours, all_day, open_slots

EVERY_DAY = date(2020, 1, 1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def hours(weekday: int, start: str, end: str, location: uuid.UUID | None = None, **dates) -> WeeklyHours:
    return WeeklyHours(weekday, time.fromisoformat(start), time.fromisoformat(end), location,
                       dates.get("effective_from", EVERY_DAY), dates.get("effective_to"))


def starts(zone: str, rule: WeeklyHours, day: date, minutes: int = 60, **kw) -> list[str]:
    begin = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(days=1)
    found = open_slots([rule], zone, start=begin, end=begin + timedelta(days=3), rules=Rules(slot_minutes=minutes, **kw))
    return [s.starts_at.strftime("%Y-%m-%dT%H:%MZ") for s in found]


# (zone, local day, weekday, hours, slot minutes, slot starts in UTC): worked out by hand from the offsets.
TABLE = [
    # New York, spring forward 2027-03-14 02:00 EST -> 03:00 EDT: 01:00-04:00 is two real hours.
    ("America/New_York", date(2027, 3, 14), 6, "01:00", "04:00", 60, ["2027-03-14T06:00Z", "2027-03-14T07:00Z"]),
    # ... an ordinary Sunday a week later: three.
    ("America/New_York", date(2027, 3, 21), 6, "01:00", "04:00", 60,
     ["2027-03-21T05:00Z", "2027-03-21T06:00Z", "2027-03-21T07:00Z"]),
    # Hours starting in the gap: 02:30 does not exist, read with EST's offset (07:30Z = 03:30 EDT).
    ("America/New_York", date(2027, 3, 14), 6, "02:30", "04:00", 30, ["2027-03-14T07:30Z"]),
    # Fall back 2027-11-07 02:00 EDT -> 01:00 EST: 01:00 (first, EDT) to 04:00 EST is four real hours.
    ("America/New_York", date(2027, 11, 7), 6, "01:00", "04:00", 60,
     ["2027-11-07T05:00Z", "2027-11-07T06:00Z", "2027-11-07T07:00Z", "2027-11-07T08:00Z"]),
    # Adelaide (+10:30 ACDT / +9:30 ACST), DST ends 2027-04-04 03:00 -> 02:00: 09:00-11:00 ACST.
    ("Australia/Adelaide", date(2027, 4, 4), 6, "09:00", "11:00", 60, ["2027-04-03T23:30Z", "2027-04-04T00:30Z"]),
    # Adelaide, DST starts 2027-10-03 02:00 ACST -> 03:00 ACDT: 01:00 ACST (15:30Z) to 05:00 ACDT (18:30Z).
    ("Australia/Adelaide", date(2027, 10, 3), 6, "01:00", "05:00", 60,
     ["2027-10-02T15:30Z", "2027-10-02T16:30Z", "2027-10-02T17:30Z"]),
    # Kolkata, +5:30 all year.
    ("Asia/Kolkata", date(2027, 3, 15), 0, "09:00", "10:00", 30, ["2027-03-15T03:30Z", "2027-03-15T04:00Z"]),
    # St. John's (-3:30 NST / -2:30 NDT), DST starts 2027-03-14 02:00 -> 03:00: 01:00 NST (04:30Z) to 04:00 NDT (06:30Z).
    ("America/St_Johns", date(2027, 3, 14), 6, "01:00", "04:00", 60, ["2027-03-14T04:30Z", "2027-03-14T05:30Z"]),
    # Lord Howe moves by half an hour (+11 LHDT / +10:30 LHST), ends 2027-04-04 02:00 -> 01:30:
    # 00:00 LHDT (13:00Z) to 04:00 LHST (17:30Z) is four and a half hours: four whole hours fit.
    ("Australia/Lord_Howe", date(2027, 4, 4), 6, "00:00", "04:00", 60,
     ["2027-04-03T13:00Z", "2027-04-03T14:00Z", "2027-04-03T15:00Z", "2027-04-03T16:00Z"]),
    # Lord Howe, starts 2027-10-03 02:00 -> 02:30: 01:00 LHST (14:30Z) to 04:00 LHDT (17:00Z) is two and a half hours.
    ("Australia/Lord_Howe", date(2027, 10, 3), 6, "01:00", "04:00", 30,
     ["2027-10-02T14:30Z", "2027-10-02T15:00Z", "2027-10-02T15:30Z", "2027-10-02T16:00Z", "2027-10-02T16:30Z"]),
]


@pytest.mark.parametrize(("zone", "day", "weekday", "start", "end", "minutes", "expected"), TABLE)
def test_hand_computed_table(zone: str, day: date, weekday: int, start: str, end: str, minutes: int, expected: list[str]) -> None:
    # rule S9
    assert day.weekday() == weekday
    assert starts(zone, hours(weekday, start, end), day, minutes) == expected


def test_midnight_end_and_effective_dates() -> None:
    # rule S9: an end of 00:00 is the end of the day; hours apply only between their effective dates.
    rule = hours(0, "22:00", "00:00", effective_from=date(2027, 3, 15), effective_to=date(2027, 3, 15))
    assert starts("UTC", rule, date(2027, 3, 15)) == ["2027-03-15T22:00Z", "2027-03-15T23:00Z"]
    assert starts("UTC", rule, date(2027, 3, 22)) == []
    assert starts("UTC", rule, date(2027, 3, 8)) == []


def test_sessions_buffers_time_off_notice_and_horizon() -> None:
    # rule S9: a session takes its slot and, with a buffer, the slots touching it; back-to-back is fine without one.
    rule = hours(0, "09:00", "13:00")  # Monday, UTC
    day = date(2027, 3, 15)
    session = [(utc("2027-03-15T10:00"), utc("2027-03-15T11:00"))]
    begin, end = utc("2027-03-15T00:00"), utc("2027-03-16T00:00")

    def cut(**kw) -> list[int]:
        found = open_slots([rule], "UTC", start=begin, end=end, **kw)
        return [s.starts_at.hour for s in found]

    assert cut(rules=Rules(60)) == [9, 10, 11, 12]
    assert cut(rules=Rules(60), sessions=session) == [9, 11, 12]
    assert cut(rules=Rules(60, buffer_minutes=10), sessions=session) == [12]
    assert cut(rules=Rules(60), time_off=[(utc("2027-03-15T11:30"), utc("2027-03-15T12:00"))]) == [9, 10, 12]
    assert cut(rules=Rules(60), time_off=[all_day(day, day, "UTC")]) == []
    # notice: nothing starting before `earliest`; horizon: nothing starting after `latest`
    assert cut(rules=Rules(60, earliest=utc("2027-03-15T10:00"))) == [10, 11, 12]
    assert cut(rules=Rules(60, earliest=utc("2027-03-15T10:01"))) == [11, 12]
    assert cut(rules=Rules(60, latest=utc("2027-03-15T11:00"))) == [9, 10, 11]


def test_all_day_time_off_follows_the_zone() -> None:
    # rule S9: a day off in Kolkata is midnight to midnight there.
    assert all_day(date(2027, 3, 15), date(2027, 3, 16), "Asia/Kolkata") == (utc("2027-03-14T18:30"), utc("2027-03-16T18:30"))


# --- properties across every daylight-saving change --------------------------------------------------

ZONES = ["America/New_York", "America/St_Johns", "Australia/Adelaide", "Australia/Lord_Howe", "Europe/London",
         "America/Santiago", "Asia/Kolkata", "Pacific/Chatham"]


def transition_days(zone_name: str) -> list[date]:
    """Local days of 2026-2028 on which the zone's offset changes."""
    zone = ZoneInfo(zone_name)
    days = []
    day = date(2026, 1, 1)
    while day < date(2029, 1, 1):
        a = datetime.combine(day, time(0), tzinfo=zone).utcoffset()
        b = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).utcoffset()
        if a != b:
            days.append(day)
        day += timedelta(days=1)
    return days


CASES = [(zone, day) for zone in ZONES for day in transition_days(zone)] + [("Asia/Kolkata", date(2027, 6, 1))]


def test_every_zone_has_its_changes() -> None:
    assert all(len(transition_days(z)) == 6 for z in ZONES if z != "Asia/Kolkata")


@settings(max_examples=400, deadline=None)
@given(
    case=st.sampled_from(CASES),
    start_minute=st.integers(0, 23 * 60).map(lambda m: m - m % 15),
    length=st.integers(15, 12 * 60).map(lambda m: m - m % 15),
    slot=st.sampled_from([15, 30, 45, 50, 60, 90]),
    buffer=st.sampled_from([0, 10, 15]),
    busy=st.lists(st.tuples(st.integers(0, 48 * 60), st.integers(5, 180)), max_size=4),
)
def test_slots_on_daylight_saving_days(case, start_minute, length, slot, buffer, busy) -> None:
    # rule S9: on the day of every change, slots are exactly their length, inside the wall-clock hours,
    # clear of sessions and buffers, and as many as the day's real length allows.
    zone_name, day = case
    zone = ZoneInfo(zone_name)
    end_minute = min(start_minute + length, 24 * 60)
    start_wall = time(start_minute // 60, start_minute % 60)
    end_wall = time(0) if end_minute == 24 * 60 else time(end_minute // 60, end_minute % 60)
    rule = WeeklyHours(day.weekday(), start_wall, end_wall, None, day, day)
    window_start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(days=2)
    window_end = window_start + timedelta(days=4)
    base = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    sessions = [(base + timedelta(minutes=m), base + timedelta(minutes=m + d)) for m, d in busy]

    found = open_slots([rule], zone_name, start=window_start, end=window_end,
                       rules=Rules(slot, buffer_minutes=buffer), sessions=sessions)

    naive_start = datetime.combine(day, start_wall)
    naive_end = datetime.combine(day + timedelta(days=1), time(0)) if end_wall == time(0) else datetime.combine(day, end_wall)

    def instant(naive: datetime) -> datetime:
        # A wall time less the offset in force just before it (a time in a spring-forward gap is read as if
        # the clock had not moved yet): worked out from utcoffset, not by the conversion under test.
        return (naive - naive.replace(tzinfo=zone).utcoffset()).replace(tzinfo=UTC)

    def exists(naive: datetime) -> bool:
        return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive

    for s in found:
        assert s.ends_at - s.starts_at == timedelta(minutes=slot)
        assert s.starts_at.tzinfo == UTC
        assert instant(naive_start) <= s.starts_at and s.ends_at <= instant(naive_end)
        if exists(naive_start) and exists(naive_end) and instant(naive_end) - instant(naive_start) == naive_end - naive_start:
            # No change inside the hours: every minute of the slot is inside them on that day's wall clock.
            minute = s.starts_at
            while minute < s.ends_at:
                local = minute.astimezone(zone).replace(tzinfo=None)
                assert naive_start <= local < naive_end
                minute += timedelta(minutes=5)
        for a, b in sessions:
            assert not (s.starts_at < b + timedelta(minutes=buffer) and a - timedelta(minutes=buffer) < s.ends_at)
    for first, second in zip(found, found[1:]):
        assert first.ends_at <= second.starts_at

    if not sessions:
        # The real length of the day's hours: the wall-clock length corrected by the change of offset.
        real = (naive_end - naive_start) + (
            naive_start.replace(tzinfo=zone).utcoffset() - naive_end.replace(tzinfo=zone).utcoffset()
        )
        assert len(found) == max(real, timedelta(0)) // timedelta(minutes=slot)
