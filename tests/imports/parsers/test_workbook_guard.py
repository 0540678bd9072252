"""The regexes that bound a worksheet's extent agree with plain arithmetic (rule I11)."""

import re

import pytest

from app.imports.parsers.workbook_guard import (
    _digits_above,
    _letters_above,
    column_name,
)


def test_column_names() -> None:
    assert [column_name(n) for n in (1, 26, 27, 52, 702, 703, 16384)] == [
        "A", "Z", "AA", "AZ", "ZZ", "AAA", "XFD"]


@pytest.mark.parametrize("limit", [0, 1, 9, 10, 99, 100, 109, 190, 999, 1000, 201_000])
def test_digits_above(limit: int) -> None:
    above = re.compile(_digits_above(str(limit)) + r"\Z")
    for number in [*range(0, 1200), limit - 1, limit, limit + 1, 10 * limit + 7, 10**7]:
        if number >= 0:
            assert bool(above.match(str(number))) == (number > limit), number


@pytest.mark.parametrize("limit", [1, 25, 26, 27, 52, 99, 702, 703, 1024, 16384])
def test_letters_above_in_either_case(limit: int) -> None:
    above = re.compile(_letters_above(column_name(limit)) + r"\Z")
    for number in range(1, 20_000):
        name = column_name(number)
        assert bool(above.match(name)) == (number > limit), name
        assert bool(above.match(name.lower())) == (number > limit), name
