"""Per-key rate limit for partner API keys (X7): a fixed window of one minute in Redis, one round trip.

The count and the window's remaining time come back from one Lua script (EVALSHA; EVAL once after a Redis
restart forgets it), so every API process shares one count per key. The response carries the
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers (added by the request middleware
from the request's state); past the limit a 429 `rate_limited` problem with `Retry-After`.

Redis unreachable: the request goes through without a count (logged). Unlike the login throttle, nothing
is guessed here (the key is already authenticated), so a Redis outage should not stop partners' work.
"""

import hashlib
import uuid

import structlog
from fastapi import Request
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


async def check(request: Request, key_id: uuid.UUID, requested: int | None) -> None:
    """Count this request against the key's minute; raise 429 past its limit."""
    if not get_settings().api_key_rate_limit_enabled:
        return
    limit = limit_for(requested)
    redis = request.app.state.redis
    counter = f"ratelimit:key:{key_id}"
    try:
        try:
            count, reset_ms = await redis.evalsha(_SHA, 1, counter, WINDOW_MS)
        except NoScriptError:
            count, reset_ms = await redis.eval(_SCRIPT, 1, counter, WINDOW_MS)
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
