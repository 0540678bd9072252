"""Time and code rules of sessions (S1-S4). Pure: no database, no HTTP.

Instants are aware datetimes; rules that speak of days take them in the group's IANA time zone.
"""

import re
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

# S1: a therapy session without a length is the common 50-minute hour (an intake takes the group's length).
DEFAULT_THERAPY_MINUTES = 50
# S3: a session can be confirmed from its start until 30 local calendar days after it.
CONFIRMATION_WINDOW_DAYS = 30
# S3: the confirmed details can be corrected for 48 hours after confirmation, then they are locked.
CORRECTION_WINDOW = timedelta(hours=48)
# S5: a calendar read covers at most about three months.
MAX_CALENDAR_RANGE = timedelta(days=93)
DEFAULT_CALENDAR_RANGE = timedelta(days=7)

# CPT codes of psychotherapy and psychiatric evaluation a session can be confirmed with.
SERVICE_CODES: frozenset[str] = frozenset({
    "90785",  # interactive complexity (add-on)
    "90791",  # psychiatric diagnostic evaluation
    "90792",  # ... with medical services
    "90832",  # psychotherapy, 30 min
    "90833",  # ... 30 min with E/M
    "90834",  # psychotherapy, 45 min
    "90836",  # ... 45 min with E/M
    "90837",  # psychotherapy, 60 min
    "90838",  # ... 60 min with E/M
    "90839",  # crisis psychotherapy, first 60 min
    "90840",  # ... each additional 30 min
    "90846",  # family psychotherapy without the patient
    "90847",  # family psychotherapy with the patient
    "90849",  # multiple-family group psychotherapy
    "90853",  # group psychotherapy
    "99354",  # prolonged service (add-on)
    "99355",
})

# ICD-10-CM: a letter, a digit, a digit or letter, then optionally a dot and 1-4 characters (F41.1, F32.A, Z63.0).
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")

ConfirmRefusal = Literal["session_not_started", "confirmation_window_closed"]


def local_date(at: datetime, tz: str | ZoneInfo) -> date:
    return at.astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)).date()


def normalize_service_code(code: str) -> str:
    code = code.strip().upper()
    if code not in SERVICE_CODES:
        raise ValueError(f"not a known service code; use one of {', '.join(sorted(SERVICE_CODES))}")
    return code


def normalize_diagnosis_code(code: str) -> str:
    code = code.strip().upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"  # F411 -> F41.1: the dot is often left out
    if not ICD10.match(code):
        raise ValueError("not an ICD-10 code such as F41.1")
    return code


def confirmation_refusal(now: datetime, starts_at: datetime, tz: str | ZoneInfo) -> ConfirmRefusal | None:
    """S3: not before the session started, and not after the 30th local day after the day it took place."""
    if now < starts_at:
        return "session_not_started"
    if (local_date(now, tz) - local_date(starts_at, tz)).days > CONFIRMATION_WINDOW_DAYS:
        return "confirmation_window_closed"
    return None


def editable_until(confirmed_at: datetime) -> datetime:
    return confirmed_at + CORRECTION_WINDOW


def correction_open(confirmed_at: datetime, now: datetime) -> bool:
    """S3: corrections are taken up to and including the 48th hour after confirmation."""
    return now <= editable_until(confirmed_at)


def is_late_cancellation(now: datetime, starts_at: datetime, window_hours: int) -> bool:
    """S4: inside the window means less than `window_hours` before the start; exactly at the edge is on time."""
    return starts_at - now < timedelta(hours=window_hours)
