"""Undoing an import (rule I14): allowed while nothing was built on what it made, refused with every blocker."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.core.storage import ObjectNotFound, Storage
from app.imports.undo import purge_unused_accounts
from app.models import (
    Acknowledgement,
    AuditEvent,
    Client,
    ClientDocument,
    Conversation,
    Group,
    ImportRow,
    Invitation,
    OutboxJob,
    RosterEntry,
    TherapySession,
    User,
)
from tests.fixtures.factories import add_member, make_group, make_user, user_headers
from tests.imports import fixtures_gen as gen
from tests.imports.conftest import Importer, existing_client


async def _finalized(importer: Importer, data: bytes, name: str = "clients.csv") -> dict[str, Any]:
    imp = await importer.analysed(data, name)
    await importer.select(imp["id"], "new")
    done = await importer.finalize(imp["id"])
    assert done.status_code == 200 and done.json()["status"] == "finalized", done.text
    return done.json()


async def _undo(importer: Importer, import_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await importer.http.post(f"{importer.url}/{import_id}/undo", headers=headers or importer.headers)


async def _made(db: AsyncSession, import_id: str) -> list[Client]:
    ids = select(ImportRow.client_id).where(ImportRow.import_id == uuid.UUID(import_id), ImportRow.outcome == "imported")
    return list(await db.scalars(select(Client).where(Client.id.in_(ids)).order_by(Client.email)))


async def _count(db: AsyncSession, model: Any, *where: Any) -> int:
    return await db.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_undo_removes_what_the_import_made(importer: Importer, db: AsyncSession, group: Group) -> None:
    # rule I14: clients, accounts, roster entries, invitations gone; the import says undone
    imp = await _finalized(importer, gen.people_csv(3))
    clients = await _made(db, imp["id"])
    assert len(clients) == 3
    client_ids, user_ids = [c.id for c in clients], [c.user_id for c in clients]
    assert await _count(db, Invitation, Invitation.client_id.in_(client_ids)) == 3

    undone = await _undo(importer, imp["id"])
    assert undone.status_code == 200, undone.text
    body = undone.json()
    assert body["status"] == "undone" and body["undone_at"] is not None
    assert body["undo"] == {"rows_undone": 3, "clients_removed": 3, "accounts_removed": 3, "roster_entries_removed": 3,
                            "invitations_removed": 3, "documents_removed": 0}
    assert body["result"]["clients_imported"] == 3  # what finalize did stays readable
    assert await _count(db, Client, Client.id.in_(client_ids)) == 0
    # The accounts it made go by a job sent with the undo, run here as the worker runs it (twice: no harm).
    purges = list(await db.scalars(select(OutboxJob).where(OutboxJob.function == "purge_unused_accounts")))
    assert sorted(u for job in purges for u in job.args) == sorted(str(u) for u in user_ids)
    assert [await purge_unused_accounts(importer.ctx, *job.args) for job in purges] == [3]
    assert await purge_unused_accounts(importer.ctx, *purges[0].args) == 0
    assert await _count(db, User, User.id.in_(user_ids)) == 0
    assert await _count(db, RosterEntry, RosterEntry.client_id.in_(client_ids)) == 0
    assert await _count(db, Invitation, Invitation.client_id.in_(client_ids)) == 0
    assert {r["outcome"] for r in await importer.rows(imp["id"])} == {"undone"}
    roster = await importer.http.get(f"/v1/groups/{group.id}/clients", headers=importer.headers)
    assert roster.status_code == 200 and roster.json()["items"] == []
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "import.undone"))
    assert event is not None and event.target_id == imp["id"] and event.details["clients_removed"] == 3

    # Undo twice removes nothing twice: the import is returned as it is.
    again = await _undo(importer, imp["id"])
    assert again.status_code == 200 and again.json()["undo"] == body["undo"]
    # The same file can be imported again afterwards: its people are new again.
    fresh = await importer.analysed(gen.people_csv(3), "again.csv")
    assert fresh["counts"]["new"] == 3


async def test_undo_detaches_the_documents_it_attached_and_unlinks_what_it_linked(
    importer: Importer, db: AsyncSession, group: Group, owner: User, storage: Storage
) -> None:
    # rule I14: documents attached by the import are deleted (their objects by a job after commit); a linked
    # record stays, without the roster entry and the documents the import gave it
    first = await _finalized(importer, gen.simplepractice_export(), "export.zip")
    assert first["result"]["documents_attached"] > 0
    made = await _made(db, first["id"])
    keys = list(await db.scalars(select(ClientDocument.storage_key).where(ClientDocument.client_id.in_([c.id for c in made]))))
    undone = await _undo(importer, first["id"])
    assert undone.status_code == 200, undone.text
    assert undone.json()["undo"]["documents_removed"] == len(keys) == first["result"]["documents_attached"]
    assert await _count(db, ClientDocument, ClientDocument.client_id.in_([c.id for c in made])) == 0
    purge = list(await db.scalars(select(OutboxJob).where(OutboxJob.function == "purge_stored_objects")))
    assert sorted(k for job in purge for k in job.args) == sorted(keys)
    # The job, as the worker runs it, deletes the objects.
    from app.imports.undo import purge_stored_objects
    for job in purge:
        await purge_stored_objects({"storage": storage}, *job.args)
    for key in keys:
        with pytest.raises(ObjectNotFound):
            await anext(storage.open(key))


async def test_undo_removes_only_the_roster_entry_it_added_to_a_linked_client(
    importer: Importer, db: AsyncSession, group: Group, owner: User
) -> None:
    # rule I14: "unlinks what it linked": an existing client keeps their record and documents; only the import's
    # roster entry goes
    from app.memberships.service import make_provider
    second = await make_user(db, first_name="Sam", last_name="Second")
    await make_provider(db, group, second, "LCSW")
    known = await existing_client(db, group, second, "Avery", "Known", "avery.known@example.com")
    csv = b"First Name,Last Name,Email\r\nAvery,Known,avery.known@example.com\r\nNew,Person,new.person@example.com\r\n"
    imp = await importer.analysed(csv)
    await importer.select(imp["id"], "new")
    await importer.select(imp["id"], "existing")
    done = await importer.finalize(imp["id"])
    assert done.json()["result"]["clients_linked"] == 1
    entries = select(RosterEntry.provider_user_id).where(RosterEntry.client_id == known.id)
    assert set(await db.scalars(entries)) == {owner.id, second.id}
    undone = await _undo(importer, imp["id"])
    assert undone.status_code == 200, undone.text
    assert undone.json()["undo"]["clients_removed"] == 1 and undone.json()["undo"]["roster_entries_removed"] == 2
    assert set(await db.scalars(entries)) == {second.id}
    assert await db.get(Client, known.id) is not None
    rows = {r["email"]: r for r in await importer.rows(imp["id"])}
    assert rows["avery.known@example.com"]["outcome"] == "undone"
    assert rows["avery.known@example.com"]["client_id"] == str(known.id)


async def _blocked(importer: Importer, import_id: str) -> list[dict[str, str]]:
    refused = await _undo(importer, import_id)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["code"] == "import_undo_blocked" and "blockers" in body["detail"]
    return body["blockers"]


async def test_undo_is_refused_listing_every_blocker(
    importer: Importer, db: AsyncSession, group: Group, owner: User, storage: Storage
) -> None:
    # rule I14: a session, a document, a message, an onboarding step, an accepted invitation, an edit, a login:
    # each blocks, all are listed (client id and reason, nothing else), and nothing is removed
    imp = await _finalized(importer, gen.people_csv(8))
    c = await _made(db, imp["id"])
    start = datetime.now(UTC) + timedelta(days=3)
    db.add(TherapySession(id=uuid.uuid4(), group_id=group.id, provider_user_id=owner.id, client_id=c[0].id, kind="therapy",
                          starts_at=start, duration_minutes=50, ends_at=start + timedelta(minutes=50), telehealth=True))
    upload = await importer.http.post(
        f"/v1/groups/{group.id}/clients/{c[1].id}/documents", headers=importer.headers,
        files={"file": ("note.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    db.add(Conversation(id=uuid.uuid4(), group_id=group.id, provider_user_id=owner.id, client_id=c[2].id))
    db.add(Acknowledgement(user_id=c[3].user_id, document="privacy_policy", version="2026-01"))
    invitation = await db.scalar(select(Invitation).where(Invitation.client_id == c[4].id))
    assert invitation is not None
    invitation.status, invitation.decided_at = "accepted", func.now()
    c[4].consented_at = func.now()
    edit = await importer.http.patch(f"/v1/groups/{group.id}/clients/{c[5].id}", json={"phone": "+16175550199"},
                                     headers=importer.headers)
    assert edit.status_code == 200, edit.text
    used = await db.get(User, c[6].user_id)
    assert used is not None
    await user_headers(db, used)  # a login session of the account the import made
    await db.flush()

    blockers = await _blocked(importer, imp["id"])
    by_client = {(b["client_id"], b["reason"]) for b in blockers}
    assert by_client >= {
        (str(c[0].id), "session"), (str(c[1].id), "document"), (str(c[2].id), "message"),
        (str(c[3].id), "onboarding"), (str(c[4].id), "invitation_accepted"), (str(c[5].id), "edited"),
        (str(c[6].id), "account_used"),
    }
    assert str(c[7].id) not in {b["client_id"] for b in blockers}
    assert all(set(b) == {"client_id", "reason"} for b in blockers)  # no names, emails or values
    assert (await importer.get(imp["id"]))["status"] == "finalized"
    assert await _count(db, Client, Client.id.in_([x.id for x in c])) == 8


async def test_an_account_taken_into_use_after_the_undo_is_kept(importer: Importer, db: AsyncSession) -> None:
    # rule I14: the accounts are deleted after commit, each checked again then: one that meanwhile got a
    # password, a record in another practice or an invitation is the person's now and stays
    imp = await _finalized(importer, gen.people_csv(4))
    made = await _made(db, imp["id"])
    user_ids = [c.user_id for c in made]
    assert (await _undo(importer, imp["id"])).status_code == 200
    password, other_record, invited, untouched = [await db.get(User, u) for u in user_ids]
    password.password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$c29tZWhhc2g"
    elsewhere = await make_user(db, first_name="Pia", last_name="Provider")
    other = await make_group(db, owner=elsewhere)
    await enroll(db, group_id=other.id, user=other_record, provider_user_id=elsewhere.id, added_by=elsewhere.id)
    db.add(Invitation(id=uuid.uuid4(), group_id=other.id, user_id=invited.id, kind="provider", with_account=False,
                      expires_at=datetime.now(UTC) + timedelta(days=7)))
    await db.flush()
    purges = list(await db.scalars(select(OutboxJob).where(OutboxJob.function == "purge_unused_accounts")))
    assert sum([await purge_unused_accounts(importer.ctx, *job.args) for job in purges]) == 1
    kept = set(await db.scalars(select(User.id).where(User.id.in_(user_ids))))
    assert kept == {password.id, other_record.id, invited.id}  # `untouched` is gone


async def test_undo_of_an_import_not_finalized_is_refused(importer: Importer) -> None:
    # rule I14: only a finalized import has anything to undo
    imp = await importer.analysed(gen.people_csv(2))
    refused = await _undo(importer, imp["id"])
    assert refused.status_code == 409 and refused.json()["code"] == "import_not_finalized"
    assert refused.json()["import_status"] == "ready"


async def test_another_groups_import_is_not_found(
    importer: Importer, db: AsyncSession, other_group: Group
) -> None:
    # rule I14 (tenancy): another practice cannot undo, nor learn that the import exists
    imp = await _finalized(importer, gen.people_csv(1))
    outsider = await make_user(db, first_name="Otto", last_name="Outsider")
    await add_member(db, other_group, outsider, admin=True)
    refused = await importer.http.post(f"/v1/groups/{other_group.id}/imports/{imp['id']}/undo",
                                       headers=await user_headers(db, outsider))
    assert refused.status_code == 404
    # The import's own group, through the wrong group's path with the right caller, is not it either.
    refused = await importer.http.post(f"/v1/groups/{other_group.id}/imports/{imp['id']}/undo", headers=importer.headers)
    assert refused.status_code in (403, 404)
    assert (await importer.get(imp["id"]))["status"] == "finalized"
