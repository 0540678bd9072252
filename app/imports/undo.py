"""Undoing a finalized import (rule I14), in one transaction, set-based.

What the import did is known exactly: its rows say which client records it made (`imported`) and which it
linked (`linked`); the roster entries it added and the documents it attached carry its id; an account it made
is the one of a `with_account` invitation on a record it made.

Undo is refused (409 `import_undo_blocked`, every blocker listed by client id and reason, no personal data)
while anything was built on what it made: a session, a document other than its own, a conversation, an
onboarding step of an account it made, an accepted invitation, a change of the record or of its roster, a login or password of an account it made. On a linked record (which existed before), only what the
import's own roster entry carried counts: a session or conversation with the import's provider since the entry was added.

Otherwise it deletes the documents it attached, the roster entries, pending invitations and client records it
made, removes the roster entries it added to linked records, and marks the rows and the import `undone`. Two
things are removed by jobs sent after commit (never before: a rolled-back undo keeps them):
- the documents' stored objects;
- the accounts it made, once they have no record, membership or invitation left: from the commit on they are
  unreachable (never logged in, no password, nothing to accept), and deleting an account is ~40 foreign-key
  checks (every "who did it" column references it), about 4 s per 10,000 accounts: in the request, the undo of
  a 100,000-client import would take a minute. The job checks again before deleting: an account someone
  started using in between (a new invitation, a password, a record) stays.
"""

import uuid
from typing import Any

import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, jobs
from app.core.auth import Actor
from app.core.db import driver_connection
from app.core.errors import Problem
from app.core.stopwatch import Stopwatch
from app.imports.analysis import job_connection, job_session
from app.models import ClientImport

log = structlog.get_logger("caseload.imports")
last_timings: dict[str, float] = {}
# Storage keys, account ids per job: the outbox rows' arguments stay small, each job's transaction short.
PURGE_BATCH = 200
ACCOUNT_BATCH = 1000

# $1 import, $2 group. What the import made carries its id (roster entries, documents); an account it made is
# the one of a `with_account` invitation on a record it made.
_TARGETS = """
CREATE TEMP TABLE import_undo ON COMMIT DROP AS
SELECT t.client_id, t.created, c.user_id,
       t.created AND EXISTS (SELECT 1 FROM invitations i WHERE i.client_id = t.client_id AND i.with_account) AS account_made,
       (SELECT re.id FROM roster_entries re WHERE re.client_id = t.client_id AND re.import_id = $1
          AND re.archived_at IS NULL LIMIT 1) AS roster_entry_id,
       (SELECT re.added_at FROM roster_entries re WHERE re.client_id = t.client_id AND re.import_id = $1
          AND re.archived_at IS NULL LIMIT 1) AS linked_at
FROM (SELECT client_id, bool_or(outcome = 'imported') AS created FROM import_rows
      WHERE import_id = $1 AND outcome IN ('imported', 'linked') AND client_id IS NOT NULL GROUP BY client_id) t
JOIN clients c ON c.id = t.client_id AND c.group_id = $2
"""
# Actions that change a record or its roster (reads are not building on it).
_EDIT_ACTIONS = ["client.updated", "client.archived", "client.transferred", "client.roster_added",
                 "insurance.entered_by_practice"]
# One statement; a reason per client at most once. Only ids and reason codes: no personal data.
# On a record the import made, anything counts. On a linked record (which existed before), only a session or a
# conversation with the import's provider since the import's roster entry was added.
_BLOCKERS = """
SELECT DISTINCT client_id, reason FROM (
  SELECT t.client_id, 'session' AS reason FROM import_undo t
  WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.client_id = t.client_id
                AND (t.created OR (s.provider_user_id = $3 AND s.created_at >= t.linked_at)))
  UNION ALL
  SELECT t.client_id, 'document' FROM import_undo t
  WHERE t.created AND EXISTS (SELECT 1 FROM client_documents d WHERE d.client_id = t.client_id
                              AND d.import_id IS DISTINCT FROM $1)
  UNION ALL
  SELECT t.client_id, 'message' FROM import_undo t
  WHERE EXISTS (SELECT 1 FROM conversations v WHERE v.client_id = t.client_id
                AND (t.created OR (v.provider_user_id = $3 AND v.created_at >= t.linked_at)))
  UNION ALL
  SELECT t.client_id, 'onboarding' FROM import_undo t
  WHERE t.account_made AND (EXISTS (SELECT 1 FROM insurance_policies p WHERE p.user_id = t.user_id)
                            OR EXISTS (SELECT 1 FROM billing_methods b WHERE b.user_id = t.user_id)
                            OR EXISTS (SELECT 1 FROM acknowledgements a WHERE a.user_id = t.user_id))
  UNION ALL
  SELECT t.client_id, 'invitation_accepted' FROM import_undo t JOIN clients c ON c.id = t.client_id
  WHERE t.created AND (c.consented_at IS NOT NULL
                       OR EXISTS (SELECT 1 FROM invitations i WHERE i.client_id = t.client_id AND i.status = 'accepted'))
  UNION ALL
  SELECT t.client_id, 'edited' FROM import_undo t
  WHERE t.created AND (
    EXISTS (SELECT 1 FROM practice_insurance_policies p WHERE p.client_id = t.client_id)
    OR EXISTS (SELECT 1 FROM roster_entries re WHERE re.client_id = t.client_id
               AND (re.import_id IS DISTINCT FROM $1 OR re.archived_at IS NOT NULL))
    OR EXISTS (SELECT 1 FROM audit_events e WHERE e.group_id = $2 AND e.target_type = 'client'
               AND e.target_id = t.client_id::text AND e.outcome = 'success' AND e.action = ANY($4::text[])))
  UNION ALL
  SELECT t.client_id, 'account_used' FROM import_undo t JOIN users u ON u.id = t.user_id
  WHERE t.account_made AND (u.password_hash IS NOT NULL OR u.email_verified_at IS NOT NULL
                            OR EXISTS (SELECT 1 FROM auth_sessions a WHERE a.user_id = u.id))
) b
ORDER BY client_id, reason
"""
_DELETE_DOCUMENTS = """
DELETE FROM client_documents d USING import_undo t
WHERE d.client_id = t.client_id AND d.import_id = $1
RETURNING d.storage_key
"""
# The rows first, by their import: the client records' deletion then finds no row of this import to set null.
_MARK_ROWS = """
UPDATE import_rows SET outcome = 'undone', client_id = CASE WHEN outcome = 'imported' THEN NULL ELSE client_id END
WHERE import_id = $1 AND outcome IN ('imported', 'linked')
"""
_DELETE_INVITATIONS = """
DELETE FROM invitations i USING import_undo t WHERE i.client_id = t.client_id AND t.created
"""
_DELETE_ROSTER = """
DELETE FROM roster_entries re USING import_undo t WHERE re.client_id = t.client_id AND re.import_id = $1
"""
_DELETE_CLIENTS = "DELETE FROM clients c USING import_undo t WHERE c.id = t.client_id AND t.created"
# An account it made goes with its record, unless the person has another record or a place in a group.
_UNUSED_ACCOUNTS = """
SELECT t.user_id FROM import_undo t
WHERE t.account_made
  AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.user_id = t.user_id)
  AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = t.user_id)
"""
# The job's own check, at the time it runs: still nothing that makes the account someone's.
_DELETE_UNUSED_ACCOUNTS = """
DELETE FROM users u
WHERE u.id = ANY($1::uuid[]) AND u.password_hash IS NULL AND u.email_verified_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.user_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM auth_sessions a WHERE a.user_id = u.id)
"""


