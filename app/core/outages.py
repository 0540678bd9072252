"""Outages of PostgreSQL or Redis, told apart from bugs (X5 and DESIGN.md's reliability promises).

A request that meets an outage answers 503 with `Retry-After` (the client may simply retry), never
500; a job that meets one is retried with backoff. One classification serves both, so the API and the
worker agree on what an outage is.
"""

import asyncio
from collections.abc import Iterator

import asyncpg
import redis.exceptions
import sqlalchemy.exc

from app.core.storage import StorageUnavailable

DATABASE_UNAVAILABLE = "database_unavailable"
DATABASE_BUSY = "database_busy"
QUEUE_UNAVAILABLE = "queue_unavailable"
STORAGE_UNAVAILABLE = "storage_unavailable"

# What a client reads: what happened and what to do. `Retry-After` is in seconds.
ANSWERS: dict[str, tuple[str, str]] = {
    DATABASE_UNAVAILABLE: ("2", "The database is unavailable for a moment; nothing was changed. Retry shortly."),
    DATABASE_BUSY: ("1", "The service is busy; nothing was changed. Retry shortly."),
    QUEUE_UNAVAILABLE: ("2", "A service this request needs is unavailable for a moment; nothing was changed. Retry shortly."),
    STORAGE_UNAVAILABLE: ("2", "File storage is unavailable for a moment; nothing was changed. Retry shortly."),
}

# SQLSTATE classes and codes of a server that is going away, restarting or full (08003 is asyncpg's
# "connection was closed in the middle of operation").
_BUSY_SQLSTATES = {"53300", "53400"}  # too_many_connections, configuration_limit_exceeded
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57P")  # connection exceptions; admin/crash shutdown, cannot connect now


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (SQLAlchemy's `.orig`) and what caused it, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


def outage_code(exc: BaseException) -> str | None:
    """`database_unavailable`, `database_busy`, `queue_unavailable`, or None when `exc` is not an outage."""
    for current in _chain(exc):
        if isinstance(current, StorageUnavailable):
            return STORAGE_UNAVAILABLE
        if isinstance(current, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
            return QUEUE_UNAVAILABLE
        if isinstance(current, sqlalchemy.exc.TimeoutError):  # the ORM pool's wait
            return DATABASE_BUSY
        if isinstance(current, asyncpg.PostgresError):
            sqlstate = getattr(current, "sqlstate", None) or ""
            if sqlstate in _BUSY_SQLSTATES:
                return DATABASE_BUSY
            if sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES):
                return DATABASE_UNAVAILABLE
        if isinstance(current, AuthPoolBusy):
            return DATABASE_BUSY
        if isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current):
            return DATABASE_UNAVAILABLE
        if isinstance(current, asyncpg.exceptions._base.InternalClientError) and "cannot switch to state" in str(current):
            # What asyncpg raises on a connection the server terminated while it sat idle in a pool
            # (PostgreSQL shut down or restarted): the connection is dead, not the code wrong.
            return DATABASE_UNAVAILABLE
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return DATABASE_UNAVAILABLE
        if isinstance(current, ConnectionError):  # refused, reset, broken pipe: sockets to PostgreSQL
            return DATABASE_UNAVAILABLE
        if isinstance(current, (asyncio.TimeoutError, TimeoutError)) and _from_asyncpg_connect(current):
            return DATABASE_UNAVAILABLE
    return None


def _from_asyncpg_connect(exc: BaseException) -> bool:
    # asyncpg's connect timeout is a bare TimeoutError: recognise it by where it was raised.
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("asyncpg.connect"):
            return True
        tb = tb.tb_next
    return False


class AuthPoolBusy(Exception):
    """The authentication pool had no connection within its short wait."""
