"""Client documents (C7, C9, C10, I9): a client's documents, seen by those who may see the client.

Psychotherapy notes and secure messages (C9) are seen only by the client's treating providers, and a
provider whose roster entry is archived sees only what existed until then (C10): both are WHERE clauses
(`visible_documents`), so a document the caller may not see is simply not found, name included.

The bytes go to storage before the row is written, so a row never points at nothing; a transaction
that fails after that leaves an unreferenced object behind, which costs space but shows nothing.
"""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator

import structlog
from sqlalchemy import ColumnElement, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app.clients.access import provider_reads, visible_client
from app.config import get_settings
from app.core import audit
from app.core.auth import Actor
from app.core.authz import Grant, Reach
from app.core.errors import Problem, not_found
from app.core.pagination import PageParams, paginate
from app.core.storage import ObjectNotFound, Storage
from app.documents.content import (
    ALLOWED_DESCRIPTION,
    ALLOWED_TYPES,
    DocumentType,
    detect_type,
    safe_file_name,
)
from app.models import Client, ClientDocument, RosterEntry
from app.models.clients import DOCUMENT_CATEGORIES, RESTRICTED_DOCUMENT_CATEGORIES

log = structlog.get_logger("caseload.documents")
DOCUMENT_SOURCES = ("upload", "import")


def type_refused() -> Problem:
    return Problem(
        415,
        "document_type_refused",
        f"Only {ALLOWED_DESCRIPTION} documents are accepted. The type is read from the file's content, not its name.",
        allowed_types=[kind.content_type for kind in ALLOWED_TYPES],
    )


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "document_too_large",
        f"A document may be at most {limit:,} bytes. Send a smaller file, or split it.",
        max_bytes=limit,
    )


def empty_document() -> Problem:
    return Problem(
        422,
        "document_empty",
        "The file is empty.",
        errors=[{"field": "body.file", "message": "the file has no content"}],
    )


def restricted_refused() -> Problem:
    return Problem(
        403,
        "restricted_document_category",
        "Psychotherapy notes and messages are filed and read only by the client's treating providers "
        "(a provider with the client on their roster). File this document under another category, or ask "
        "the treating provider to add it.",
        restricted_categories=list(RESTRICTED_DOCUMENT_CATEGORIES),
    )


def not_on_roster() -> Problem:
    return Problem(
        409,
        "client_not_on_your_roster",
        "This client is no longer on your roster: you keep reading what was added while they were, but you cannot "
        "add documents. Ask the client's current provider or an admin.",
    )


def visible_documents(grant: Grant) -> list[ColumnElement[bool]]:
    """The documents of the grant's group the caller may see (C9, C10), as WHERE clauses.

    A treating provider is one whose roster entry for the client reaches the document (app.clients.access.
    provider_reads: active, or archived after the document was created). Admins (whole group) see every
    document but the restricted categories, unless they treat the client themselves; API keys never see those.
    """
    user_id = grant.actor.user_id
    treating = provider_reads(user_id, ClientDocument.client_id, ClientDocument.created_at) if user_id else false()
    clauses: list[ColumnElement[bool]] = [ClientDocument.group_id == grant.group_id]
    if grant.reach is Reach.GROUP:
        clauses.append(or_(not_(ClientDocument.category.in_(RESTRICTED_DOCUMENT_CATEGORIES)), treating))
    else:
        clauses.append(treating)
    return clauses


def storage_key(group_id: uuid.UUID, client_id: uuid.UUID, document_id: uuid.UUID) -> str:
    return f"groups/{group_id}/clients/{client_id}/{document_id}"


def _inspect(data: bytes) -> tuple[DocumentType | None, bytes]:
    return detect_type(data), hashlib.sha256(data).digest()


