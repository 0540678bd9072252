"""The capability matrix's samples for the document routes work: the upload sample is accepted, and
the world's document can be listed and downloaded by its provider."""

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, Group, User
from tests.documents.route_samples import (
    SAMPLE_BODIES,
    SAMPLE_FILES,
    SAMPLE_PDF,
    extend_world,
)
from tests.fixtures.factories import user_headers


async def test_the_upload_sample_is_a_valid_upload(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, client_record: Client
) -> None:
    assert set(SAMPLE_FILES) == {"clients-upload_document"} < set(SAMPLE_BODIES)
    url = f"/v1/groups/{group.id}/clients/{client_record.id}/documents"
    response = await client.post(url, files=SAMPLE_FILES["clients-upload_document"], headers=await user_headers(db, owner))
    assert response.status_code == 201, response.text


async def test_extend_world_adds_a_downloadable_document(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    ids = {"group_id": group.id, "client_id": client_record.id, "user_id": provider.id}
    await extend_world(db, ids, app.state.storage)
    url = f"/v1/groups/{group.id}/clients/{client_record.id}/documents/{ids['document_id']}"
    download = await client.get(url, headers=await user_headers(db, provider))
    assert download.status_code == 200 and download.content == SAMPLE_PDF



async def test_the_sharing_sample_shares_the_worlds_document_with_its_client(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    ids = {"group_id": group.id, "client_id": client_record.id, "user_id": provider.id}
    await extend_world(db, ids, app.state.storage)
    url = f"/v1/groups/{group.id}/clients/{client_record.id}/documents/{ids['document_id']}"
    shared = await client.patch(url, json=SAMPLE_BODIES["clients-share_document"], headers=await user_headers(db, provider))
    assert shared.status_code == 200 and shared.json()["shared_with_client"] is True
