"""Outages answer 503 with Retry-After, never 500 (rule X5 and DESIGN.md's reliability promises).

Real outages, no mocks: an engine pointed at a closed port, an exhausted asyncpg pool, a backend
terminated by the server, a role over its connection limit, a Redis on a closed port and a frozen one.
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import redis.exceptions
from arq import ArqRedis
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.core.db import AuthPool, asyncpg_dsn, get_db, get_reader, sqlalchemy_url
from app.core.middleware import RequestContextMiddleware
from app.core.outages import DATABASE_BUSY, DATABASE_UNAVAILABLE, QUEUE_UNAVAILABLE, outage_code
from app.core.redis import connect
from app.memberships.service import make_provider
from app.models import ProviderProfile
from tests.fixtures.factories import make_group, make_user, unique_email, user_headers


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_outage_answer(response: httpx.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert int(response.headers["Retry-After"]) >= 1


# --- PostgreSQL ------------------------------------------------------------------------------------


async def test_a_refused_database_connection_answers_503_database_unavailable(app: FastAPI, client: httpx.AsyncClient) -> None:
    # rule X5: PostgreSQL stopped -> 503 database_unavailable with Retry-After, not 500 internal_error
    dead = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/nothing")

    async def unreachable_db(request: Request) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(dead) as db:
            yield db
            await db.commit()

    app.dependency_overrides[get_db] = unreachable_db
    signup = {"email": unique_email("outage"), "password": "a long enough password", "first_name": "O", "last_name": "U"}
    assert_outage_answer(await client.post("/v1/auth/signup", json=signup), DATABASE_UNAVAILABLE)
    await dead.dispose()


async def test_an_exhausted_authentication_pool_answers_503_database_busy_quickly(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    # rule X5: the authentication pool waits a short, bounded time for a connection, then 503 database_busy
    headers = await user_headers(db, await make_user(db))
    pool = await asyncpg.create_pool(asyncpg_dsn(os.environ["DATABASE_URL"]), min_size=1, max_size=1)
    reader = AuthPool(pool, acquire_timeout=0.3)
    app.dependency_overrides[get_reader] = lambda: reader
    try:
        async with pool.acquire():  # the pool's only connection, held
            started = time.monotonic()
            response = await client.get("/v1/me", headers=headers)
            waited = time.monotonic() - started
        assert_outage_answer(response, DATABASE_BUSY)
        assert waited < 2
    finally:
        await pool.close()


async def test_a_connection_terminated_mid_request_is_an_outage() -> None:
    # rule X5: the connection lost in the middle of a statement (a restart, a failover: "terminating connection
    # due to administrator command") -> database_unavailable
    dsn = asyncpg_dsn(os.environ["DATABASE_URL"])
    victim, killer = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        running = asyncio.create_task(victim.fetchval("SELECT pg_sleep(10)"))
        await asyncio.sleep(0.2)
        await killer.execute("SELECT pg_terminate_backend($1)", victim.get_server_pid())
        with pytest.raises(Exception) as raised:
            await asyncio.wait_for(running, 5)
        assert outage_code(raised.value) == DATABASE_UNAVAILABLE
    finally:
        victim.terminate()
        await killer.close()


async def test_a_pooled_connection_terminated_while_idle_is_an_outage() -> None:
    # rule X5: PostgreSQL shut down while a pooled connection sat idle; its next statement fails, as an outage
    dsn = asyncpg_dsn(os.environ["DATABASE_URL"])
    victim, killer = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        await killer.execute("SELECT pg_terminate_backend($1)", victim.get_server_pid())
        with pytest.raises(Exception) as raised:
            for _ in range(50):  # the termination arrives asynchronously
                await victim.fetchval("SELECT 1")
                await asyncio.sleep(0.02)
        assert outage_code(raised.value) == DATABASE_UNAVAILABLE
    finally:
        victim.terminate()
        await killer.close()


async def test_too_many_connections_is_database_busy_through_sqlalchemy() -> None:
    # rule X5: PostgreSQL's "too many connections" (SQLSTATE 53300) -> 503 database_busy, through the ORM's wrapping
    role = f"caseload_full_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(os.environ["DATABASE_URL"]))
    await admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0")
    try:
        url = sqlalchemy_url(os.environ["DATABASE_URL"]).replace("postgres@", f"{role}@", 1)
        full = create_async_engine(url)
        with pytest.raises(Exception) as raised:
            async with full.connect() as conn:
                await conn.execute(text("SELECT 1"))
        await full.dispose()
        assert outage_code(raised.value) == DATABASE_BUSY
    finally:
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_a_bug_is_not_an_outage() -> None:
    # rule X5's other side: an ordinary error stays a 500 (and is logged), it is not hidden as a 503
    assert outage_code(ValueError("bug")) is None
    assert outage_code(KeyError("database")) is None
    assert outage_code(FileNotFoundError("upload")) is None


# --- Redis -----------------------------------------------------------------------------------------


@pytest.fixture
async def booking_slug(db: AsyncSession) -> str:
    group = await make_group(db)
    provider = await make_user(db, email=unique_email("pia"))
    await make_provider(db, group, provider, "LCSW")
    profile = await db.get(ProviderProfile, (group.id, provider.id))
    assert profile is not None
    return profile.booking_slug


async def test_a_route_that_needs_redis_answers_503_when_redis_is_down(
    app: FastAPI, client: httpx.AsyncClient, booking_slug: str
) -> None:
    # rule X5: Redis refused -> 503 queue_unavailable on a route that needs it (the booking sign-up throttle)
    app.state.redis = ArqRedis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=1, socket_timeout=1)
    body = {"email": unique_email("c"), "password": "correct horse battery", "first_name": "J", "last_name": "B",
            "billing_type": "private_pay"}
    response = await client.post(f"/v1/booking/{booking_slug}/signup", json=body)
    assert_outage_answer(response, QUEUE_UNAVAILABLE)
    await app.state.redis.aclose()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server to freeze one")
async def test_a_frozen_redis_fails_a_command_within_seconds_not_forever() -> None:
    # DESIGN.md reliability: the Redis clients have socket timeouts, so a frozen Redis (SIGSTOP) cannot hang a request
    port = closed_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        pool = await connect(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
        assert await pool.ping()
        server.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises((redis.exceptions.TimeoutError, redis.exceptions.ConnectionError)) as raised:
            await pool.get("anything")
        assert time.monotonic() - started < 3
        assert outage_code(raised.value) == QUEUE_UNAVAILABLE
        server.send_signal(signal.SIGCONT)
        await pool.aclose()
    finally:
        server.send_signal(signal.SIGCONT)
        server.terminate()
        server.wait(10)


# --- shutdown --------------------------------------------------------------------------------------


async def test_a_request_cancelled_at_shutdown_answers_a_503_problem() -> None:
    # rule X5: the server cancels what is still running past its grace period: a 503 problem, not plain-text 500
    started = asyncio.Event()

    async def slow(request: Request) -> JSONResponse:
        started.set()
        await asyncio.sleep(60)
        return JSONResponse({})

    app = RequestContextMiddleware(Starlette(routes=[Route("/slow", slow)]))
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/slow", "raw_path": b"/slow", "headers": [], "query_string": b"",
             "root_path": "", "scheme": "http", "server": ("testserver", 80), "client": ("203.0.113.1", 1), "http_version": "1.1"}
    task = asyncio.create_task(app(scope, receive, send))
    await started.wait()
    task.cancel()  # what uvicorn does past timeout_graceful_shutdown
    await asyncio.wait([task], timeout=5)
    start, body = sent
    assert start["status"] == 503
    assert dict(start["headers"])[b"content-type"] == b"application/problem+json"
    assert dict(start["headers"])[b"retry-after"] == b"2"
    assert b'"code":"shutting_down"' in body["body"]
