"""A fixed-window request counter in Redis, in the style of core/throttle.py's login throttle.

Redis, not process memory: every API process must see the same counts.
"""

from redis.asyncio import Redis


async def count_in_window(redis: Redis, key: str, *, window_s: int) -> tuple[int, int]:
    """Count one more request under `key`; returns (requests so far in this window, seconds it has left)."""
    async with redis.pipeline(transaction=True) as pipe:
        # The window starts at the first request; INCR keeps the TTL, so later ones do not extend it.
        # (SET NX EX rather than EXPIRE NX: the embedded Redis is 6.2.)
        pipe.set(key, 0, ex=window_s, nx=True).incr(key).ttl(key)
        _, count, ttl = await pipe.execute()
    return int(count), max(int(ttl), 1)
