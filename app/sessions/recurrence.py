"""Recurring series (S11): when the occurrences fall. Pure: no database, no HTTP.

The occurrences keep the first one's wall-clock time in the group's time zone: a weekly 10:00 session stays
at 10:00 local after a daylight-saving change (its UTC instant moves by the hour). A local time that does not
exist on a spring-forward day (02:30) is read with the offset before the change (03:30 local), as zoneinfo does.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MAX_OCCURRENCES = 52
# An end date at most a year of weeks after the first session's day: 52 weekly occurrences.
MAX_SPAN = timedelta(days=364)


def occurrences(first: datetime, zone: str, every_weeks: int, *, count: int | None, until: date | None) -> list[datetime]:
    """The UTC starts of a series: `count` of them, or every one whose local date is on or before `until`."""
    assert (count is None) != (until is None) and every_weeks in (1, 2)
    tz = ZoneInfo(zone)
    local = first.astimezone(tz).replace(tzinfo=None)
    starts = []
    for n in range(MAX_OCCURRENCES):
        if count is not None and n >= count:
            break
        wall = local + timedelta(weeks=n * every_weeks)
        if until is not None and wall.date() > until:
            break
        starts.append(wall.replace(tzinfo=tz).astimezone(UTC))
    return starts


def until_refusal(first: datetime, zone: str, until: date) -> str | None:
    """Why an end date is refused, or None."""
    first_day = first.astimezone(ZoneInfo(zone)).date()
    if until < first_day:
        return "the end date comes before the first session"
    if until - first_day > MAX_SPAN:
        return f"the end date is at most {MAX_SPAN.days} days (52 weeks) after the first session"
    return None


def moved_start(original: datetime, addressed_from: datetime, addressed_to: datetime, zone: str) -> datetime:
    """'This and following' / 'all': move an occurrence as the addressed one moves, in wall-clock terms.

    The addressed occurrence goes from `addressed_from` to `addressed_to`; every other one moves by the same
    number of local days and takes the new local time of day, so a move from Tuesday 10:00 to Wednesday 11:00
    is Wednesday 11:00 local for each week, whatever the offset that week.
    """
    tz = ZoneInfo(zone)
    old, new = addressed_from.astimezone(tz), addressed_to.astimezone(tz)
    day = original.astimezone(tz).date() + (new.date() - old.date())
    return datetime.combine(day, new.time().replace(tzinfo=None), tzinfo=tz).astimezone(UTC)
