"""Login throttling in Redis (A8): guessing is slow, and an attacker elsewhere cannot lock the owner out.

Failures are counted in a fixed window per (account, address) and per address; those two refuse (429).
Failures per account from all addresses together never refuse: past `login_brake_failures` they only
slow every attempt on that account (the brake), so a person typing the right password from an address
that has not failed is always let in. Redis, not process memory: every API process sees the same counts.

Redis unreachable: login fails closed (503 `throttle_unavailable` with `Retry-After`) rather than
letting unlimited guesses through; see README "Security".
"""

import asyncio
import hashlib
import ipaddress
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings
from app.core.errors import Problem

log = structlog.get_logger("caseload.security")
T = TypeVar("T")
RETRY_AFTER_OUTAGE_S = 30


def _account(email: str) -> str:
    # Hashed: Redis keys show up in monitoring and must not carry addresses.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _address(ip: str | None) -> str:
    if not ip:
        return "none"
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    # One IPv6 subscriber holds a whole /64: counting single addresses would give them 2^64 budgets.
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False)) if parsed.version == 6 else str(parsed)


def _keys(email: str, ip: str | None) -> tuple[str, str, str]:
    account, address = _account(email), _address(ip)
    return f"login-fail:pair:{account}:{address}", f"login-fail:ip:{address}", f"login-fail:account:{account}"


async def guarded(call: Callable[[], Awaitable[T]]) -> T:
    """Run a Redis call for the login path; an outage becomes a 503 the client can retry."""
    try:
        return await call()
    except (RedisError, OSError) as exc:
        log.warning("security.throttle_unavailable", error=type(exc).__name__)
        raise Problem(
            503,
            "throttle_unavailable",
            f"Logins are paused for a moment: the attempt counter cannot be reached. Try again in {RETRY_AFTER_OUTAGE_S} seconds.",
            headers={"Retry-After": str(RETRY_AFTER_OUTAGE_S)},
            retry_after=RETRY_AFTER_OUTAGE_S,
        ) from exc


async def check_login_allowed(redis: Redis, settings: Settings, email: str, ip: str | None) -> None:
    pair, address, account = _keys(email, ip)
    pair_count, address_count, account_count = await guarded(lambda: redis.mget([pair, address, account]))
    for kind, key, count, limit in (
        ("account from this address", pair, pair_count, settings.login_max_failures_per_account),
        ("address", address, address_count, settings.login_max_failures_per_address),
    ):
        if count is not None and int(count) >= limit:
            retry_after = max(await guarded(lambda key=key: redis.ttl(key)), 1)
            log.warning("security.login_locked", scope=kind.split()[0], retry_after=retry_after)
            raise Problem(
                429,
                "too_many_login_attempts",
                f"Too many failed logins for this {kind}. Wait {retry_after} seconds, or reset the password "
                "(POST /v1/auth/password-reset).",
                headers={"Retry-After": str(retry_after)},
                retry_after=retry_after,
            )
    if account_count is not None and int(account_count) >= settings.login_brake_failures:
        # The brake: slowed, not refused. It holds only this request, not a worker or a connection.
        await asyncio.sleep(settings.login_brake_delay_s)


async def record_login_failure(redis: Redis, settings: Settings, email: str, ip: str | None) -> None:
    async def write() -> None:
        async with redis.pipeline(transaction=True) as pipe:
            for key in _keys(email, ip):
                # The window starts at the first failure; INCR keeps the TTL, so later ones do not extend it.
                # (SET NX EX rather than EXPIRE NX: the embedded Redis is 6.2.)
                pipe.set(key, 0, ex=settings.login_failure_window_s, nx=True).incr(key)
            await pipe.execute()

    await guarded(write)


async def clear_login_failures(redis: Redis, email: str, ip: str | None) -> None:
    # Only this address's count for the account: a success here says nothing about the other addresses.
    await guarded(lambda: redis.delete(_keys(email, ip)[0]))


async def clear_account_failures(redis: Redis, email: str) -> None:
    """After a reset through the mailbox: the account's brake is lifted (addresses keep their counts).
    Best effort: a Redis outage must not stop a person from choosing a new password."""
    try:
        await redis.delete(_keys(email, None)[2])
    except (RedisError, OSError) as exc:
        log.warning("security.throttle_unavailable", error=type(exc).__name__)


async def password_reset_budget(redis: Redis, settings: Settings, email: str, ip: str | None) -> bool:
    """A5: reset mails are not a way to flood a mailbox or the outbox. Too many requests from one address
    answer 429; past the per-email budget the request answers as usual but mails nothing (whether the
    email has an account stays unknown). Returns whether a mail may go out."""
    address_key = f"reset:ip:{_address(ip)}"
    email_key = f"reset:account:{_account(email)}"

    async def count() -> list[int]:
        async with redis.pipeline(transaction=True) as pipe:
            for key in (address_key, email_key):
                pipe.set(key, 0, ex=settings.password_reset_window_s, nx=True).incr(key)
            results = await pipe.execute()
        return [results[1], results[3]]

    from_address, for_email = await guarded(count)
    if from_address > settings.password_resets_per_address:
        retry_after = max(await guarded(lambda: redis.ttl(address_key)), 1)
        log.warning("security.password_reset_throttled", retry_after=retry_after)
        raise Problem(
            429,
            "too_many_reset_requests",
            f"Too many password reset requests from this address. Wait {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
    return for_email <= settings.password_resets_per_email
