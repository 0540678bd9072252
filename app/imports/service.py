"""Client imports (I1-I11): upload, review, finalize.

A provider imports into their own roster and sees only their own imports (another provider's is a
404); admins and the group's API key import into any provider's roster. Reads of rows are audited
(ids only). Parsing and classification happen in the analysis job (analysis.py), the bulk work of
finalizing in finalize.py.
"""

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app.clients.access import visible_clients
from app.clients.service import provider_for
from app.config import get_settings
from app.core import audit, crypto, jobs
from app.core.auth import Actor
from app.core.authz import Capability, Grant, Reach, require
from app.core.errors import Problem, conflict, not_found
from app.core.pagination import PageParams, paginate
from app.core.storage import Storage
from app.imports import schemas
from app.imports.analysis import PASSWORD_PURPOSE, gather_candidates, problems_json
from app.imports.finalize import finalize
from app.imports.undo import undo
from app.imports.matching import CandidateIndex, classify, email_key, normalise
from app.imports.parsers import PRECHECK_BYTES, ImportRejected, precheck_upload
from app.imports.parsers.columns import REQUIRED_FIELDS, header_key, normalise_header
from app.imports.parsers import ImportRow as ParsedRow
from app.models import Client, ClientImport, ImportMapping
from app.models import ImportRow as Row

READ_CHUNK = 1024 * 1024


def too_large(limit: int) -> Problem:
    return Problem(413, "import_too_large", f"An import file may be at most {limit:,} bytes. Split the list into smaller files.",
                   max_bytes=limit)


def _field_error(field: str, message: str) -> Problem:
    return Problem(422, "validation_failed", "Some fields are missing or invalid; see `errors`.",
                   title="Unprocessable Content", errors=[{"field": field, "message": message}])


def storage_key(group_id: uuid.UUID, import_id: uuid.UUID) -> str:
    return f"groups/{group_id}/imports/{import_id}"


async def _visible_import(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, import_id: uuid.UUID, *, for_update: bool = False
) -> tuple[ClientImport, Grant]:
    grant = require(actor, Capability.CLIENTS, group_id)
    stmt = select(ClientImport).where(ClientImport.id == import_id, ClientImport.group_id == group_id)
    if grant.reach is Reach.OWN:
        stmt = stmt.where(ClientImport.provider_user_id == actor.user_id)
    if for_update:
        stmt = stmt.with_for_update()
    imp = await db.scalar(stmt)
    if imp is None:
        raise not_found("import")
    return imp, grant


# --- upload ----------------------------------------------------------------------------------------


async def upload_import(
    db: AsyncSession,
    storage: Storage,
    actor: Actor,
    group_id: uuid.UUID,
    upload: UploadFile | None,
    *,
    provider_id: str | None,
    password: str | None,
) -> ClientImport:
    """I1, I5: store the file as it came, and queue its analysis (the type is read there, from the content)."""
    grant = require(actor, Capability.CLIENTS, group_id)
    try:
        provider_uuid = uuid.UUID(provider_id) if provider_id else None
    except ValueError:
        raise _field_error("body.provider_id", "not a UUID") from None
    provider = await provider_for(db, grant, provider_uuid)
    if upload is None:
        raise _field_error("body.file", "Send the file as the multipart field `file`.")
    if password is not None and not 0 < len(password) <= 200:
        raise _field_error("body.password", "between 1 and 200 characters")
    limit = get_settings().max_import_bytes
    if upload.size is not None and upload.size > limit:
        raise too_large(limit)
    import_id = uuid.uuid4()
    key = storage_key(group_id, import_id)
    digest = hashlib.sha256()
    size = 0

    first = await upload.read(READ_CHUNK)
    _precheck(first)

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal size
        chunk = first
        while chunk:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            digest.update(chunk)
            yield chunk
            chunk = await upload.read(READ_CHUNK)

    await storage.put(key, chunks(), "application/octet-stream")
    imp = ClientImport(
        id=import_id,
        group_id=group_id,
        provider_user_id=provider,
        uploaded_by_user_id=actor.user_id,
        file_name=(upload.filename or "upload")[:255],
        size_bytes=size,
        sha256=digest.digest(),
        storage_key=key,
        password_encrypted=crypto.encrypt(password, purpose=PASSWORD_PURPOSE) if password else None,
        status="queued",
        warnings=[],
    )
    db.add(imp)
    await db.flush()
    await db.refresh(imp)
    await jobs.enqueue(db, "analyze_import", str(import_id), job_id=f"analyze_import:{import_id}")
    await audit.record(db, actor, "import.uploaded", target_type="client_import", target_id=import_id, group_id=group_id,
                       provider_user_id=str(provider), size_bytes=size)
    return imp


