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
from collections.abc import Iterable, Sequence
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
    rules = list(hours)
    out = []
    for day in local_days(start, end, zone):
        for rule in rules:
            if not rule.applies_on(day):
                continue
            begins = to_utc(day, rule.start, zone)
            # An end of 00:00 means midnight at the end of the day.
            ends = to_utc(day + timedelta(days=1), time(0), zone) if rule.end == time(0) else to_utc(day, rule.end, zone)
            if ends > begins and ends > start and begins < end:
                out.append((begins, ends, rule.location_id))
    out.sort(key=lambda item: (item[0], str(item[2])))
    return out


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of half-open intervals."""
    merged: list[list[datetime]] = []
    for begins, ends in sorted(intervals):
        if merged and begins <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], ends)
        else:
            merged.append([begins, ends])
    return [(a, b) for a, b in merged]


def _overlaps(busy: Sequence[Interval], starts: list[datetime], begins: datetime, ends: datetime) -> bool:
    # `busy` is merged (sorted, disjoint): only the last interval starting before `ends` can overlap.
    i = bisect.bisect_left(starts, ends) - 1
    return i >= 0 and busy[i][1] > begins


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
    length = timedelta(minutes=rules.slot_minutes)
    buffer = timedelta(minutes=rules.buffer_minutes)
    busy = merge([*((a - buffer, b + buffer) for a, b in sessions), *time_off])
    busy_starts = [a for a, _ in busy]
    lower = max(start, rules.earliest) if rules.earliest else start
    upper = min(end, rules.latest + timedelta(microseconds=1)) if rules.latest else end
    seen: set[tuple[datetime, uuid.UUID | None]] = set()
    slots = []
    for begins, ends, location_id in availability(hours, zone_name, start, end):
        cursor = begins
        while cursor + length <= ends:
            slot_end = cursor + length
            if lower <= cursor < upper and (cursor, location_id) not in seen and not _overlaps(busy, busy_starts, cursor, slot_end):
                seen.add((cursor, location_id))
                slots.append(Slot(cursor.astimezone(UTC), slot_end.astimezone(UTC), location_id))
            cursor = slot_end
    slots.sort(key=lambda s: (s.starts_at, str(s.location_id)))
    return slots


def all_day(first: date, last: date, zone_name: str) -> Interval:
    """Time off from the start of `first` to the end of `last`, local days in the zone."""
    zone = ZoneInfo(zone_name)
    return to_utc(first, time(0), zone), to_utc(last + timedelta(days=1), time(0), zone)
