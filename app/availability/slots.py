"""Open slots (S9), pure: weekly hours in a provider's zone, minus busy time, as UTC instants. No I/O.

Weekly hours are wall-clock times in the provider's IANA zone; each day's hours become one absolute
interval by converting its local start and end separately, so a day with a daylight-saving change is
an hour longer or shorter, like the provider's working day. A wall time that does not exist (the
spring-forward gap) is read with the offset before the change (09:30 that does not exist is 10:30 after
it); a wall time that happens twice (fall back) is its first occurrence (fold 0). Slots are stepped in
absolute minutes from the start of the day's hours, so every slot lasts exactly its length.
"""

import bisect
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]  # [start, end), aware


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """One stretch of a weekday (0 Monday .. 6 Sunday) at one place (None: telehealth)."""

    weekday: int
    start: time
    end: time
    location_id: uuid.UUID | None
    effective_from: date
    effective_to: date | None = None  # last day it applies, inclusive; None: open-ended

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.effective_from <= day
            and (self.effective_to is None or day <= self.effective_to)
        )


@dataclass(frozen=True, slots=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    location_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Rules:
    """What the group decides: how long a slot is, the gap kept around sessions, notice and horizon."""

    slot_minutes: int
    buffer_minutes: int = 0
    earliest: datetime | None = None  # now + minimum notice: no slot starts before it
    latest: datetime | None = None  # now + booking horizon: no slot starts after it


def to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant (gap: offset before the change; repeated hour: first occurrence)."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """Every local date in `zone` that [start, end) touches (a day before and after for hours past midnight)."""
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def availability(
    hours: Iterable[WeeklyHours], zone_name: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, uuid.UUID | None]]:
    """The absolute intervals (UTC) of the weekly hours on every local day touching [start, end)."""
    zone = ZoneInfo(zone_name)
    by_weekday: dict[int, list[WeeklyHours]] = {}
    for rule in hours:
        by_weekday.setdefault(rule.weekday, []).append(rule)
    out = []
    for day in local_days(start, end, zone):
        for rule in by_weekday.get(day.weekday(), ()):
            if not rule.applies_on(day):
                continue
            begins = to_utc(day, rule.start, zone)
            # An end of 00:00 means midnight at the end of the day.
            ends = to_utc(day + timedelta(days=1), time(0), zone) if rule.end == time(0) else to_utc(day, rule.end, zone)
            if ends > begins and ends > start and begins < end:
                out.append((begins, ends, rule.location_id))
    out.sort(key=lambda item: (item[0], str(item[2])))
    return out


def merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping union of half-open intervals (in seconds)."""
    merged: list[list[int]] = []
    for begins, ends in sorted(intervals):
        if merged and begins <= merged[-1][1]:
            if ends > merged[-1][1]:
                merged[-1][1] = ends
        else:
            merged.append([begins, ends])
    return [(a, b) for a, b in merged]


def _seconds(instant: datetime) -> int:
    """Whole seconds since the epoch, rounded down."""
    return int((instant - _EPOCH) // _SECOND)


def _ceil(instant: datetime) -> int:
    return -int((_EPOCH - instant) // _SECOND)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def open_slots(
    hours: Iterable[WeeklyHours],
    zone_name: str,
    *,
    start: datetime,
    end: datetime,
    rules: Rules,
    sessions: Iterable[Interval] = (),
    time_off: Iterable[Interval] = (),
) -> list[Slot]:
    """Slots of `rules.slot_minutes` starting in [start, end) inside the weekly hours, clear of time off and
    of every session widened by the buffer on both sides, starting within notice and horizon."""
    # Whole seconds since the epoch from here on: integer arithmetic is several times cheaper than datetimes'.
    length = rules.slot_minutes * 60
    buffer = rules.buffer_minutes * 60
    busy = merge([*((_seconds(a) - buffer, _ceil(b) + buffer) for a, b in sessions),
                  *((_seconds(a), _ceil(b)) for a, b in time_off)])
    # Slots start at whole seconds: at or after ceil(start) and ceil(earliest), before ceil(end), at or before
    # floor(latest) (the horizon's own instant may start a slot).
    lower = max(_ceil(start), _ceil(rules.earliest)) if rules.earliest else _ceil(start)
    below = _ceil(end)
    latest = _seconds(rules.latest) if rules.latest else below
    seen: set[tuple[int, uuid.UUID | None]] = set()
    found: list[tuple[int, str, uuid.UUID | None]] = []
    for begins, ends, location_id in availability(hours, zone_name, start, end):
        b, e = _seconds(begins), _seconds(ends)
        cursor = b if b >= lower else b + -(-(lower - b) // length) * length  # first grid point from `lower`
        j = bisect.bisect_right(busy, (cursor, cursor)) - 1  # the busy interval at or before the cursor
        if j < 0:
            j = 0
        while cursor + length <= e and cursor < below and cursor <= latest:
            slot_end = cursor + length
            while j < len(busy) and busy[j][1] <= cursor:
                j += 1  # busy intervals are disjoint and sorted: their ends are sorted too
            if (j == len(busy) or busy[j][0] >= slot_end) and (cursor, location_id) not in seen:
                seen.add((cursor, location_id))
                found.append((cursor, str(location_id), location_id))
            cursor = slot_end
    found.sort(key=lambda item: (item[0], item[1]))
    step = timedelta(seconds=length)
    slots = []
    for at, _, location_id in found:
        instant = datetime.fromtimestamp(at, UTC)
        slots.append(Slot(instant, instant + step, location_id))
    return slots


def all_day(first: date, last: date, zone_name: str) -> Interval:
    """Time off from the start of `first` to the end of `last`, local days in the zone."""
    zone = ZoneInfo(zone_name)
    return to_utc(first, time(0), zone), to_utc(last + timedelta(days=1), time(0), zone)