async def attach_document(
    db: AsyncSession,
    storage: Storage,
    *,
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    file_name: str | None,
    content_type: str | None,
    data: bytes,
    source: str,
    uploaded_by: uuid.UUID | None,
    actor: Actor | None = None,
    category: str = "clinical",
    import_id: uuid.UUID | None = None,
) -> ClientDocument:
    """Store `data` as a document of the client and audit it (R2).

    No authorization here: an upload loads the client through `visible_client` first; an import acts
    for the provider who owns it. `file_name` and `content_type` are the sender's claims: the type
    stored is detected from the content (refused with 415 when not allowed) and the name is made safe.
    Raises a Problem (413 `document_too_large`, 415 `document_type_refused`, 422 `document_empty`)
    that an import can catch to report the one document and go on.
    """
    if source not in DOCUMENT_SOURCES:
        raise ValueError(f"source must be one of {DOCUMENT_SOURCES}")
    if category not in DOCUMENT_CATEGORIES:
        raise ValueError(f"category must be one of {DOCUMENT_CATEGORIES}")
    limit = get_settings().max_document_bytes
    if not data:
        raise empty_document()
    if len(data) > limit:
        raise too_large(limit)
    # Hashing and sniffing 25 MB takes tens of milliseconds: not on the event loop.
    kind, digest = await asyncio.to_thread(_inspect, data)
    if kind is None:
        raise type_refused()
    if content_type and content_type.split(";")[0].strip().lower() != kind.content_type.split(";")[0]:
        log.info("document_type_differs", declared=content_type[:100], detected=kind.content_type)
    document_id = uuid.uuid4()
    key = storage_key(group_id, client_id, document_id)
    await storage.put(key, data, kind.content_type)
    try:
        document = ClientDocument(
            id=document_id,
            group_id=group_id,
            client_id=client_id,
            file_name=safe_file_name(file_name, kind),
            content_type=kind.content_type,
            size_bytes=len(data),
            sha256=digest,
            storage_key=key,
            source=source,
            category=category,
            uploaded_by_user_id=uploaded_by,
            import_id=import_id,
            # The wall clock, not the transaction's start: documents attached in one transaction
            # (an import) keep the order they were attached in.
            created_at=func.clock_timestamp(),
        )
        db.add(document)
        await db.flush()
        await db.refresh(document, ["created_at"])
        await audit.record(
            db,
            actor,
            "document.uploaded",
            target_type="client_document",
            target_id=document.id,
            group_id=group_id,
            client_id=str(client_id),
            source=source,
            category=category,
        )
    except BaseException:
        await _discard(storage, key)
        raise
    return document


async def _discard(storage: Storage, key: str) -> None:
    try:
        await asyncio.shield(storage.delete(key))
    except Exception:  # the original failure matters more; the object is merely unreferenced
        log.warning("document_object_not_discarded", exc_info=True)


async def upload_document(
    db: AsyncSession,
    storage: Storage,
    actor: Actor,
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    upload: UploadFile | None,
    category: str = "clinical",
) -> ClientDocument:
    """C7: a provider (own roster), an admin or the group's API key attaches a document to a client.

    C9: a psychotherapy note or message is filed only by a provider with the client on their active roster
    (who alone will read it); C10: a provider whose entry is archived adds nothing.
    """
    client, grant = await visible_client(db, actor, group_id, client_id)
    restricted = category in RESTRICTED_DOCUMENT_CATEGORIES
    if restricted or grant.reach is Reach.OWN:
        active = await db.scalar(
            select(RosterEntry.id).where(
                RosterEntry.client_id == client.id,
                RosterEntry.provider_user_id == actor.user_id,
                RosterEntry.archived_at.is_(None),
            ).limit(1)
        ) if actor.user_id else None
        if active is None:
            raise restricted_refused() if restricted and grant.reach is Reach.GROUP else not_on_roster()
    if upload is None:
        raise Problem(
            422,
            "validation_failed",
            "Some fields are missing or invalid; see `errors`.",
            title="Unprocessable Content",
            errors=[{"field": "body.file", "message": "Send the document as the multipart field `file`.", "type": "missing"}],
        )
    # Checked before the bytes are read into memory; the route's body limit already bounds them.
    limit = get_settings().max_document_bytes
    if upload.size is not None and upload.size > limit:
        raise too_large(limit)
    return await attach_document(
        db,
        storage,
        group_id=group_id,
        client_id=client.id,
        file_name=upload.filename,
        content_type=upload.content_type,
        data=await upload.read(),
        source="upload",
        uploaded_by=actor.user_id,
        actor=actor,
        category=category,
    )


