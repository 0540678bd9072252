"""Pure practice rules (no database): phone, routing number, tax id, age, service codes, local days."""

from datetime import UTC, date, datetime

import pytest

from app.contact import e164_phone
from app.practice import validation
from app.practice.schemas import SettingsPatch
from app.practice.service import FIELD_CAPABILITIES


def test_every_settings_field_belongs_to_a_capability() -> None:
    # capability table, admin column: a new settings field cannot skip authorization
    assert set(FIELD_CAPABILITIES) == set(SettingsPatch.model_fields)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("(212) 736-5000", "+12127365000"), ("212.736.5000", "+12127365000"), ("+1 415 555 0123", "+14155550123"), ("+44 20 7946 0958", "+442079460958")],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, e164: str) -> None:
    # account settings: contact phone
    assert e164_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "555-555-5555", "call me", "+1 212 736 500"])
def test_invalid_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="E.164"):
        e164_phone(raw)


@pytest.mark.parametrize("routing", ["011000015", "021000021", "121000358", "026009593"])
def test_real_routing_numbers_pass_the_aba_checksum(routing: str) -> None:
    assert validation.aba_routing_number(routing) == routing


@pytest.mark.parametrize("routing", ["011000016", "123456789", "02100002", "0210000211", "02100002a"])
def test_routing_numbers_with_a_wrong_check_digit_or_length_are_refused(routing: str) -> None:
    with pytest.raises(ValueError) as refused:
        validation.aba_routing_number(routing)
    assert routing not in str(refused.value)  # messages never repeat the value


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("123-45-6789", "123456789"), ("12-3456789", "123456789"), ("123456789", "123456789"), ("666123456", "666123456"), (" 98-7654321 ", "987654321")],
)
def test_ssns_and_eins_are_accepted_with_or_without_dashes(raw: str, digits: str) -> None:
    # 666123456 is no SSN, but is the EIN 66-6123456: bare digits pass as either
    assert validation.tax_id(raw) == digits


@pytest.mark.parametrize(
    "raw",
    [
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "912-34-5678",  # area 9xx
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
        "07-1234567",  # EIN prefix never issued
        "000000000",
        "111-11-1111",
        "12345678",
        "1234567890",
        "123-456-789",
        "abc-de-fghi",
    ],
)
def test_obviously_invalid_tax_ids_are_refused(raw: str) -> None:
    with pytest.raises(ValueError) as refused:
        validation.tax_id(raw)
    assert raw.replace("-", "") not in str(refused.value).replace("-", "")


def test_age_counts_whole_years() -> None:
    assert validation.age_on(date(2000, 3, 1), date(2018, 2, 28)) == 17
    assert validation.age_on(date(2000, 3, 1), date(2018, 3, 1)) == 18
    assert validation.age_on(date(2000, 2, 29), date(2018, 2, 28)) == 17
    assert validation.age_on(date(2000, 2, 29), date(2018, 3, 1)) == 18


def test_identity_needs_an_adult() -> None:
    today = date(2026, 6, 15)
    assert validation.adult_date_of_birth(date(2008, 6, 15), today=today) == date(2008, 6, 15)
    for born in (date(2008, 6, 16), date(2027, 1, 1), date(1900, 1, 1)):
        with pytest.raises(ValueError):
            validation.adult_date_of_birth(born, today=today)


def test_service_codes_are_five_alphanumerics_upper_cased() -> None:
    for code in ("90791", "90832", "90834", "90837", "90846", "90847", "90853", "90839", "90840", "99354"):
        assert validation.service_code(code) == code
    assert validation.service_code("g0410") == "G0410"
    for bad in ("9083", "908377", "90-37", "", "90 37"):
        with pytest.raises(ValueError):
            validation.service_code(bad)


def test_local_midnight_follows_the_groups_zone_and_dst() -> None:
    # DESIGN 7: calendar rules use the group's IANA time zone
    assert validation.local_midnight(date(2026, 1, 15), "America/New_York") == datetime(2026, 1, 15, 5, tzinfo=UTC)
    assert validation.local_midnight(date(2026, 7, 15), "America/New_York") == datetime(2026, 7, 15, 4, tzinfo=UTC)
    assert validation.local_midnight(date(2026, 7, 15), "America/Los_Angeles") == datetime(2026, 7, 15, 7, tzinfo=UTC)
    # Santiago skips 00:00 when DST starts: the day begins at 01:00 (-03)
    assert validation.local_midnight(date(2024, 9, 8), "America/Santiago") == datetime(2024, 9, 8, 4, tzinfo=UTC)


def test_local_today_is_the_groups_day() -> None:
    late_evening_in_la = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)  # 22:30 on Feb 28 in Los Angeles
    assert validation.local_today("America/Los_Angeles", now=late_evening_in_la) == date(2026, 2, 28)
    assert validation.local_today("America/New_York", now=late_evening_in_la) == date(2026, 3, 1)


def test_duplicates_reports_every_position() -> None:
    assert validation.duplicates([("a", 1), ("b", 1), ("a", 1), ("a", 1)]) == {("a", 1): [0, 2, 3]}
    assert validation.duplicates([]) == {}
