"""Per-key rate limit for partner API keys (X7): a fixed window of one minute in Redis, one round trip.

The count and the window's remaining time come back from one Lua script (EVALSHA; EVAL once after a Redis
restart forgets it), so every API process shares one count per key. The script goes over redis-py
connections kept idle here, to the same server and with the same timeouts as the app's pool, rather than
through the client and its pool: that layer costs about 150 µs of CPU per command, a sixth of a keyed
`/v1/me`, the bare connection about 25 µs (scripts/bench/bench_me.py measures the difference). The response carries the
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers (added by the request middleware
from the request's state); past the limit a 429 `rate_limited` problem with `Retry-After`.

Redis unreachable: the request goes through without a count (logged). Unlike the login throttle, nothing
is guessed here (the key is already authenticated), so a Redis outage should not stop partners' work.
"""

import hashlib
import uuid
from typing import Any

import structlog
from fastapi import Request
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, RedisError

from app.config import get_settings
from app.core.errors import Problem

log = structlog.get_logger("caseload.security")
WINDOW_MS = 60_000

# KEYS[1]: the key's counter; ARGV[1]: the window in ms. Returns {count, ms until the window resets}.
_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()
STATE_KEY = "rate_limit_headers"


def limit_for(requested: int | None) -> int:
    settings = get_settings()
    return min(requested or settings.api_key_rate_limit_default, settings.api_key_rate_limit_max)


def headers(limit: int, count: int, reset_ms: int) -> list[tuple[bytes, bytes]]:
    reset_s = max((reset_ms + 999) // 1000, 1)
    return [
        (b"ratelimit-limit", str(limit).encode()),
        (b"ratelimit-remaining", str(max(limit - count, 0)).encode()),
        (b"ratelimit-reset", str(reset_s).encode()),
    ]


class KeyCounter:
    """Idle connections to the server of `redis` (the app's pool), one per request in flight at most."""

    def __init__(self, redis: Redis):
        self.source = redis
        self._class = redis.connection_pool.connection_class
        self._kwargs = dict(redis.connection_pool.connection_kwargs)
        self._idle: list[AbstractConnection] = []

    async def count(self, counter: str) -> tuple[int, int]:
        conn = self._idle.pop() if self._idle else self._class(**self._kwargs)
        try:
            result = await self._run(conn, "EVALSHA", _SHA, 1, counter, WINDOW_MS)
            if isinstance(result, NoScriptError):  # a restarted or flushed Redis forgot the script
                result = await self._run(conn, "EVAL", _SCRIPT, 1, counter, WINDOW_MS)
            if isinstance(result, Exception):
                raise result
        except BaseException:
            await conn.disconnect()  # mid-reply or broken: never reused
            raise
        self._idle.append(conn)
        return int(result[0]), int(result[1])

    @staticmethod
    async def _run(conn: AbstractConnection, *args: Any) -> Any:
        await conn.send_command(*args)
        try:
            return await conn.read_response()
        except NoScriptError as exc:
            return exc


def _counter_for(request: Request) -> KeyCounter:
    state = request.app.state
    redis = state.redis
    counter: KeyCounter | None = getattr(state, "key_counter", None)
    if counter is None or counter.source is not redis:
        counter = state.key_counter = KeyCounter(redis)
    return counter


async def check(request: Request, key_id: uuid.UUID, requested: int | None) -> None:
    """Count this request against the key's minute; raise 429 past its limit."""
    if not get_settings().api_key_rate_limit_enabled:
        return
    limit = limit_for(requested)
    try:
        count, reset_ms = await _counter_for(request).count(f"ratelimit:key:{key_id}")
    except (RedisError, OSError) as exc:
        log.warning("security.rate_limit_unavailable", api_key_id=str(key_id), error=type(exc).__name__)
        return
    request.scope.setdefault("state", {})[STATE_KEY] = headers(limit, count, reset_ms)
    if count > limit:
        retry_after = max((reset_ms + 999) // 1000, 1)
        raise Problem(
            429,
            "rate_limited",
            f"This API key made more than its {limit} requests per minute. Wait {retry_after} seconds, spread the "
            "requests out, or ask an admin for a key with a higher limit.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
