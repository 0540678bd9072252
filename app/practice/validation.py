"""Pure checks for practice settings: phone numbers, bank routing numbers, tax ids, ages, local dates.

No database or HTTP here, so each rule is tested directly and fast. Functions return the
normalised value or raise `ValueError` with a message that never repeats the input (it may be a secret).
"""

import re
from collections.abc import Hashable, Iterable
from datetime import UTC, date, datetime, time
from types import ModuleType
from typing import TypeVar
from zoneinfo import ZoneInfo

from stdnum.exceptions import ValidationError
from stdnum.us import ein, rtn, ssn

MAX_CENTS = 10_000_000  # $100,000: far above any session rate; catches a rate typed in dollars*100 twice
ADULT_AGE = 18
SERVICE_CODE = re.compile(r"^[A-Za-z0-9]{5}$")
K = TypeVar("K", bound=Hashable)


def _ascii_digits(raw: str, low: int, high: int) -> bool:
    # `str.isdigit()` and `\d` accept Arabic-Indic, full-width and other digits; a bank file takes 0-9 only.
    return low <= len(raw) <= high and raw.isascii() and raw.isdigit()


def aba_routing_number(raw: str) -> str:
    """A US bank routing number: 9 ASCII digits whose weighted sum (3, 7, 1, ...) is a multiple of 10."""
    if not _ascii_digits(raw, 9, 9):
        raise ValueError("a routing number is exactly 9 digits (0-9)")
    try:
        rtn.validate(raw)
    except ValidationError:
        raise ValueError("not a valid ABA routing number (its check digit does not match); check it for typos") from None
    if raw[:2] == "00":  # 00 is reserved for the US government; 000000000 passes the checksum but is no bank
        raise ValueError("not a valid ABA routing number: no bank's routing number starts with 00")
    return raw


def bank_account_number(raw: str) -> str:
    if not _ascii_digits(raw, 4, 17):
        raise ValueError("an account number is 4 to 17 digits (0-9), without spaces or dashes")
    if set(raw) == {"0"}:
        raise ValueError("not a valid account number: it is all zeros")
    return raw


def tax_id(raw: str) -> str:
    """An SSN (123-45-6789) or EIN (12-3456789), dashed or not; returns the 9 digits.

    Dashes say which it is; 9 bare digits are accepted when they are a valid SSN or a valid EIN.
    The IRS and SSA rules (EIN prefixes; no SSN area 000, 666 or 9xx, no zero group or serial, no
    published sample numbers) are python-stdnum's.
    """
    value = raw.strip()
    digits = value.replace("-", "")
    if not _ascii_digits(digits, 9, 9) or not re.fullmatch(r"[0-9]{9}|[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{2}-[0-9]{7}", value):
        raise ValueError("a tax id is an SSN (NNN-NN-NNNN) or an EIN (NN-NNNNNNN): 9 digits (0-9), dashes optional")
    if value[2] == "-":
        kinds = [(ein, "not a valid EIN: the IRS does not issue that two-digit prefix")]
    elif value[3] == "-":
        kinds = [(ssn, "not a valid SSN: its area, group or serial is one the SSA never issues")]
    else:
        kinds = [
            (ssn, "not a valid SSN or EIN: neither the SSA nor the IRS issues that number"),
            (ein, "not a valid SSN or EIN: neither the SSA nor the IRS issues that number"),
        ]
    if not any(_valid(module, digits) for module, _ in kinds):
        raise ValueError(kinds[-1][1])
    if len(set(digits)) == 1:
        raise ValueError("not a valid tax id: all its digits are the same")
    return digits


def _valid(module: ModuleType, digits: str) -> bool:
    try:
        module.validate(digits)
    except ValidationError:
        return False
    return True


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
