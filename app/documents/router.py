import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from starlette.datastructures import UploadFile
from starlette.responses import StreamingResponse

from app.config import get_settings
from app.core.auth import CurrentActor, PersonActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import Problem, problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.routing import PERSON, allowed, router
from app.core.storage import StorageDep
from app.documents import mine, schemas, service
from app.documents.content import ALLOWED_TYPES, content_disposition

documents_router = router("/v1/groups/{group_id}/clients/{client_id}/documents", "clients")
my_documents_router = router("/v1/me/documents", "clients")

_settings = get_settings()
# Room for the multipart envelope around the one file: boundaries, part headers.
_MULTIPART_OVERHEAD = 64 * 1024
_UPLOAD_BODY_LIMIT = min(_settings.max_upload_bytes, _settings.max_document_bytes + _MULTIPART_OVERHEAD)


async def uploaded_file(request: Request) -> AsyncIterator[UploadFile | None]:
    """The form's `file` part, if there is one (the service says so only after checking who may see the client).

    Parsed here, not as a `File()` parameter: FastAPI reads a form before any dependency runs, and the
    Idempotency-Key guard (which runs first) needs the raw body to fingerprint it; Starlette reads a
    body once, so the form is parsed from the copy the guard keeps.
    """
    form = await request.form(max_files=1, max_fields=10)
    try:
        file = form.get("file")
        yield file if isinstance(file, UploadFile) else None
    finally:
        await form.close()


Upload = Annotated[UploadFile | None, Depends(uploaded_file)]
_CATEGORIES = ("clinical", "administrative", "billing", "psychotherapy_note", "message")


async def uploaded_category(request: Request, _: Upload) -> str:
    """The form's optional `category` field (the form is parsed once, by `uploaded_file`)."""
    value = (await request.form()).get("category")
    if value is None or value == "":
        return "clinical"
    if not isinstance(value, str) or value not in _CATEGORIES:
        raise Problem(
            422, "validation_failed", "Some fields are missing or invalid; see `errors`.", title="Unprocessable Content",
            errors=[{"field": "body.category", "message": f"one of {', '.join(_CATEGORIES)}", "type": "enum"}],
        )
    return value


Category = Annotated[str, Depends(uploaded_category)]


@documents_router.post(
    "", summary="Upload a client document",
    status_code=201,
    dependencies=[Idempotent],
    max_body_size=_UPLOAD_BODY_LIMIT,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra={**allowed(Capability.CLIENTS)["openapi_extra"], "requestBody": schemas.UPLOAD_REQUEST_BODY},
)
async def upload_document(
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    upload: Upload,
    category: Category,
    actor: CurrentActor,
    db: DB,
    storage: StorageDep,
    response: Response,
) -> schemas.DocumentOut:
    """Attach a document to a client (multipart field `file`, optional `category`); its type is read from the content.

    Psychotherapy notes and messages can be filed only by a provider who has the client on their roster.
    """
    document = await service.upload_document(db, storage, actor, group_id, client_id, upload, category)
    response.headers["Location"] = f"/v1/groups/{group_id}/clients/{client_id}/documents/{document.id}"
    return schemas.DocumentOut.model_validate(document)


@documents_router.get("", summary="List a client's documents", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.CLIENTS))
async def list_documents(
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DB,
    page: PageQuery,
    category: Annotated[schemas.DocumentCategory | None, Query(description="Only documents of this category.")] = None,
) -> Page[schemas.DocumentOut]:
    """A client's documents that the caller may see, newest first.

    Psychotherapy notes and messages are listed only to the client's treating providers. A provider whose client
    moved to another provider keeps seeing what was added while the client was theirs, nothing added later.
    """
    documents, next_cursor = await service.list_documents(db, actor, group_id, client_id, page, category=category)
    return Page(items=[schemas.DocumentOut.model_validate(d) for d in documents], next_cursor=next_cursor)


DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The document's bytes, as an attachment, in the type detected at upload.",
        # Each type a document can be stored as, so clients and fuzzers know what may come back.
        "content": {
            kind.content_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
            for kind in ALLOWED_TYPES
        },
    },
    **problem_responses(401, 403, 404, 500),
}
_SAFE_DOWNLOAD_HEADERS = {
    # Never rendered by the browser as anything but the stored type, never kept in a cache.
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@documents_router.get(
    "/{document_id}", summary="Download a client document", response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES, **allowed(Capability.CLIENTS),
)
async def download_document(
    group_id: uuid.UUID, client_id: uuid.UUID, document_id: uuid.UUID, actor: CurrentActor, db: DB, storage: StorageDep
) -> StreamingResponse:
    """Download a client's document."""
    document, chunks = await service.open_document(db, storage, actor, group_id, client_id, document_id)
    headers = {"Content-Length": str(document.size_bytes), "Content-Disposition": content_disposition(document.file_name),
               **_SAFE_DOWNLOAD_HEADERS}
    return StreamingResponse(chunks, media_type=document.content_type, headers=headers)


@documents_router.patch(
    "/{document_id}", responses=problem_responses(401, 403, 404, 409, 422), **allowed(Capability.CLIENTS),
    summary="Share a document with the client",
    description=(
        "`shared_with_client: true` lets the client list and download the document from `/v1/me/documents`; `false` "
        "stops sharing it. Psychotherapy notes and messages are never shared (409 `document_never_shared`), and nothing "
        "is shared with a client who has not accepted the practice's invitation yet (409 `client_not_consented`)."
    ),
)
async def share_document(
    group_id: uuid.UUID, client_id: uuid.UUID, document_id: uuid.UUID, body: schemas.SharingIn, actor: CurrentActor, db: DB
) -> schemas.DocumentOut:
    document = await service.set_shared(db, actor, group_id, client_id, document_id, body.shared_with_client)
    return schemas.DocumentOut.model_validate(document)


@my_documents_router.get(
    "", response_model=Page[schemas.MyDocumentOut], responses=problem_responses(401, 403, 422), **allowed(PERSON),
    summary="Documents shared with you",
    description="The documents your practices shared with you as a client, newest first, from every practice.",
)
async def my_documents(actor: PersonActor, db: DB, page: PageQuery) -> Page[schemas.MyDocumentOut]:
    documents, next_cursor = await mine.my_documents(db, actor, page)
    return Page(items=[schemas.MyDocumentOut.model_validate(d) for d in documents], next_cursor=next_cursor)


@my_documents_router.get(
    "/{document_id}", response_class=StreamingResponse, responses=DOWNLOAD_RESPONSES, **allowed(PERSON),
    summary="Download a document shared with you",
    description="The bytes of a document a practice shared with you, as an attachment.",
)
async def download_my_document(document_id: uuid.UUID, actor: PersonActor, db: DB, storage: StorageDep) -> StreamingResponse:
    document, chunks = await mine.open_my_document(db, storage, actor, document_id)
    headers = {"Content-Length": str(document.size_bytes), "Content-Disposition": content_disposition(document.file_name),
               **_SAFE_DOWNLOAD_HEADERS}
    return StreamingResponse(chunks, media_type=document.content_type, headers=headers)
