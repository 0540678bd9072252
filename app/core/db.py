"""Engine, sessions and the per-request transaction.

Two ways to the database, on purpose:
- the SQLAlchemy `AsyncSession` (`db` everywhere) for every service;
- a small asyncpg pool for the per-request authentication lookup, the hottest statement of the
  API: SQLAlchemy's async layer costs more than the query itself there (DESIGN.md, measured facts).
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from app.config import Settings
from app.core.outages import AuthPoolBusy, outage_code

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def sqlalchemy_url(url: str) -> str:
    """`postgresql://...` in any spelling -> the asyncpg dialect URL SQLAlchemy wants."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgres", "postgresql", "postgresql+asyncpg") else url


def asyncpg_dsn(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


class Reader(Protocol):
    """What the authentication fast path needs: an asyncpg pool or connection."""

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None: ...
    async def execute(self, query: str, *args: Any) -> str: ...


class AuthPool:
    """The asyncpg pool behind `Reader`, with a short wait for a connection (the pool's own waits forever).

    Only an exhausted pool pays for the timer: with a connection idle, taking it does not suspend.
    """

    __slots__ = ("pool", "acquire_timeout")

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float):
        self.pool = pool
        self.acquire_timeout = acquire_timeout

    def _acquire(self) -> Any:
        return self.pool.acquire(timeout=None if self.pool.get_idle_size() else self.acquire_timeout)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        try:
            async with self._acquire() as conn:
                return await conn.fetchrow(query, *args)
        except TimeoutError as exc:
            raise _busy_or_timeout(exc) from exc

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        try:
            async with self._acquire() as conn:
                return await conn.fetch(query, *args)
        except TimeoutError as exc:
            raise _busy_or_timeout(exc) from exc

    async def execute(self, query: str, *args: Any) -> str:
        try:
            async with self._acquire() as conn:
                return await conn.execute(query, *args)
        except TimeoutError as exc:
            raise _busy_or_timeout(exc) from exc

    async def close(self) -> None:
        await self.pool.close()


def _busy_or_timeout(exc: TimeoutError) -> BaseException:
    # The acquire's wait ran out (no connection came back): a busy pool, 503 `database_busy`.
    return AuthPoolBusy("no authentication connection within the wait") if outage_code(exc) is None else exc


class Database:
    def __init__(self, url: str, settings: Settings):
        self.url = url
        self.settings = settings
        server_settings = {
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "application_name": "caseload",
        }
        self.engine = create_async_engine(
            sqlalchemy_url(url),
            pool_pre_ping=True,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            # A short wait: a saturated pool answers 503 quickly instead of piling requests up.
            pool_timeout=settings.db_pool_timeout_s,
            connect_args={"server_settings": server_settings, "timeout": settings.db_connect_timeout_s},
            # Statement parameters are PHI: keep them out of exception messages (and so out of logs).
            hide_parameters=True,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._server_settings = server_settings
        self.auth_pool: AuthPool | None = None

    async def start(self) -> None:
        pool = await asyncpg.create_pool(
            asyncpg_dsn(self.url),
            min_size=1,
            max_size=self.settings.auth_pool_size,
            # Every statement on this pool is written for generic plans (ranges, not LIKE; page sizes in the
            # text): on a 100,000-client group a name search then costs 1.2-1.6 ms instead of 2.0-2.5, most of it
            # the planning that PostgreSQL's choice of a custom plan would redo on every execution.
            # The roster and calendar reads write their audit row on this pool, and each row is chained to the
            # group's last one (R3): the chain head stays locked until commit, so with synchronous commits every
            # audited read of a group waited for the previous one's WAL flush (one group, 32 connections: 170-350
            # inserts/s instead of 1,840). Commits here do not wait for the flush: a crash can lose the last
            # fraction of a second of these rows (reads and refusals; the chain stays whole, row and head commit
            # together). Changes go through the engine above, with synchronous commits.
            server_settings={**self._server_settings, "plan_cache_mode": "force_generic_plan", "synchronous_commit": "off"},
            init=_decode_json,
            # The default reset is a second round trip per lookup (advisory locks, cursors, LISTEN,
            # settings): the auth statements leave no such state, and asyncpg still ends open transactions.
            reset=_nothing_to_reset,
            # A server that does not answer a new connection is an outage (503), not a 60 s wait.
            timeout=self.settings.db_connect_timeout_s,
        )
        self.auth_pool = AuthPool(pool, self.settings.auth_pool_timeout_s)

    async def close(self) -> None:
        if self.auth_pool is not None:
            await self.auth_pool.close()
        await self.engine.dispose()


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    pass


async def _decode_json(conn: asyncpg.Connection) -> None:
    # As SQLAlchemy's asyncpg connections do: json arrives decoded, whichever path read it.
    await conn.set_type_codec("json", schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads)


async def driver_connection(db: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under `db`'s transaction: bulk statements without per-row ORM processing.

    The transaction is SQLAlchemy's (its commit and rollback end it), so it is begun through SQLAlchemy
    when the session has not yet spoken to the server: a BEGIN sent on the driver would be unknown to it.
    """
    conn = await db.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")
    return driver


# Set by core/etags.py when it runs a GET inside a write's transaction to compute the current ETag.
SHARED_DB_SCOPE_KEY = "caseload.shared_db"


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction, committed before the response is sent (scope="function")."""
    shared = request.scope.get(SHARED_DB_SCOPE_KEY)
    if shared is not None:
        yield shared  # the outer request's transaction: it commits or rolls back, not this run
        return
    database: Database = request.app.state.db
    async with database.sessionmaker() as db:
        request.state.db = db
        try:
            yield db
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
    if db.info.pop("outbox_pending", False):
        # Jobs written to the outbox in this transaction can go to Redis now that they are committed.
        request.app.state.outbox_relay.kick()


async def get_reader(request: Request) -> Reader:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on every request.
    database: Database = request.app.state.db
    assert database.auth_pool is not None, "Database.start() was not awaited"
    return database.auth_pool


DB = Annotated[AsyncSession, Depends(get_db, scope="function")]
