"""Pay dates of confirmed sessions: rules P3 (pay period) and P4 (business days, arrival window).

Pure calendar logic, no I/O. Instants are aware datetimes; calendar days are taken in the group's
IANA time zone. A "period date" is the unadjusted P3 date (the 15th or the last day of a month); it
names a pay period. The "pay date" is the period date moved to a business day (P4).
"""

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

# Bank processing may add up to this many business days after the pay date (P4).
ARRIVAL_SLACK_BUSINESS_DAYS = 2

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PaySchedule:
    period_date: date
    pay_date: date
    arrives_earliest: date
    arrives_latest: date


def scheduled_pay_date(confirmed_at: datetime, tz: ZoneInfo | str) -> date:
    """P3: the period date of a confirmation, before any business-day adjustment."""
    day = _local_day(confirmed_at, tz)
    if day.day <= 15:
        return day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if day.month == 12:
        return date(day.year + 1, 1, 15)
    return date(day.year, day.month + 1, 15)


def pay_date(confirmed_at: datetime, tz: ZoneInfo | str) -> date:
    """P3 then P4: the business day a confirmation is paid on."""
    return next_business_day(scheduled_pay_date(confirmed_at, tz))


def schedule_for(confirmed_at: datetime, tz: ZoneInfo | str) -> PaySchedule:
    """Everything S6 shows for one confirmed session."""
    period_date = scheduled_pay_date(confirmed_at, tz)
    earliest, latest = arrival_window(period_date)
    return PaySchedule(
        period_date=period_date, pay_date=earliest, arrives_earliest=earliest, arrives_latest=latest
    )


def arrival_window(pay_day: date) -> tuple[date, date]:
    """P4: first and last day the money is expected in the bank account."""
    earliest = next_business_day(pay_day)
    return earliest, add_business_days(earliest, ARRIVAL_SLACK_BUSINESS_DAYS)


def is_business_day(d: date) -> bool:
    return d.weekday() < 5 and d not in _bank_holidays(d.year)


def next_business_day(d: date) -> date:
    """d itself when it is a business day, else the first business day after it."""
    while not is_business_day(d):
        d += _ONE_DAY
    return d


def add_business_days(d: date, n: int) -> date:
    """The n-th business day after d (d itself when n is 0)."""
    if n < 0:
        raise ValueError("n must not be negative")
    for _ in range(n):
        d = next_business_day(d + _ONE_DAY)
    return d


def pay_period(period_date: date) -> tuple[date, date]:
    """The first and last local day (inclusive) whose confirmations are paid on period_date."""
    last_of_month = calendar.monthrange(period_date.year, period_date.month)[1]
    if period_date.day == last_of_month:
        return period_date.replace(day=1), period_date.replace(day=15)
    if period_date.day == 15:
        last_of_previous = period_date.replace(day=1) - _ONE_DAY
        return last_of_previous.replace(day=16), last_of_previous
    raise ValueError(f"{period_date} is not a period date (the 15th or the last day of a month)")


def period_bounds_utc(period_date: date, tz: ZoneInfo | str) -> tuple[datetime, datetime]:
    """The half-open UTC range [start, end) of confirmation instants paid on period_date."""
    first, last = pay_period(period_date)
    return _local_midnight_utc(first, tz), _local_midnight_utc(last + _ONE_DAY, tz)


def _local_day(confirmed_at: datetime, tz: ZoneInfo | str) -> date:
    # A naive datetime has no instant: guessing its zone would move sessions between pay periods.
    if confirmed_at.utcoffset() is None:
        raise ValueError("confirmed_at must be timezone-aware")
    return confirmed_at.astimezone(_zone(tz)).date()


def _local_midnight_utc(day: date, tz: ZoneInfo | str) -> datetime:
    # fold=0 picks the offset in force before a transition, which gives the day's first instant
    # both where midnight repeats (clocks fall back at 01:00) and where it is skipped (they jump
    # forward at 00:00, as in America/Santiago or America/Havana).
    return datetime.combine(day, time(), tzinfo=_zone(tz)).astimezone(UTC)


def _zone(tz: ZoneInfo | str) -> ZoneInfo:
    # ZoneInfo caches instances by key, so building one from a name per call is cheap.
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    # The Federal Reserve calendar is the one ACH and wire transfers settle on. It differs from
    # the federal (OPM) calendar: a holiday on a Saturday is not observed on the Friday before.
    return frozenset(holidays.financial_holidays("XFED", years=year))
