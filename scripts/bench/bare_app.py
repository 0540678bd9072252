"""The floor: bare Starlette + one asyncpg pool + orjson, no middleware, no dependency injection.

Run by the harness with uvicorn exactly as `caseload serve` runs the API (one process, uvloop,
httptools, no access log), so the difference between the two is the application's own cost.

  BARE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/caseload_bench \
    python -m uvicorn bare_app:app --app-dir scripts/bench --loop uvloop --http httptools --port 8001

Endpoints (add more as scenarios need them; each reads what the matching API route reads):
  GET /healthz                  no database
  GET /users/{id}               one user row by primary key (the "one-row read" of DESIGN.md)
  GET /session-lookup           the API's own authentication statement for the bearer token, answered as
                                /v1/me answers: the same SQL work without the framework around it
"""

import hashlib
import os
import uuid
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DATABASE_URL = os.environ.get("BARE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/caseload_bench")
# The API's authentication pool has 10 connections by default (Settings.auth_pool_size): same here.
POOL_SIZE = int(os.environ.get("BARE_POOL_SIZE", "10"))
SESSION_IDLE_MINUTES = 60

_USER_BY_ID = """
SELECT id, email, first_name, last_name, email_verified_at IS NOT NULL AS verified, is_staff
  FROM users WHERE id = $1
"""


def _session_lookup_sql() -> str:
    # The API's statement itself, so this endpoint never drifts from what /v1/me runs.
    from app.core.auth import _SESSION_LOOKUP

    return _SESSION_LOOKUP


SESSION_LOOKUP = _session_lookup_sql()
_UNAUTHENTICATED = Response(b'{"status":401}', status_code=401, media_type="application/json")


def json_response(data: object) -> Response:
    # default=str: asyncpg's UUID type is not uuid.UUID, which orjson would serialise natively.
    return Response(orjson.dumps(data, default=str), media_type="application/json")


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def user_by_id(request: Request) -> Response:
    row = await request.app.state.pool.fetchrow(_USER_BY_ID, request.path_params["user_id"])
    if row is None:
        return Response(b'{"status":404}', status_code=404, media_type="application/json")
    return json_response(dict(row))


async def session_lookup(request: Request) -> Response:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return _UNAUTHENTICATED
    digest = hashlib.sha256(auth[7:].encode()).digest()
    row = await request.app.state.pool.fetchrow(SESSION_LOOKUP, digest, SESSION_IDLE_MINUTES)
    if row is None:
        return _UNAUTHENTICATED
    memberships = sorted(orjson.loads(row["memberships"]), key=lambda m: (m[1], m[0]))
    return json_response({
        "kind": "user",
        "user": {
            "id": row["id"], "email": row["email"], "first_name": row["first_name"], "last_name": row["last_name"],
            "email_verified": row["verified"], "is_staff": row["is_staff"], "two_factor_enabled": row["two_factor"],
        },
        "memberships": [
            {"group_id": uuid.UUID(group_id), "group_name": name,
             "roles": [role for role, held in (("owner", o), ("admin", a), ("provider", p)) if held]}
            for group_id, name, o, a, p, *_ in memberships
        ],
    })


@asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    app.state.pool = await asyncpg.create_pool(DATABASE_URL, min_size=1, max_size=POOL_SIZE)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/users/{user_id:uuid}", user_by_id),
        Route("/session-lookup", session_lookup),
    ],
    lifespan=lifespan,
)
