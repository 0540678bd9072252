"""Finalizing an import (rules I8-I10, C2): the selected rows become clients, in one transaction.

The rows are already in the database, so every write is one set-based statement over them (INSERT ...
SELECT ... ON CONFLICT), whatever the number of rows: accounts for emails nobody has, client records
for people without one in the group (one person, one record: C2), roster entries on the import's
provider, each row's outcome. Only documents (a SimplePractice export) are written one by one: each is
an object in storage. The caller holds the import row locked (FOR UPDATE), so two finalize calls
never both do the work; the status `finalized` and the row outcomes make a second call a no-op.
"""

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import send_onboarding
from app.core import audit, crypto
from app.core.auth import Actor
from app.core.db import driver_connection
from app.core.errors import Problem
from app.core.job_console import report_progress
from app.core.stopwatch import Stopwatch
from app.core.storage import Storage
from app.documents.service import attach_document
from app.imports.analysis import PASSWORD_PURPOSE, job_connection, job_session
from app.imports.parsers import ExportDocuments, ImportRejected
from app.invitations import service as invitations
from app.models import Client, ClientImport, Group, ImportRow, Invitation, User
from app.webhooks.events import emit

log = structlog.get_logger("caseload.imports")
# The statements' durations in the last finalize of this process (logged; read by the benchmark).
last_timings: dict[str, float] = {}

