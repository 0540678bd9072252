"""Card-number detection (pure): what counts as a PAN, so none is ever accepted as a form of billing."""

import pytest

from app.onboarding.card_numbers import (
    fields_with_card_numbers,
    looks_like_card_number,
    luhn_valid,
)


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "4242424242424242", "5555555555554444", "378282246310005", "6011111111111117", "3530111333300000", "4222222222222"],
)
def test_test_card_numbers_pass_luhn(number: str) -> None:
    assert luhn_valid(number) and looks_like_card_number(number)


@pytest.mark.parametrize(
    "text",
    ["4111 1111 1111 1111", "4111-1111-1111-1111", "tok_4111111111111111", "card:4111111111111111;", "x 3782 822463 10005 y"],
)
def test_card_numbers_are_found_as_people_type_them(text: str) -> None:
    assert looks_like_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "411111111111",  # 12 digits
        "41111111111111111111",  # 20 digits: no card number is that long
        "4111  1111 1111 1111",  # two separators in a row: not one number
        "pm_1PqXyZLkdIwHu7ixAbCdEf",
        "",
    ],
)
def test_other_values_are_not_card_numbers(text: str) -> None:
    assert not looks_like_card_number(text)


def test_every_field_is_searched_and_no_path_carries_the_digits() -> None:
    payload = {
        "processor_token": "pm_ok_token",
        "last4": 4111111111111111,
        "nested": {"list": ["fine", "5555 5555 5555 4444"]},
        "4242424242424242": "key",
        "exp_year": 2030,
        "ratio": 4111111111111111.0,
        "flag": True,
    }
    found = fields_with_card_numbers(payload)
    assert found == ["body.last4", "body.nested.list.1", "body", "body.ratio"]
    assert not any("4242" in path for path in found)
    assert fields_with_card_numbers({"processor_token": "pm_ok_token", "last4": "4242", "exp_month": 1}) == []
