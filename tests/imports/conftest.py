"""The cast of the import tests: a solo practice (its owner is its only provider, I9) that may gain a
second provider, an admin who does not provide, and another group. Jobs run in the test's own
transaction through the same ctx the worker builds (`connection` instead of the worker's pool)."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.clients.service import enroll
from app.config import get_settings
from app.core.storage import Storage
from app.imports.analysis import analyze_import
from app.imports.finalize import finalize_import
from app.memberships.service import make_provider
from app.models import Client, ClientImport, Group, User
from tests.fixtures.factories import make_group, make_user, user_headers


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    group = await make_group(db, owner=owner, name="Solo Practice")
    await make_provider(db, group, owner, "LCSW")
    return group


@pytest.fixture
async def other_group(db: AsyncSession) -> Group:
    return await make_group(db, name="Other Practice")


@pytest.fixture
async def headers(db: AsyncSession, owner: User) -> dict[str, str]:
    return await user_headers(db, owner)


@pytest.fixture
def job_ctx(conn: AsyncConnection, storage: Storage) -> dict[str, Any]:
    return {"connection": conn, "storage": storage, "settings": get_settings()}


async def existing_client(db: AsyncSession, group: Group, provider: User, first: str, last: str, email: str) -> Client:
    person = await make_user(db, first_name=first, last_name=last, email=email, verified=False)
    client, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, added_by=provider.id)
    return client


class Importer:
    """Upload, analyse (the job, run directly), review and finalize through the API."""

    def __init__(self, http: httpx.AsyncClient, db: AsyncSession, group: Group, headers: dict[str, str], ctx: dict[str, Any]):
        self.http, self.db, self.group, self.headers, self.ctx = http, db, group, headers, ctx

    @property
    def url(self) -> str:
        return f"/v1/groups/{self.group.id}/imports"

    async def upload(self, data: bytes, name: str = "clients.csv", **fields: str) -> httpx.Response:
        return await self.http.post(self.url, files={"file": (name, data, "application/octet-stream")}, data=fields,
                                    headers=self.headers)

    async def analysed(self, data: bytes, name: str = "clients.csv", **fields: str) -> dict[str, Any]:
        response = await self.upload(data, name, **fields)
        assert response.status_code == 202, response.text
        await analyze_import(self.ctx, response.json()["id"])
        return await self.get(response.json()["id"])

    async def get(self, import_id: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.url}/{import_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def rows(self, import_id: str, **params: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.url}/{import_id}/rows", params={"limit": "200", **params}, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    async def patch(self, import_id: str, row_id: int, body: dict[str, Any]) -> httpx.Response:
        return await self.http.patch(f"{self.url}/{import_id}/rows/{row_id}", json=body, headers=self.headers)

    async def select(self, import_id: str, classification: str, selected: bool = True) -> httpx.Response:
        return await self.http.post(f"{self.url}/{import_id}/rows/selection",
                                    json={"classification": classification, "selected": selected}, headers=self.headers)

    async def finalize(self, import_id: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"{self.url}/{import_id}/finalize", json=body, headers=self.headers)

    async def finalize_as(self, import_id: str, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(f"{self.url}/{import_id}/finalize", json={}, headers=headers)

    async def run_finalize_job(self, import_id: str) -> str:
        return await finalize_import(self.ctx, import_id)

    async def stored(self, import_id: str) -> ClientImport:
        imp = await self.db.scalar(select(ClientImport).where(ClientImport.id == import_id).execution_options(populate_existing=True))
        assert imp is not None
        return imp


@pytest.fixture
def importer(client: httpx.AsyncClient, db: AsyncSession, group: Group, headers: dict[str, str], job_ctx: dict[str, Any]) -> Importer:
    return Importer(client, db, group, headers, job_ctx)
