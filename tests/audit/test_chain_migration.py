"""The migration chains the rows that exist already, and `caseload audit verify` checks them (rule R3)."""

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg

from app.core.db import asyncpg_dsn
from tests.fixtures.database import drop_database, recreate_database, run_migrations
from tests.fixtures.services import TEST_DATABASE


def verify_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify", *args], env={**os.environ, "DATABASE_URL": url},
                          capture_output=True, text=True, timeout=120)


async def test_existing_rows_are_chained_and_the_command_finds_an_edit() -> None:
    # rule R3: today's rows join their group's chain; `caseload audit verify` exits non-zero at the first broken row
    name = f"{TEST_DATABASE}_audit_chain"
    url = await recreate_database(name)
    try:
        await asyncio.to_thread(run_migrations, url, "0007")
        groups = [uuid.uuid4(), uuid.uuid4(), None]
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            for n in range(9):
                await conn.execute(
                    "INSERT INTO audit_events (action, target_type, target_id, group_id, details) VALUES ('client.read', 'client', $1, $2, $3)",
                    str(uuid.uuid4()), groups[n % 3], '{"n": %d}' % n)
        finally:
            await conn.close()
        await asyncio.to_thread(run_migrations, url)
        ok = await asyncio.to_thread(verify_cli, url)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.count('"ok": true') == 3 and "9 rows, 0 broken" in ok.stderr
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            # new rows continue the migrated chain
            await conn.execute("INSERT INTO audit_events (action, target_type, group_id) VALUES ('client.read', 'client', $1)", groups[0])
            edited = await conn.fetchval("SELECT id FROM audit_events WHERE group_id = $1 ORDER BY chain_seq LIMIT 1 OFFSET 1", groups[1])
            async with conn.transaction():
                await conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
                await conn.execute("""UPDATE audit_events SET details = '{"n": 99}' WHERE id = $1""", edited)
                await conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        finally:
            await conn.close()
        broken = await asyncio.to_thread(verify_cli, url)
        assert broken.returncode == 1 and f'"broken_at_id": {edited}' in broken.stdout and "1 broken" in broken.stderr
        one = await asyncio.to_thread(verify_cli, url, "--group", str(groups[0]))
        assert one.returncode == 0 and "4 rows, 0 broken" in one.stderr
    finally:
        await drop_database(name)