async def list_documents(
    db: AsyncSession,
    actor: Actor,
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    page: PageParams,
    *,
    category: str | None = None,
) -> tuple[list[ClientDocument], str | None]:
    client, grant = await visible_client(db, actor, group_id, client_id)
    stmt = select(ClientDocument).where(ClientDocument.client_id == client.id, *visible_documents(grant))
    if category is not None:
        stmt = stmt.where(ClientDocument.category == category)
    documents, next_cursor = await paginate(
        db, stmt, page, keys=(ClientDocument.created_at, ClientDocument.id), descending=True
    )
    await audit.record(db, actor, "document.listed", target_type="client", target_id=client.id, group_id=group_id)
    return documents, next_cursor


async def open_document(
    db: AsyncSession,
    storage: Storage,
    actor: Actor,
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    document_id: uuid.UUID,
) -> tuple[ClientDocument, AsyncIterator[bytes]]:
    """The document and its bytes, already opened: a missing object fails here, before any header is sent."""
    client, grant = await visible_client(db, actor, group_id, client_id)
    document = await db.scalar(
        select(ClientDocument).where(
            ClientDocument.id == document_id, ClientDocument.client_id == client.id, *visible_documents(grant)
        )
    )
    if document is None:
        raise not_found("document")
    content = await open_stored(storage, document)
    await audit.record(
        db,
        actor,
        "document.downloaded",
        target_type="client_document",
        target_id=document.id,
        group_id=group_id,
        client_id=str(client.id),
    )
    return document, content


async def open_stored(storage: Storage, document: ClientDocument) -> AsyncIterator[bytes]:
    """The document's bytes, already opened: a missing object fails here, before any header is sent."""
    chunks = storage.open(document.storage_key)
    try:
        first = await anext(chunks, b"")
    except ObjectNotFound:
        log.error("document_object_missing", document_id=str(document.id))
        raise Problem(
            500,
            "document_unavailable",
            "This document's content cannot be read right now. It has been logged; retry later or contact support.",
        ) from None
    return _prepend(first, chunks)


async def set_shared(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, client_id: uuid.UUID, document_id: uuid.UUID, shared: bool
) -> ClientDocument:
    """C11: share a document with its client (or stop); psychotherapy notes and messages never (C9)."""
    client, grant = await visible_client(db, actor, group_id, client_id)
    document = await db.scalar(
        select(ClientDocument).where(
            ClientDocument.id == document_id, ClientDocument.client_id == client.id, *visible_documents(grant)
        ).with_for_update()
    )
    if document is None:
        raise not_found("document")
    if shared and document.category in RESTRICTED_DOCUMENT_CATEGORIES:
        raise Problem(409, "document_never_shared",
                      f"A {document.category.replace('_', ' ')} is never shared with the client. Share another document, "
                      "or give the client what they need in a document of another category.", category=document.category)
    if shared and client.consented_at is None:
        # C8: the record points to an account the person has not accepted this practice for.
        raise Problem(409, "client_not_consented",
                      "The client has not accepted this practice's invitation yet, so nothing can be shared with them. "
                      "Share the document once they have accepted.", client_id=str(client.id))
    document.shared_with_client = shared
    await db.flush()
    await audit.record(db, actor, "document.shared" if shared else "document.unshared", target_type="client_document",
                       target_id=document.id, group_id=group_id, client_id=str(client.id))
    return document


def shared_with(user_id: uuid.UUID) -> list[ColumnElement[bool]]:
    """C11: the documents shared with a person, from every practice whose client they are (never restricted ones)."""
    return [
        ClientDocument.shared_with_client,
        not_(ClientDocument.category.in_(RESTRICTED_DOCUMENT_CATEGORIES)),
        ClientDocument.client_id.in_(select(Client.id).where(Client.user_id == user_id, Client.consented_at.is_not(None))),
    ]


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()  # type: ignore[attr-defined]
