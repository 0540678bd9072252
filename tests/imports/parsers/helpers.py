"""Small assertions shared by the parser tests."""

from collections.abc import Callable

import pytest

from app.imports.parsers import ImportRejected, ImportRow


def rejected(read: Callable[[], object], code: str) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        read()
    assert caught.value.code == code, caught.value
    return caught.value


Identity = tuple[str | None, str | None, str | None, str | None]


def identities(rows: list[ImportRow]) -> list[Identity]:
    return [(row.first_name, row.last_name, row.email, row.phone) for row in rows]