def _precheck(first: bytes) -> None:
    """I12: a file of a type we do not read is refused by the upload itself (no 202 to poll); everything else is
    decided by the analysis, and headers it does not recognise are mapped by the person (I13)."""
    try:
        precheck_upload(first[:PRECHECK_BYTES])
    except ImportRejected as refused:
        raise Problem(415, refused.code, refused.detail) from None


# --- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportView:
    imp: ClientImport
    counts: schemas.ImportCounts | None


async def _counts(db: AsyncSession, import_ids: list[uuid.UUID]) -> dict[uuid.UUID, schemas.ImportCounts]:
    result: dict[uuid.UUID, schemas.ImportCounts] = {}
    if not import_ids:
        return result
    stmt = (
        select(Row.import_id, Row.classification, func.count(), func.count().filter(Row.selected))
        .where(Row.import_id.in_(import_ids))
        .group_by(Row.import_id, Row.classification)
    )
    for import_id, classification, total, selected in await db.execute(stmt):
        counts = result.setdefault(import_id, schemas.ImportCounts())
        setattr(counts, classification, total)
        counts.selected += selected
    return result


async def _views(db: AsyncSession, imports: list[ClientImport]) -> list[ImportView]:
    analysed = [i.id for i in imports if i.status in ("ready", "finalizing", "finalized", "undone")]
    counts = await _counts(db, analysed)
    return [ImportView(i, counts.get(i.id, schemas.ImportCounts()) if i.id in analysed else None) for i in imports]


def import_out(view: ImportView) -> schemas.ImportOut:
    i = view.imp
    return schemas.ImportOut(
        id=i.id, group_id=i.group_id, provider_id=i.provider_user_id, uploaded_by_user_id=i.uploaded_by_user_id,
        file_name=i.file_name, size_bytes=i.size_bytes, status=i.status,  # type: ignore[arg-type]
        format=i.format, container=i.container,
        progress=schemas.Progress(phase=_phase(i), bytes_done=i.bytes_done, bytes_total=i.size_bytes, rows_read=i.rows_read,
                                  rows_done=i.rows_done, rows_total=i.rows_total),
        failure=schemas.Failure(code=i.failure_code, detail=i.failure_detail or "") if i.failure_code else None,
        warnings=[schemas.ImportWarning(**w) for w in i.warnings or []],
        counts=view.counts,
        columns=schemas.FileColumns(**i.columns) if i.columns and i.status == "needs_mapping" else None,
        mapping=i.mapping,
        result=schemas.ImportResult(**i.result) if i.result else None,
        created_at=i.created_at, analyzed_at=i.analyzed_at, finalized_at=i.finalized_at,
        undone_at=i.undone_at, undo=schemas.UndoResult(**i.result["undo"]) if i.result and "undo" in i.result else None,
    )


def _phase(i: ClientImport) -> str:
    if i.status == "queued":
        return "queued"
    if i.status != "analyzing":
        return "done"
    if i.rows_total == 0:
        return "reading"
    return "classifying" if i.rows_done == 0 else "writing"


async def read_import(db: AsyncSession, actor: Actor, group_id: uuid.UUID, import_id: uuid.UUID) -> ImportView:
    imp, _ = await _visible_import(db, actor, group_id, import_id)
    [view] = await _views(db, [imp])
    return view


async def list_imports(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, page: PageParams
) -> tuple[list[ImportView], str | None]:
    """Newest first; a provider sees their own imports only."""
    grant = require(actor, Capability.CLIENTS, group_id)
    stmt = select(ClientImport).where(ClientImport.group_id == group_id)
    if grant.reach is Reach.OWN:
        stmt = stmt.where(ClientImport.provider_user_id == actor.user_id)
    imports, next_cursor = await paginate(db, stmt, page, keys=(ClientImport.created_at, ClientImport.id), descending=True)
    return await _views(db, imports), next_cursor


async def list_rows(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, import_id: uuid.UUID, page: PageParams,
    *, classification: str | None,
) -> tuple[list[schemas.ImportRowOut], str | None]:
    """I6: the rows in file order, with their candidates loaded for the whole page in one statement."""
    imp, grant = await _visible_import(db, actor, group_id, import_id)
    stmt = select(Row).where(Row.import_id == imp.id)
    if classification is not None:
        stmt = stmt.where(Row.classification == classification)
    rows, next_cursor = await paginate(db, stmt, page, keys=(Row.id,))
    candidates = await _candidates(db, grant, {cid for row in rows for cid in row.candidate_client_ids})
    await audit.record(db, actor, "import.rows_read", target_type="client_import", target_id=imp.id, group_id=group_id,
                       rows=len(rows))
    restricted = actor.user_id == imp.provider_user_id
    return [row_out(row, candidates, restricted=restricted) for row in rows], next_cursor


