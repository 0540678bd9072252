"""Accounts tests (A5-A8): a person with a password, a clock the tests set, and callers from chosen addresses."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.passwords import hash_password
from app.models import User
from tests.fixtures.clock import Clock, freeze
from tests.fixtures.factories import make_user

PASSWORD = "a long enough password"
NOW = datetime(2027, 3, 10, 15, 0, 7, tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return freeze(monkeypatch, NOW)


@pytest.fixture
async def person(db: AsyncSession) -> User:
    return await make_user(db, email="grace@example.com", first_name="Grace", last_name="Hopper", password_hash=await hash_password(PASSWORD))


@pytest.fixture
def from_address(app: FastAPI) -> Callable[[str], "AsyncIterator[httpx.AsyncClient]"]:
    """`async with from_address("198.51.100.9") as caller:` a client whose connection comes from that address."""

    @asynccontextmanager
    async def open_client(ip: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http

    return open_client


async def login(client: httpx.AsyncClient, username: str, password: str, **extra: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": username, "password": password, **extra})
