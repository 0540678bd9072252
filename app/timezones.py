"""IANA time zones: the one list every rule that speaks of days relies on."""

from functools import lru_cache
from zoneinfo import available_timezones


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_time_zone(value: str | None) -> str | None:
    if value is not None and value not in _known():
        raise ValueError("not an IANA time zone name (e.g. America/New_York)")
    return value