async def _candidates(db: AsyncSession, grant: Grant, ids: set[uuid.UUID]) -> dict[uuid.UUID, schemas.Candidate]:
    """The candidate clients the caller may see (C7: a provider, only their own roster's). The match
    itself is against the whole group (C2: one record per person), so an existing client of another
    roster still links at finalize; only its name and email are not shown to a provider."""
    if not ids:
        return {}
    found = await db.execute(
        select(Client.id, Client.first_name, Client.last_name, Client.email).where(Client.id.in_(ids), *visible_clients(grant))
    )
    return {c.id: schemas.Candidate(client_id=c.id, first_name=c.first_name, last_name=c.last_name, email=c.email) for c in found}


# C9: the names of psychotherapy notes and secure messages are shown only to the provider whose export it is.
_RESTRICTED_EXPORT_FOLDERS = ("psychotherapy_notes", "secure_messages")


def row_out(row: Row, candidates: dict[uuid.UUID, schemas.Candidate], *, restricted: bool = False) -> schemas.ImportRowOut:
    return schemas.ImportRowOut(
        id=row.id, line=row.line, source_ref=row.source_ref, first_name=row.first_name, last_name=row.last_name,
        email=row.email, phone=row.phone, phone_e164=row.phone_e164,
        classification=row.classification,  # type: ignore[arg-type]
        badges=list(row.badges), invalid_reason=row.invalid_reason, selected=row.selected,
        matched_client_id=row.matched_client_id,
        candidates=[candidates[c] for c in row.candidate_client_ids if c in candidates],
        documents=[schemas.RowDocument(file_name=d["file_name"], size=d["size"], category=d["category"]) for d in row.documents
                   if restricted or d["category"] not in _RESTRICTED_EXPORT_FOLDERS],
        outcome=row.outcome,  # type: ignore[arg-type]
        client_id=row.client_id,
        middle_name=row.middle_name,
        problems=[schemas.RowProblem(row=row.line, **p) for p in row.problems or []],
    )


# --- review ----------------------------------------------------------------------------------------


def _require_ready(imp: ClientImport) -> None:
    if imp.status != "ready":
        raise conflict(
            "import_not_ready" if imp.status in ("queued", "analyzing", "failed") else "import_finalized",
            f"The import is {imp.status}: rows can be reviewed only while it is ready.",
            import_status=imp.status,
        )


_EDITABLE = frozenset({"first_name", "middle_name", "last_name", "email"})
# The readers' badges that stay true whatever the name or email says; the rest are decided again.
_KEPT_BADGES = frozenset({"couple", "minor_contact_used", "documents_ambiguous", "deceased", "no_records"})


async def _edit_row(db: AsyncSession, imp: ClientImport, row: Row, body: schemas.RowUpdate, edited: list[str]) -> None:
    """I12: a name split wrongly or an email mistyped is corrected at review; the row is then classified again
    against the group's clients, exactly as the analysis would have classified it."""
    values = {field: getattr(row, field) for field in _EDITABLE}
    for field in edited:
        value = getattr(body, field)
        if value is None and field != "middle_name":
            raise _field_error(f"body.{field}", "cannot be cleared; leave it out to keep it")
        values[field] = (value or "").strip() or None
    if "email" in edited and values["email"] is not None and email_key(values["email"]) is None:
        raise _field_error("body.email", "not a valid email address")
    parsed = ParsedRow(
        row.line, values["first_name"], values["last_name"], values["email"], row.phone, row.source_ref,
        badges=tuple(b for b in row.badges if b in _KEPT_BADGES), middle_name=values["middle_name"],  # type: ignore[misc]
    )
    normalised = normalise(parsed)
    duplicate = normalised.email_key is not None and await db.scalar(
        select(func.count()).where(Row.import_id == imp.id, Row.id < row.id, Row.email_key == normalised.email_key,
                                   Row.classification != "invalid")
    )
    index = CandidateIndex.of(await gather_candidates(db, imp.group_id, [normalised]))
    verdict = classify(normalised, index, duplicate_in_file=bool(duplicate))
    row.first_name, row.middle_name, row.last_name = normalised.first_name, normalised.middle_name, normalised.last_name
    row.email, row.email_key = normalised.email, normalised.email_key
    row.classification = verdict.classification.value
    row.badges = [*verdict.badges, "edited"]
    row.invalid_reason = normalised.invalid_reason if verdict.classification == "invalid" else None
    row.candidate_client_ids = list(verdict.candidate_client_ids)
    row.matched_client_id = verdict.matched_client_id
    row.selected = verdict.selected
    row.problems = orjson.loads(problems_json(normalised.problems))


