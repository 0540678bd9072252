"""Async Alembic environment: the URL comes from `DATABASE_URL` or from the caller's config."""

import asyncio
import logging.config

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.config import get_settings
from app.core.db import Base, sqlalchemy_url

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging_config"):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url") or get_settings().database_url
    if not url:
        raise RuntimeError("Set DATABASE_URL (or run `caseload migrate`, which starts the embedded database).")
    return sqlalchemy_url(url)


def run_with(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # given by tests, which share their connection
        run_with(connection)
        return
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(run_with)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_online())
