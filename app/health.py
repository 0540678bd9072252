"""Liveness and readiness for load balancers and orchestrators."""

import asyncio

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import text
from starlette.responses import Response

from app.core.errors import problem_response, problem_responses
from app.core.routing import PUBLIC, allowed, router

health_router = router("", "health")


class Health(BaseModel):
    status: str


@health_router.get("/healthz", summary="Check the process is alive", **allowed(PUBLIC))
async def healthz() -> Health:
    """The process is alive (no dependencies checked)."""
    return Health(status="ok")


@health_router.get("/readyz", summary="Check the service can take traffic", response_model=Health, responses=problem_responses(503), **allowed(PUBLIC))
async def readyz(request: Request) -> Health | Response:
    """The database and Redis both answer: this process can take traffic."""
    failing = []
    try:
        async with asyncio.timeout(2):
            async with request.app.state.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception:
        failing.append("database")
    try:
        async with asyncio.timeout(2):
            await request.app.state.redis.ping()
    except Exception:
        failing.append("redis")
    if failing:
        return problem_response(
            503, "not_ready", f"Not reachable: {', '.join(failing)}.", failing=failing, headers={"Retry-After": "5"}
        )
    return Health(status="ready")