async def update_row(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, import_id: uuid.UUID, row_id: int, body: schemas.RowUpdate
) -> schemas.ImportRowOut:
    """Correct a row's name or email (I12), select or unselect it, match an uncertain row by hand to one of its
    candidates (I7)."""
    imp, grant = await _visible_import(db, actor, group_id, import_id, for_update=True)
    _require_ready(imp)
    row = await db.scalar(select(Row).where(Row.id == row_id, Row.import_id == imp.id).with_for_update())
    if row is None:
        raise not_found("row")
    changes = body.model_fields_set
    edited = sorted(changes & _EDITABLE)
    if edited:
        await _edit_row(db, imp, row, body, edited)
    candidates = await _candidates(db, grant, set(row.candidate_client_ids))
    matched_by_hand = False
    if "matched_client_id" in changes:
        if body.matched_client_id is None:
            if row.classification != "uncertain":
                raise conflict("match_fixed", "Only a match made by hand on an uncertain row can be cleared.")
            row.matched_client_id = None
        else:
            if body.matched_client_id not in candidates:
                raise conflict("not_a_candidate", "A row can be matched only to one of the clients offered for it (`candidates`).",
                               candidates=[str(c) for c in candidates])
            row.matched_client_id = body.matched_client_id
            matched_by_hand = True
            if body.selected is None:
                row.selected = True
    if body.selected is not None:
        if body.selected and row.classification == "invalid":
            raise conflict("row_invalid", f"This row cannot be imported: {row.invalid_reason}. Fix the file and upload it again.")
        if body.selected and row.email_key is None and row.matched_client_id is None:
            raise conflict("match_required", "A row without an email can be imported only by matching it to one of its candidates.")
        row.selected = body.selected
    await db.flush()
    if edited:
        # Which fields, never their values (PHI stays out of the audit trail's details).
        await audit.record(db, actor, "import.row_edited", target_type="client_import", target_id=imp.id, group_id=group_id,
                           row_id=row.id, fields=edited, classification=row.classification)
    if matched_by_hand:
        await audit.record(db, actor, "import.row_matched", target_type="client_import", target_id=imp.id, group_id=group_id,
                           row_id=row.id, client_id=str(row.matched_client_id))
    return row_out(row, candidates, restricted=actor.user_id == imp.provider_user_id)


async def select_class(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, import_id: uuid.UUID, body: schemas.BulkSelection
) -> schemas.BulkSelectionOut:
    """Tick or untick every row of a class in one statement (rows that cannot be imported stay unticked)."""
    imp, _ = await _visible_import(db, actor, group_id, import_id, for_update=True)
    _require_ready(imp)
    if body.selected and body.classification == "invalid":
        raise conflict("row_invalid", "Invalid rows cannot be selected: fix the file and upload it again.")
    stmt = update(Row).where(Row.import_id == imp.id, Row.classification == body.classification, Row.selected != body.selected)
    if body.selected:
        stmt = stmt.where((Row.email_key.is_not(None)) | (Row.matched_client_id.is_not(None)))
    updated = (await db.execute(stmt.values(selected=body.selected))).rowcount  # type: ignore[attr-defined]
    counts = (await _counts(db, [imp.id])).get(imp.id, schemas.ImportCounts())
    return schemas.BulkSelectionOut(updated=updated, counts=counts)


# --- column mapping ------------------------------------------------------------------------------


