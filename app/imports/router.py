import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response
from starlette.datastructures import UploadFile

from app.config import get_settings
from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.routing import allowed, router
from app.core.schemas import INT64_MAX
from app.core.storage import StorageDep
from app.imports import schemas, service
from app.imports.schemas import RowClass

imports_router = router("/v1/groups/{group_id}/imports", "imports")
ERRORS = problem_responses(401, 403, 404, 409, 422)
# Room for the multipart envelope around the file and its two small fields.
_UPLOAD_BODY_LIMIT = get_settings().max_import_bytes + 64 * 1024


class UploadForm:
    def __init__(self, file: UploadFile | None, provider_id: str | None, password: str | None) -> None:
        self.file, self.provider_id, self.password = file, provider_id, password


async def upload_form(request: Request) -> AsyncIterator[UploadForm]:
    """The multipart form, parsed here (not with `File()`/`Form()`): the Idempotency-Key guard reads the
    raw body first to fingerprint it, and the form is parsed from the copy it keeps."""
    form = await request.form(max_files=1, max_fields=5)
    try:
        file = form.get("file")
        provider_id, password = form.get("provider_id"), form.get("password")
        yield UploadForm(
            file if isinstance(file, UploadFile) else None,
            provider_id if isinstance(provider_id, str) and provider_id else None,
            password if isinstance(password, str) and password else None,
        )
    finally:
        await form.close()


Upload = Annotated[UploadForm, Depends(upload_form)]


@imports_router.post(
    "", summary="Upload a client list to import",
    status_code=202,
    dependencies=[Idempotent],
    max_body_size=_UPLOAD_BODY_LIMIT,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra={**allowed(Capability.CLIENTS)["openapi_extra"], "requestBody": schemas.UPLOAD_REQUEST_BODY},
)
async def upload_import(
    group_id: uuid.UUID, form: Upload, actor: CurrentActor, db: DB, storage: StorageDep, response: Response
) -> schemas.ImportOut:
    """Upload a client list (.csv, .xlsx, .vcf, SimplePractice .zip); it is analysed in the background.

    A file of another type (a PDF, an image, an old .xls) is refused at once with 415; other problems show on the
    import once analysed. When its headers are not recognised, the import waits in `needs_mapping` for
    `PUT .../mapping`."""
    imp = await service.upload_import(
        db, storage, actor, group_id, form.file, provider_id=form.provider_id, password=form.password
    )
    response.headers["Location"] = f"/v1/groups/{group_id}/imports/{imp.id}"
    return service.import_out(service.ImportView(imp, None))


@imports_router.get("", summary="List imports", responses=ERRORS, **allowed(Capability.CLIENTS))
async def list_imports(group_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery) -> Page[schemas.ImportOut]:
    """The group's imports (a provider's own), newest first."""
    views, next_cursor = await service.list_imports(db, actor, group_id, page)
    return Page(items=[service.import_out(v) for v in views], next_cursor=next_cursor)


@imports_router.get("/{import_id}", summary="Get an import", responses=ERRORS, **allowed(Capability.CLIENTS))
async def read_import(group_id: uuid.UUID, import_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.ImportOut:
    """An import: status, progress, detected format, counts per class, result."""
    return service.import_out(await service.read_import(db, actor, group_id, import_id))


@imports_router.get("/{import_id}/rows", summary="List an import's rows", responses=ERRORS, **allowed(Capability.CLIENTS))
async def list_rows(
    group_id: uuid.UUID,
    import_id: uuid.UUID,
    actor: CurrentActor,
    db: DB,
    page: PageQuery,
    classification: Annotated[RowClass | None, Query(description="Only rows of this class.")] = None,
) -> Page[schemas.ImportRowOut]:
    """The analysed rows, in file order, with badges and candidates (I6)."""
    rows, next_cursor = await service.list_rows(db, actor, group_id, import_id, page, classification=classification)
    return Page(items=rows, next_cursor=next_cursor)


@imports_router.patch("/{import_id}/rows/{row_id}", summary="Select, match or correct an import row", responses=ERRORS, **allowed(Capability.CLIENTS))
async def update_row(
    group_id: uuid.UUID, import_id: uuid.UUID, row_id: Annotated[int, Path(ge=1, le=INT64_MAX)], body: schemas.RowUpdate, actor: CurrentActor, db: DB
) -> schemas.ImportRowOut:
    """Select a row, or match an uncertain row by hand to one of its candidates (I7)."""
    return await service.update_row(db, actor, group_id, import_id, row_id, body)


@imports_router.post("/{import_id}/rows/selection", summary="Select or unselect rows by class", responses=ERRORS, **allowed(Capability.CLIENTS))
async def select_rows(
    group_id: uuid.UUID, import_id: uuid.UUID, body: schemas.BulkSelection, actor: CurrentActor, db: DB
) -> schemas.BulkSelectionOut:
    """Select or unselect every row of a class."""
    return await service.select_class(db, actor, group_id, import_id, body)


@imports_router.put("/{import_id}/mapping", responses=ERRORS, **allowed(Capability.CLIENTS), summary="Map a file's columns")
async def set_mapping(
    group_id: uuid.UUID, import_id: uuid.UUID, body: schemas.MappingIn, actor: CurrentActor, db: DB
) -> schemas.ImportOut:
    """When an import waits in `needs_mapping` (its headers were not recognised), say which of the file's headers
    holds each field. The file is analysed again with the mapping; with `save`, the next file with the same columns
    is read with it without asking."""
    return service.import_out(await service.set_mapping(db, actor, group_id, import_id, body))


@imports_router.post(
    "/{import_id}/finalize", summary="Finalize an import",
    dependencies=[Idempotent],
    responses={202: {"description": "A large import: finalizing in the background.", "model": schemas.ImportOut},
               **ERRORS},
    **allowed(Capability.CLIENTS),
)
async def finalize_import(
    group_id: uuid.UUID,
    import_id: uuid.UUID,
    actor: CurrentActor,
    db: DB,
    storage: StorageDep,
    response: Response,
    body: schemas.FinalizeIn | None = None,
) -> schemas.ImportOut:
    """Import the selected rows (I8); twice imports nothing twice."""
    view, queued = await service.finalize_import(db, storage, actor, group_id, import_id, body or schemas.FinalizeIn())
    if queued:
        response.status_code = 202
    return service.import_out(view)


@imports_router.post(
    "/{import_id}/undo", dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CLIENTS), summary="Undo an import"
)
async def undo_import(group_id: uuid.UUID, import_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.ImportOut:
    """Take back a finalized import as long as nothing was done with the clients it added: the client records,
    accounts (never used), roster entries and invitations it made are deleted, the roster entries it added to
    existing clients are removed, and the documents it attached are deleted. Otherwise 409 `import_undo_blocked`
    lists, per client, what was done since (`session`, `document`, `message`, `onboarding`, `invitation_accepted`,
    `edited`, `account_used`). Undoing an undone import changes nothing and returns it."""
    return service.import_out(await service.undo_import(db, actor, group_id, import_id))