# Ids of the rows made here are time-ordered (UUIDv7, RFC 9562: a millisecond timestamp, then 74 of
# gen_random_uuid's random bits), not random: 100,000 new accounts, client records and roster entries
# then go to the right-hand end of their primary keys and of the indexes keyed by them (a record's
# user_id, an entry's client_id) instead of to a random page each, and the foreign-key checks that look
# them up find them there.
_NEW_ID = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send((date_part('epoch', clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), "
    "'hex')::uuid"
)
_LINK_MATCHED = """
UPDATE import_rows r SET client_id = r.matched_client_id, outcome = 'linked'
FROM clients c
WHERE r.import_id = $1 AND r.selected AND r.outcome IS NULL AND c.id = r.matched_client_id AND c.group_id = $2
"""
_CREATE_ACCOUNTS = f"""
INSERT INTO users (id, email, first_name, last_name)
SELECT DISTINCT ON (r.email_key) {_NEW_ID}, r.email_key, concat_ws(' ', r.first_name, r.middle_name), r.last_name
FROM import_rows r
WHERE r.import_id = $1 AND r.selected AND r.outcome IS NULL AND r.matched_client_id IS NULL
  AND r.email_key IS NOT NULL AND r.first_name IS NOT NULL AND r.last_name IS NOT NULL
ORDER BY r.email_key, r.id
ON CONFLICT ((lower(email))) DO NOTHING
"""
# Each person of the selected, unmatched rows once, with their client record in the group if they have one.
# A new record holds what the file says (the practice's own words, C8), never an existing account's data, and
# every part of the name (I12: middle names go with the first name);
# `with_account`: the account was made by this finalize (its invitation is the account's own).
_PEOPLE = f"""
CREATE TEMP TABLE import_people ON COMMIT DROP AS
SELECT u.id AS user_id, (array_agg(concat_ws(' ', r.first_name, r.middle_name) ORDER BY r.id))[1] AS first_name,
       (array_agg(r.last_name ORDER BY r.id))[1] AS last_name, r.email_key::text AS email,
       (array_agg(r.phone_e164 ORDER BY r.id))[1] AS phone_e164,
       coalesce(c.id, {_NEW_ID}) AS client_id, c.id IS NULL AS is_new, array_agg(r.id) AS row_ids,
       u.created_at = now() AND u.password_hash IS NULL AS with_account
FROM import_rows r
JOIN users u ON lower(u.email) = r.email_key COLLATE "default"
LEFT JOIN clients c ON c.group_id = $2 AND c.user_id = u.id
WHERE r.import_id = $1 AND r.selected AND r.outcome IS NULL AND r.matched_client_id IS NULL
GROUP BY u.id, c.id, r.email_key
"""
_CREATE_CLIENTS = """
INSERT INTO clients (id, group_id, user_id, first_name, last_name, email, phone, billing_type, created_by_user_id)
SELECT client_id, $1, user_id, first_name, last_name, email, phone_e164, 'private_pay', $2
FROM import_people WHERE is_new
"""
# A10: each new record waits for its person's answer (listed to them under /v1/me/invitations; mailed below).
_INVITE_NEW = f"""
INSERT INTO invitations (id, group_id, user_id, kind, client_id, with_account, invited_by_user_id, expires_at)
SELECT {_NEW_ID}, $1, user_id, 'client', client_id, with_account, $2, now() + interval '{invitations.INVITATION_DAYS} days'
FROM import_people WHERE is_new
"""
# The rows by primary key: each person's rows were gathered above, no second search by email.
_MARK_PEOPLE_ROWS = """
UPDATE import_rows r
SET client_id = p.client_id, outcome = CASE WHEN p.is_new THEN 'imported' ELSE 'linked' END
FROM (SELECT unnest(row_ids) AS row_id, client_id, is_new FROM import_people) p
WHERE r.id = p.row_id
"""
# A client record made by this transaction is on no roster yet, and no other transaction can see it to
# put it on one: a plain INSERT, without ON CONFLICT's speculative insertion and its check per row.
_ADD_NEW_TO_ROSTER = f"""
INSERT INTO roster_entries (id, group_id, client_id, provider_user_id, added_by_user_id, import_id)
SELECT {_NEW_ID}, $1, client_id, $2, $3, $4
FROM import_people WHERE is_new
"""
# The existing records the rows were linked to may already be on the roster (G7: an archived entry is history).
_ADD_LINKED_TO_ROSTER = """
INSERT INTO roster_entries (id, group_id, client_id, provider_user_id, added_by_user_id, import_id)
SELECT gen_random_uuid(), $2, s.client_id, $3, $4, $1
FROM (SELECT DISTINCT client_id FROM import_rows WHERE import_id = $1 AND outcome = 'linked') s
ON CONFLICT (client_id, provider_user_id) WHERE archived_at IS NULL DO NOTHING
"""
_SKIP_THE_REST = "UPDATE import_rows SET outcome = 'skipped' WHERE import_id = $1 AND outcome IS NULL"
_OUTCOMES = """
SELECT count(*) FILTER (WHERE outcome = 'linked') AS linked, count(*) FILTER (WHERE outcome = 'skipped') AS skipped
FROM import_rows WHERE import_id = $1
"""


# The steps `finalize` times and reports, in order.
FINALIZE_STEPS = 8


async def finalize(
    db: AsyncSession, storage: Storage, imp: ClientImport, actor: Actor | None,
    progress: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Import the selected rows of `imp` (locked by the caller, status ready or finalizing).

    `progress` is told each step as it ends (written outside this transaction: the job console, O1).
    """
    await db.flush()
    driver = await driver_connection(db)
    by = imp.finalized_by_user_id
    stopwatch = Stopwatch()
    timings = stopwatch.laps

    async def lap(step: str) -> None:
        stopwatch.lap(step)
        if progress:
            await progress({"phase": "finalize", "step": step, "steps_done": len(timings), "steps_total": FINALIZE_STEPS})

    # A 100,000-row import takes seconds per statement on a busy server: more than a request's limit.
    await driver.execute("SET LOCAL statement_timeout = '300s'")
    # Its sorts and hashes (accounts by email, people by account) fit in memory, not in temporary files.
    await driver.execute("SET LOCAL work_mem = '64MB'")
    await driver.execute(_LINK_MATCHED, imp.id, imp.group_id)
    await lap("link_matched")
    await driver.execute(_CREATE_ACCOUNTS, imp.id)
    await lap("accounts")
    await driver.execute("DROP TABLE IF EXISTS import_people")
    await driver.execute(_PEOPLE, imp.id, imp.group_id)
    await lap("people")
    # A client record made meanwhile by someone else (C2's unique group+person) fails the whole finalize:
    # nothing is half-imported, and a retry links that record instead.
    imported = int((await driver.execute(_CREATE_CLIENTS, imp.group_id, by)).split()[-1])
    await lap("clients")
    await driver.execute(_INVITE_NEW, imp.group_id, by)
    await lap("invitations")
    await driver.execute(_MARK_PEOPLE_ROWS)
    await lap("mark_rows")
    await driver.execute(_ADD_NEW_TO_ROSTER, imp.group_id, imp.provider_user_id, by, imp.id)
    await driver.execute("DROP TABLE import_people")
    await driver.execute(_ADD_LINKED_TO_ROSTER, imp.id, imp.group_id, imp.provider_user_id, by)
    await lap("roster")
    await driver.execute(_SKIP_THE_REST, imp.id)
    outcomes = await driver.fetchrow(_OUTCOMES, imp.id)
    await lap("outcomes")
    attached, refused, already = await _attach_documents(db, storage, imp, actor)
    await _mail_invitations(db, imp)
    welcomed = await _welcome(db, imp) if imp.send_welcome_email else 0
    result = {
        "clients_imported": imported,
        "clients_linked": outcomes["linked"],
        "documents_attached": attached,
        "documents_skipped": refused,
        "documents_already_attached": already,
        "skipped": outcomes["skipped"],
        "welcome_emails": welcomed,
    }
    imp.status, imp.result, imp.finalized_at, imp.password_encrypted = "finalized", result, func.now(), None
    await db.flush()
    await audit.record(db, actor, "import.finalized", target_type="client_import", target_id=imp.id,
                       group_id=imp.group_id, **result)
    # One event for the import, not one per client: a partner reads the new clients through the API.
    await emit(db, imp.group_id, "import.completed", imp.id, ["status"], provider_id=imp.provider_user_id)
    last_timings.clear()
    last_timings.update(timings)
    log.info("import_finalized", import_id=str(imp.id), seconds=timings, **result)
    return result


# C9: what the export's folders hold, as the documents' categories. Psychotherapy notes and secure messages
# are restricted; billing documents are not read from the export.
EXPORT_CATEGORIES = {
    "medical_records": "clinical",
    "stored_documents": "clinical",
    "administrative": "administrative",
    "psychotherapy_notes": "psychotherapy_note",
    "secure_messages": "message",
}


async def _attach_documents(
    db: AsyncSession, storage: Storage, imp: ClientImport, actor: Actor | None
) -> tuple[int, int, int]:
    """I9: the export's documents onto the clients' attachments (source `import`). A document the client already
    has (same content, from an earlier import of the same export or uploaded by hand) is not attached again (I15)."""
    driver = await driver_connection(db)
    rows = await driver.fetch(
        "SELECT client_id, documents FROM import_rows WHERE import_id = $1 AND client_id IS NOT NULL "
        "AND jsonb_array_length(documents) > 0 ORDER BY id",
        imp.id,
    )
    if not rows:
        return 0, 0, 0
    present = {
        (r["client_id"], bytes(r["sha256"]))
        for r in await driver.fetch(
            "SELECT client_id, sha256 FROM client_documents WHERE client_id = ANY($1::uuid[])",
            list({row["client_id"] for row in rows}),
        )
    }
    data = b"".join([chunk async for chunk in storage.open(imp.storage_key)])
    password = crypto.decrypt(imp.password_encrypted, purpose=PASSWORD_PURPOSE) if imp.password_encrypted else None
    archive = await asyncio.to_thread(ExportDocuments, data, password=password)
    attached = refused = already = 0
    for row in rows:
        documents = row["documents"]
        if isinstance(documents, str):
            documents = orjson.loads(documents)
        for document in documents:
            try:
                content = await asyncio.to_thread(archive.read, document["member_name"])
                seen = (row["client_id"], hashlib.sha256(content).digest())
                # Only what the client had before this import counts: one export may hold the same bytes under two
                # names or folders, and each is a document of its own.
                if seen in present:
                    already += 1
                    continue
                await attach_document(
                    db, storage, group_id=imp.group_id, client_id=row["client_id"], file_name=document["file_name"],
                    content_type=None, data=content, source="import", uploaded_by=imp.finalized_by_user_id, actor=actor,
                    # An unknown folder is filed as the most guarded kind, never as an ordinary one.
                    category=EXPORT_CATEGORIES.get(document.get("category"), "psychotherapy_note"), import_id=imp.id,
                )
                attached += 1
            except (Problem, ImportRejected) as why:
                # One unreadable or refused document (a type C7 does not accept) does not sink the import.
                refused += 1
                log.info("import_document_skipped", import_id=str(imp.id), code=getattr(why, "code", "refused"))
    return attached, refused, already


async def _mail_invitations(db: AsyncSession, imp: ClientImport) -> None:
    """A10: people who already had an account are told a practice asked to add them (one mail each: mail is
    per person by nature). New accounts hear through the welcome email."""
    ids = select(ImportRow.client_id).where(ImportRow.import_id == imp.id, ImportRow.outcome == "imported")
    pending = list(await db.scalars(
        select(Invitation).where(Invitation.client_id.in_(ids), Invitation.status == "pending", ~Invitation.with_account)
    ))
    if not pending:
        return
    group = await db.get(Group, imp.group_id)
    assert group is not None
    users = {u.id: u for u in await db.scalars(select(User).where(User.id.in_([i.user_id for i in pending])))}
    for invitation in pending:
        await invitations.mail_invitation(db, invitation, group, users[invitation.user_id])


async def _welcome(db: AsyncSession, imp: ClientImport) -> int:
    """I10: the onboarding email to each imported client whose account this import made and who has not set it up."""
    ids = select(ImportRow.client_id).where(ImportRow.import_id == imp.id, ImportRow.outcome == "imported")
    made = select(Invitation.client_id).where(Invitation.client_id.in_(ids), Invitation.with_account)
    clients = list(await db.scalars(select(Client).where(Client.id.in_(made))))
    if not clients:
        return 0
    users = {u.id: u for u in await db.scalars(select(User).where(User.id.in_([c.user_id for c in clients])))}
    sent = 0
    for client in clients:
        user = users[client.user_id]
        if user.email_verified_at is None:
            await send_onboarding(db, user, client)
            sent += 1
    return sent


async def finalize_import(ctx: dict[str, Any], import_id: str) -> str:
    """arq job: a large finalize, in one transaction. Only an import still `finalizing` is worked on."""
    # The import row stays locked for the whole transaction: the sweeper reads that as "a finalize is alive".
    async with job_connection(ctx) as conn, job_session(conn) as db:
        imp = await db.scalar(select(ClientImport).where(ClientImport.id == uuid.UUID(import_id)).with_for_update())
        if imp is None or imp.status != "finalizing":
            return imp.status if imp is not None else "missing"
        await finalize(db, ctx["storage"], imp, None, progress=lambda done: report_progress(ctx, done))
        await db.commit()
        return "finalized"