async def set_mapping(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, import_id: uuid.UUID, body: schemas.MappingIn
) -> ImportView:
    """I13: map the file's columns to the fields, analyse it again with them, and (by default) keep the mapping for
    the next file of the same shape."""
    imp, _ = await _visible_import(db, actor, group_id, import_id, for_update=True)
    if imp.status != "needs_mapping" or not imp.columns:
        raise conflict("mapping_not_needed", f"The import is {imp.status}: a mapping is asked for only when the file's "
                       "headers are not recognised.", import_status=imp.status)
    headers = imp.columns["headers"]
    by_key = {normalise_header(h): h for h in headers if normalise_header(h)}
    errors = []
    for field in REQUIRED_FIELDS:
        if field not in body.columns:
            errors.append({"field": f"body.columns.{field}", "message": "required"})
    used: dict[str, str] = {}
    for field, header in body.columns.items():
        key = normalise_header(header)
        if key not in by_key:
            errors.append({"field": f"body.columns.{field}", "message": "not one of the file's headers (`columns.headers`)"})
        elif key in used:
            errors.append({"field": f"body.columns.{field}", "message": f"the same column as {used[key]}"})
        else:
            used[key] = field
    if errors:
        raise Problem(422, "validation_failed", "The mapping does not fit the file; see `errors`.",
                      title="Unprocessable Content", errors=errors)
    mapping = {field: by_key[normalise_header(header)] for field, header in body.columns.items()}
    imp.mapping, imp.status = mapping, "queued"
    imp.rows_done = imp.rows_total = imp.rows_read = imp.bytes_done = 0
    await db.flush()
    if body.save:
        stmt = pg_insert(ImportMapping).values(
            id=uuid.uuid4(), group_id=group_id, header_key=header_key(headers), mapping=mapping, saved_by_user_id=actor.user_id
        )
        await db.execute(stmt.on_conflict_do_update(
            index_elements=[ImportMapping.group_id, ImportMapping.header_key],
            set_={"mapping": mapping, "saved_by_user_id": actor.user_id, "saved_at": func.now()},
        ))
    # Its own job id: the first analysis's id may still be held by the queue.
    await jobs.enqueue(db, "analyze_import", str(imp.id), job_id=f"analyze_import:{imp.id}:mapped")
    await audit.record(db, actor, "import.mapped", target_type="client_import", target_id=imp.id, group_id=group_id,
                       fields=sorted(mapping), saved=body.save)
    await db.refresh(imp)
    return await read_import_view(db, imp)


# --- finalize --------------------------------------------------------------------------------------


async def finalize_import(
    db: AsyncSession, storage: Storage, actor: Actor, group_id: uuid.UUID, import_id: uuid.UUID, body: schemas.FinalizeIn
) -> tuple[ImportView, bool]:
    """I8: returns the import and whether the work was queued (large imports) rather than done here.

    The import row is locked first: a concurrent finalize waits, then finds it finalized (same
    result) or finalizing (queued), and does nothing twice.
    """
    imp, _ = await _visible_import(db, actor, group_id, import_id, for_update=True)
    if imp.status == "finalized":
        return await read_import_view(db, imp), False
    if imp.status == "finalizing":
        return await read_import_view(db, imp), True
    if imp.status != "ready":
        raise conflict("import_not_ready", f"The import is {imp.status}: only a ready import can be finalized.", import_status=imp.status)
    selected = await db.scalar(select(func.count()).where(Row.import_id == imp.id, Row.selected)) or 0
    if selected == 0:
        # Finalizing nothing would close the import for good; the person most likely forgot to tick the new rows.
        raise conflict("nothing_selected", "No row is selected, so there is nothing to import. Select the rows to import "
                       "(new rows are not selected by default) and finalize again.")
    imp.send_welcome_email = body.send_welcome_email
    imp.finalized_by_user_id = actor.user_id
    imp.finalize_requested_at = func.now()
    if selected > get_settings().import_finalize_inline_rows:
        imp.status = "finalizing"
        await db.flush()
        await jobs.enqueue(db, "finalize_import", str(imp.id), job_id=f"finalize_import:{imp.id}")
        await audit.record(db, actor, "import.finalize_requested", target_type="client_import", target_id=imp.id,
                           group_id=group_id, selected=selected)
        await db.refresh(imp)
        return await read_import_view(db, imp), True
    await finalize(db, storage, imp, actor)
    await db.refresh(imp)
    return await read_import_view(db, imp), False


async def read_import_view(db: AsyncSession, imp: ClientImport) -> ImportView:
    [view] = await _views(db, [imp])
    return view


async def undo_import(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, import_id: uuid.UUID
) -> ImportView:
    """I14: undo a finalized import while nothing was built on it. The import row is locked first: a concurrent
    undo waits, then finds it undone and returns it as it is (undo twice removes nothing twice)."""
    imp, _ = await _visible_import(db, actor, group_id, import_id, for_update=True)
    if imp.status != "undone":
        if imp.status != "finalized":
            raise conflict("import_not_finalized", f"The import is {imp.status}: only a finalized import can be undone. "
                           "An import not finalized yet has imported nothing: leave it, or upload the file again.",
                           import_status=imp.status)
        await undo(db, imp, actor)
        await db.refresh(imp)
    return await read_import_view(db, imp)
