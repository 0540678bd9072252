"""Revision 0011 classifies the documents already stored (rule C9) and keeps the payout account on file in force
(rule P8): run on a scratch database holding rows as the previous revision left them."""

import asyncio
import json
import uuid
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.db import sqlalchemy_url
from tests.fixtures.database import drop_database, recreate_database, run_migrations
from tests.fixtures.services import TEST_DATABASE

REVISION = "0011"
# Whatever revision precedes this one once the branches are chained.
PREVIOUS = ScriptDirectory.from_config(Config(str(Path(__file__).resolve().parents[2] / "alembic.ini"))).get_revision(REVISION).down_revision


async def test_imported_notes_and_messages_become_restricted_and_accounts_stay_in_force() -> None:
    # rule C9 (existing documents classified where their origin is known), rule P8 (existing accounts confirmed)
    name = f"{TEST_DATABASE}_categories"
    url = await recreate_database(name)
    await asyncio.to_thread(run_migrations, url, PREVIOUS)
    engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
    group, user, client, imp = (uuid.uuid4() for _ in range(4))
    exported = [
        {"member_name": "Psychotherapy Notes/Jane Doe/Session 1.pdf", "file_name": "Session 1.pdf", "size": 101, "category": "psychotherapy_notes"},
        {"member_name": "Secure messages/Dr Lee-Jane Doe.txt", "file_name": "Dr Lee-Jane Doe.txt", "size": 102, "category": "secure_messages"},
        {"member_name": "Administrative/Jane Doe/Consent.pdf", "file_name": "Consent.pdf", "size": 103, "category": "administrative"},
        {"member_name": "Medical Records/Jane Doe/Note.pdf", "file_name": "Note.pdf", "size": 104, "category": "medical_records"},
    ]
    documents = {  # file name as stored -> (size, source)
        "Session 1.pdf": (101, "import"), "Dr Lee-Jane Doe.txt": (102, "import"), "Consent.pdf": (103, "import"),
        "Note.pdf": (104, "import"), "Session 1 copy.pdf": (101, "upload"),  # an upload is the uploader's: clinical
        "Unknown.pdf": (999, "import"),  # no row tells its origin: clinical, as before
    }
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO groups (id, name) VALUES (:g, 'Old Practice')"), {"g": group})
        await conn.execute(text("INSERT INTO users (id, email, first_name, last_name) VALUES (:u, 'jane@example.com', 'Jane', 'Doe')"), {"u": user})
        await conn.execute(text("INSERT INTO clients (id, group_id, user_id, first_name, last_name, email, billing_type) "
                                "VALUES (:c, :g, :u, 'Jane', 'Doe', 'jane@example.com', 'private_pay')"), {"c": client, "g": group, "u": user})
        await conn.execute(text("INSERT INTO client_imports (id, group_id, provider_user_id, file_name, size_bytes, sha256, storage_key) "
                                "VALUES (:i, :g, :u, 'export.zip', 1, '\\x00', 'k')"), {"i": imp, "g": group, "u": user})
        await conn.execute(text("INSERT INTO import_rows (import_id, line, source_ref, classification, documents, client_id) "
                                "VALUES (:i, 1, 'Contacts/Jane Doe.vcf', 'new', CAST(:d AS jsonb), :c)"),
                           {"i": imp, "d": json.dumps(exported), "c": client})
        for file_name, (size, source) in documents.items():
            await conn.execute(text("INSERT INTO client_documents (id, group_id, client_id, file_name, content_type, size_bytes, sha256, "
                                    "storage_key, source) VALUES (:id, :g, :c, :n, 'application/pdf', :s, '\\x00', 'k', :src)"),
                               {"id": uuid.uuid4(), "g": group, "c": client, "n": file_name, "s": size, "src": source})
        await conn.execute(text("INSERT INTO bank_accounts (group_id, account_holder_name, routing_number, account_number_encrypted, "
                                "account_last4, account_type, updated_at) VALUES (:g, 'Old', '011000015', '\\x00', '6789', 'checking', "
                                "'2026-01-02T03:04:05Z')"), {"g": group})
    try:
        await asyncio.to_thread(run_migrations, url, REVISION)
        async with engine.connect() as conn:
            found = dict((await conn.execute(text("SELECT file_name, category FROM client_documents"))).all())
            confirmed = (await conn.execute(text("SELECT confirmed_at = updated_at FROM bank_accounts"))).scalar_one()
        assert found == {
            "Session 1.pdf": "psychotherapy_note", "Dr Lee-Jane Doe.txt": "message", "Consent.pdf": "administrative",
            "Note.pdf": "clinical", "Session 1 copy.pdf": "clinical", "Unknown.pdf": "clinical",
        }
        assert confirmed is True
    finally:
        await engine.dispose()
        await drop_database(name)
