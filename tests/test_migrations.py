"""Schemas and migrations are one truth."""

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.core.db import Base, sqlalchemy_url
from tests.fixtures.database import drop_database, recreate_database, run_migrations
from tests.fixtures.services import TEST_DATABASE


async def test_models_match_the_migrations(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)
        )
    assert diff == [], f"models and migrations differ; write a revision: {diff}"


async def test_downgrade_to_base_and_upgrade_to_head() -> None:
    name = f"{TEST_DATABASE}_migrations"
    url = await recreate_database(name)
    await asyncio.to_thread(run_migrations, url)
    await asyncio.to_thread(run_migrations, url, "base", downgrade=True)
    engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
    async with engine.connect() as conn:
        left = (await conn.execute(text(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'alembic_version'"
        ))).scalar_one()
    assert left == 0
    await asyncio.to_thread(run_migrations, url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    await engine.dispose()
    await drop_database(name)


async def test_every_foreign_key_is_indexed(engine: AsyncEngine) -> None:
    # Deleting a referenced row (an import's 100,000 accounts, a client record) looks up its referencing rows once
    # per row and key: without an index leading with the column, each look-up scans the table (rule I14's undo
    # took minutes). A partial index on the column's non-null values serves the same look-up.
    async with engine.connect() as conn:
        unindexed = (await conn.execute(text("""
            SELECT k.conrelid::regclass || '.' || a.attname
            FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
            WHERE k.contype = 'f' AND cardinality(k.conkey) = 1
              AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = k.conrelid AND i.indkey[0] = k.conkey[1]
                              AND (i.indpred IS NULL
                                   OR pg_get_expr(i.indpred, i.indrelid) = '(' || quote_ident(a.attname) || ' IS NOT NULL)'))
            ORDER BY 1
        """))).scalars().all()
    assert unindexed == [], f"foreign keys without an index (app/models/foreign_key_indexes.py adds them): {unindexed}"
