"""Login throttling in Redis: failures counted per account and per client address in a fixed window.

Redis, not process memory: every API process must see the same counts.
"""

import hashlib

from redis.asyncio import Redis

from app.config import Settings
from app.core.errors import Problem


def _keys(email: str, ip: str | None) -> list[tuple[str, str]]:
    # Hash the email: Redis keys show up in monitoring and must not carry addresses.
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    keys = [("account", f"login-fail:account:{account}")]
    if ip:
        keys.append(("address", f"login-fail:ip:{ip}"))
    return keys


def _limit(kind: str, settings: Settings) -> int:
    return settings.login_max_failures_per_account if kind == "account" else settings.login_max_failures_per_address


async def check_login_allowed(redis: Redis, settings: Settings, email: str, ip: str | None) -> None:
    keys = _keys(email, ip)
    counts = await redis.mget([key for _, key in keys])
    for (kind, key), count in zip(keys, counts):
        if count is not None and int(count) >= _limit(kind, settings):
            retry_after = max(await redis.ttl(key), 1)
            raise Problem(
                429,
                "too_many_login_attempts",
                f"Too many failed logins for this {kind}. Wait {retry_after} seconds, or reset the password.",
                headers={"Retry-After": str(retry_after)},
                retry_after=retry_after,
            )


async def record_login_failure(redis: Redis, settings: Settings, email: str, ip: str | None) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for _, key in _keys(email, ip):
            # The window starts at the first failure; INCR keeps the TTL, so later ones do not extend it.
            # (SET NX EX rather than EXPIRE NX: the embedded Redis is 6.2.)
            pipe.set(key, 0, ex=settings.login_failure_window_s, nx=True).incr(key)
        await pipe.execute()


async def clear_login_failures(redis: Redis, email: str) -> None:
    await redis.delete(_keys(email, None)[0][1])