def _count(status: str) -> int:
    return int(status.split()[-1])


async def undo(db: AsyncSession, imp: ClientImport, actor: Actor) -> dict[str, Any]:
    """Undo `imp` (finalized, locked by the caller), or raise 409 `import_undo_blocked`."""
    await db.flush()
    driver = await driver_connection(db)
    stopwatch = Stopwatch()
    lap = stopwatch.lap
    await driver.execute("SET LOCAL statement_timeout = '300s'")
    await driver.execute("SET LOCAL work_mem = '64MB'")
    await driver.execute("DROP TABLE IF EXISTS import_undo")
    await driver.execute(_TARGETS, imp.id, imp.group_id)
    await driver.execute("ANALYZE import_undo")
    lap("targets")
    blockers = await driver.fetch(_BLOCKERS, imp.id, imp.group_id, imp.provider_user_id, _EDIT_ACTIONS)
    lap("blockers")
    if blockers:
        raise Problem(
            409, "import_undo_blocked",
            "Something was done with some of the clients this import added since it was finalized, so it can no longer "
            "be undone as a whole; see `blockers`. Archive or remove those clients one by one instead.",
            blockers=[{"client_id": str(b["client_id"]), "reason": b["reason"]} for b in blockers],
        )
    keys = [r["storage_key"] for r in await driver.fetch(_DELETE_DOCUMENTS, imp.id)]
    lap("documents")
    rows = _count(await driver.execute(_MARK_ROWS, imp.id))
    lap("rows")
    invitations = _count(await driver.execute(_DELETE_INVITATIONS))
    roster = _count(await driver.execute(_DELETE_ROSTER, imp.id))
    lap("invitations_roster")
    clients = _count(await driver.execute(_DELETE_CLIENTS))
    lap("clients")
    accounts = [str(r["user_id"]) for r in await driver.fetch(_UNUSED_ACCOUNTS)]
    lap("accounts")
    await driver.execute("DROP TABLE import_undo")
    for start in range(0, len(keys), PURGE_BATCH):
        await jobs.enqueue(db, "purge_stored_objects", *keys[start:start + PURGE_BATCH])
    for start in range(0, len(accounts), ACCOUNT_BATCH):
        await jobs.enqueue(db, "purge_unused_accounts", *accounts[start:start + ACCOUNT_BATCH])
    result = {"rows_undone": rows, "clients_removed": clients, "accounts_removed": len(accounts),
              "roster_entries_removed": roster, "invitations_removed": invitations, "documents_removed": len(keys)}
    imp.status, imp.undone_at = "undone", func.now()
    imp.result = {**(imp.result or {}), "undo": result}
    await db.flush()
    await audit.record(db, actor, "import.undone", target_type="client_import", target_id=imp.id,
                       group_id=imp.group_id, **result)
    last_timings.clear()
    last_timings.update(stopwatch.laps)
    log.info("import_undone", import_id=str(imp.id), seconds=stopwatch.laps, **result)
    return result


async def purge_stored_objects(ctx: dict[str, Any], *keys: str) -> int:
    """arq job: delete the stored objects of documents an undo removed (sent only once the undo committed).
    An object already gone is fine: the job may run twice."""
    storage = ctx["storage"]
    for key in keys:
        await storage.delete(key)
    return len(keys)



async def purge_unused_accounts(ctx: dict[str, Any], *user_ids: str) -> int:
    """arq job: delete the accounts an undo left without record, membership or invitation (sent only once the
    undo committed). Safe twice and concurrently: a deleted account is simply not found again."""
    async with job_connection(ctx) as conn, job_session(conn) as db:
        driver = await driver_connection(db)
        deleted = _count(await driver.execute(_DELETE_UNUSED_ACCOUNTS, [uuid.UUID(u) for u in user_ids]))
        await db.commit()
    log.info("unused_accounts_purged", asked=len(user_ids), deleted=deleted)
    return deleted
