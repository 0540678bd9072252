"""C11: the documents practices shared with the person, read by the person themselves."""

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.auth import Actor
from app.core.errors import not_found
from app.core.pagination import PageParams, paginate
from app.core.storage import Storage
from app.documents.service import open_stored, shared_with
from app.models import ClientDocument


async def my_documents(db: AsyncSession, actor: Actor, page: PageParams) -> tuple[list[ClientDocument], str | None]:
    assert actor.user_id is not None
    stmt = select(ClientDocument).where(*shared_with(actor.user_id))
    documents, next_cursor = await paginate(db, stmt, page, keys=(ClientDocument.created_at, ClientDocument.id), descending=True)
    await audit.record(db, actor, "document.own_listed", target_type="user", target_id=actor.user_id,
                       document_ids=[str(d.id) for d in documents])
    return documents, next_cursor


async def open_my_document(
    db: AsyncSession, storage: Storage, actor: Actor, document_id: uuid.UUID
) -> tuple[ClientDocument, AsyncIterator[bytes]]:
    assert actor.user_id is not None
    document = await db.scalar(select(ClientDocument).where(ClientDocument.id == document_id, *shared_with(actor.user_id)))
    if document is None:
        raise not_found("document")
    content = await open_stored(storage, document)
    await audit.record(db, actor, "document.downloaded", target_type="client_document", target_id=document.id,
                       group_id=document.group_id, client_id=str(document.client_id))
    return document, content
