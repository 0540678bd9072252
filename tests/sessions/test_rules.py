"""app/sessions/rules.py, pure: rules S3, S4."""

from datetime import UTC, datetime, timedelta

import pytest

from app.sessions import rules


def test_confirmation_window_in_local_days() -> None:
    # rule S3
    tz = "America/New_York"
    start = datetime(2027, 2, 2, 4, 0, tzinfo=UTC)  # Feb 1, 23:00 in New York
    assert rules.confirmation_refusal(start - timedelta(minutes=1), start, tz) == "session_not_started"
    assert rules.confirmation_refusal(start, start, tz) is None
    assert rules.confirmation_refusal(datetime(2027, 3, 4, 4, 59, tzinfo=UTC), start, tz) is None  # Mar 3 local: day 30
    assert rules.confirmation_refusal(datetime(2027, 3, 4, 5, 0, tzinfo=UTC), start, tz) == "confirmation_window_closed"


def test_correction_window_and_late_cancellation_edges() -> None:
    # rules S3, S4
    confirmed = datetime(2027, 3, 1, tzinfo=UTC)
    assert rules.correction_open(confirmed, confirmed + timedelta(hours=48))
    assert not rules.correction_open(confirmed, confirmed + timedelta(hours=48, seconds=1))
    start = datetime(2027, 3, 2, 15, tzinfo=UTC)
    assert not rules.is_late_cancellation(start - timedelta(hours=24), start, 24)
    assert rules.is_late_cancellation(start - timedelta(hours=24) + timedelta(seconds=1), start, 24)
    assert not rules.is_late_cancellation(start - timedelta(minutes=1), start, 0)


@pytest.mark.parametrize("code, expected", [("90837", "90837"), (" 90791 ", "90791")])
def test_service_codes(code: str, expected: str) -> None:
    assert rules.normalize_service_code(code) == expected


@pytest.mark.parametrize("code", ["12345", "9083", "G0101"])
def test_unknown_service_codes(code: str) -> None:
    with pytest.raises(ValueError):
        rules.normalize_service_code(code)


@pytest.mark.parametrize("code, expected", [("F41.1", "F41.1"), ("f411", "F41.1"), ("F32.A", "F32.A"), ("Z63.0", "Z63.0"), ("F43.10", "F43.10"), ("F90", "F90")])
def test_diagnosis_codes(code: str, expected: str) -> None:
    assert rules.normalize_diagnosis_code(code) == expected


@pytest.mark.parametrize("code", ["hello", "41.1", "U07.1", "F4", "F41.12345"])
def test_bad_diagnosis_codes(code: str) -> None:
    with pytest.raises(ValueError):
        rules.normalize_diagnosis_code(code)
