"""Pure checks for practice settings: phone numbers, bank routing numbers, tax ids, ages, local dates.

No database or HTTP here, so each rule is tested directly and fast. Functions return the
normalised value or raise `ValueError` with a message that never repeats the input (it may be a secret).
"""

import re
from collections.abc import Hashable, Iterable
from datetime import UTC, date, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

MAX_CENTS = 10_000_000  # $100,000: far above any session rate; catches a rate typed in dollars*100 twice
ADULT_AGE = 18
SERVICE_CODE = re.compile(r"^[A-Za-z0-9]{5}$")
K = TypeVar("K", bound=Hashable)


def aba_routing_number(raw: str) -> str:
    """A US bank routing number: 9 digits whose weighted sum (3, 7, 1, ...) is a multiple of 10."""
    if not re.fullmatch(r"\d{9}", raw):
        raise ValueError("a routing number is exactly 9 digits")
    digits = [int(c) for c in raw]
    checksum = sum(weight * digit for weight, digit in zip((3, 7, 1) * 3, digits))
    if checksum % 10 != 0:
        raise ValueError("not a valid ABA routing number (its check digit does not match); check it for typos")
    return raw


def bank_account_number(raw: str) -> str:
    if not re.fullmatch(r"\d{4,17}", raw):
        raise ValueError("an account number is 4 to 17 digits, without spaces or dashes")
    return raw


# EIN prefixes the IRS assigns (irs.gov, "How EINs are assigned and valid EIN prefixes").
_EIN_PREFIXES = frozenset(
    f"{n:02d}"
    for n in (
        *range(1, 7), *range(10, 17), *range(20, 28), *range(30, 40), *range(40, 49), *range(50, 69),
        *range(71, 78), *range(80, 89), *range(90, 96), 98, 99,
    )
)


def _ssn_problem(digits: str) -> str | None:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area == "000" or area == "666" or area.startswith("9"):
        return "not a valid SSN: no SSN starts with 000, 666 or 9"
    if group == "00" or serial == "0000":
        return "not a valid SSN: its middle two or last four digits are all zero"
    return None


def _ein_problem(digits: str) -> str | None:
    if digits[:2] not in _EIN_PREFIXES:
        return "not a valid EIN: the IRS does not issue that two-digit prefix"
    return None


def tax_id(raw: str) -> str:
    """An SSN (123-45-6789) or EIN (12-3456789), dashed or not; returns the 9 digits.

    Dashes say which it is; 9 bare digits are accepted when they are a valid SSN or a valid EIN.
    """
    value = raw.strip()
    if re.fullmatch(r"\d{3}-\d{2}-\d{4}", value):
        problems = [_ssn_problem(value.replace("-", ""))]
    elif re.fullmatch(r"\d{2}-\d{7}", value):
        problems = [_ein_problem(value.replace("-", ""))]
    elif re.fullmatch(r"\d{9}", value):
        problems = [_ssn_problem(value), _ein_problem(value)]
        if any(p is None for p in problems):
            problems = [None]
    else:
        raise ValueError("a tax id is an SSN (NNN-NN-NNNN) or an EIN (NN-NNNNNNN): 9 digits, dashes optional")
    if problems[0] is not None:
        raise ValueError(problems[0])
    digits = value.replace("-", "")
    if len(set(digits)) == 1:
        raise ValueError("not a valid tax id: all its digits are the same")
    return digits


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def adult_date_of_birth(born: date, *, today: date | None = None) -> date:
    today = today or datetime.now(UTC).date()
    if born > today:
        raise ValueError("the date of birth is in the future")
    age = age_on(born, today)
    if age < ADULT_AGE:
        raise ValueError(f"the person must be at least {ADULT_AGE} years old")
    if age > 120:
        raise ValueError("the date of birth is more than 120 years ago; check the year")
    return born


def service_code(raw: str) -> str:
    """A billing code (CPT 90837, HCPCS G0410...): 5 letters or digits, upper-cased."""
    if not SERVICE_CODE.fullmatch(raw):
        raise ValueError("a service code is 5 letters or digits, e.g. 90837")
    return raw.upper()


def local_today(time_zone: str, *, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(time_zone)).date()


def local_midnight(day: date, time_zone: str) -> datetime:
    """The UTC instant `day` begins in `time_zone` (DESIGN 7: calendar rules use the group's zone)."""
    # Where DST skips midnight (fold=0 takes the offset before the gap), this is the first instant that exists.
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def duplicates(keys: Iterable[K]) -> dict[K, list[int]]:
    """Each key that occurs more than once, with the positions it occurs at."""
    seen: dict[K, list[int]] = {}
    for index, key in enumerate(keys):
        seen.setdefault(key, []).append(index)
    return {key: positions for key, positions in seen.items() if len(positions) > 1}
