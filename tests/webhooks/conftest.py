from collections.abc import Iterator

import pytest

from tests.sessions.conftest import client_record, frozen, group, owner  # noqa: F401 (fixtures)
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
