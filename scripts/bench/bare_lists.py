"""The floor for list endpoints: bare Starlette + one asyncpg pool + orjson, as bare_app.py, for the
scenarios bench_members.py and bench_clients.py.

Run by the harness with uvicorn exactly as `caseload serve` runs the API (one process, uvloop, httptools,
no access log), so the difference between the two is the application's own cost.

  BARE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/caseload_bench \
    python -m uvicorn bare_lists:app --app-dir scripts/bench --loop uvloop --http httptools --port 8001

Endpoints (each reads what the matching API route reads, with the same SQL shape and the same order):

  GET /healthz                                  no database
  GET /groups/{id}/members?limit=N              baseline of GET /v1/groups/{id}/members: the page of active
                                                members from memberships JOIN users LEFT JOIN provider_profiles,
                                                ordered by (created_at, id), answered with the API's fields
  GET /groups/{id}/members-authed?limit=N       diagnostic: the same, after the API's own authentication
                                                statement and the MEMBERS_READ check (the SQL work of the API
                                                route without the framework)
  GET /groups/{id}/clients?limit=N[&q=]         baseline of GET /v1/groups/{id}/clients: the page of the group's
                                                clients with an active roster entry, by (last_name_key,
                                                first_name_key, id): the client row's own fields only; a one-word
                                                q in the API's shape (UNION of three index range scans)
  GET /groups/{id}/clients-full?limit=N[&q=]    diagnostic: everything the API route does, in SQL: authentication,
                                                reach (a provider sees their own roster), the page, the rosters,
                                                insurance and readiness facts of the page, the audit row, in one
                                                transaction, answered with the API's whole ClientOut document
                                                (?audit=0: without the audit row, to show what it costs)
  GET /groups/{id}/clients-lean?limit=N[&q=]    diagnostic: clients-full's answer from two statements (one SELECT of the
                                                page with everything shown, the audit INSERT): the floor of the shape
                                                recommended for the API

No authentication on the baselines (as bare_app.py's /users/{id}): they are the floor of reading the rows.
"""

import base64
import hashlib
import os
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DATABASE_URL = os.environ.get("BARE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/caseload_bench")
# The API's SQLAlchemy pool has 10 connections (Settings.db_pool_size), its auth pool 10 more: 10 here,
# 10 more for the diagnostics' authentication statement.
POOL_SIZE = int(os.environ.get("BARE_POOL_SIZE", "10"))
SESSION_IDLE_MINUTES = 60
MAX_PAGE_SIZE = 200

# Same as app.clients.readiness.CURRENT_FORM_VERSIONS (read from there below, so it never drifts).
try:
    from app.clients.readiness import CURRENT_FORM_VERSIONS
    from app.core.auth import _SESSION_LOOKUP as SESSION_LOOKUP
except ImportError:  # pragma: no cover - run without the repository on the path
    raise SystemExit("bare_lists.py needs the repository on PYTHONPATH (the harness sets it)") from None

# ----------------------------------------------------------------------------------------------- members

_MEMBERS = """
SELECT m.user_id, u.first_name, u.last_name, u.email, u.email_verified_at IS NOT NULL AS verified,
       m.is_owner, m.is_admin, m.is_provider, p.license_type, m.created_at, m.id
  FROM memberships m
  JOIN users u ON u.id = m.user_id
  LEFT JOIN provider_profiles p ON p.group_id = m.group_id AND p.user_id = m.user_id
 WHERE m.group_id = $1 AND m.ended_at IS NULL
 ORDER BY m.created_at, m.id
 LIMIT $2
"""

# ----------------------------------------------------------------------------------------------- clients

_CLIENT_COLUMNS = """c.id, c.group_id, c.user_id, c.first_name, c.last_name, c.email, c.phone, c.billing_type,
       c.telehealth_state, c.assessments, c.created_at, c.last_name_key, c.first_name_key"""
_ACTIVE = "EXISTS (SELECT 1 FROM roster_entries r WHERE r.client_id = c.id AND r.archived_at IS NULL)"
_OWN = "EXISTS (SELECT 1 FROM roster_entries o WHERE o.client_id = c.id AND o.provider_user_id = $3)"
_SEARCH_ONE = "(c.last_name_key LIKE $4 OR c.first_name_key LIKE $4 OR c.email_key LIKE $4)"
_SEARCH_TWO = ("((c.first_name_key LIKE $4 AND c.last_name_key LIKE $5) OR "
               "(c.last_name_key LIKE $4 AND c.first_name_key LIKE $5))")


def _clients_sql(*, own: bool, search_tokens: int) -> str:
    """The page query; $1 group, $2 limit, $3 provider (own reach; NULL-safe unused otherwise), $4.. search."""
    where = ["c.group_id = $1", _ACTIVE]
    if own:
        where.append(_OWN)
    if search_tokens == 1:
        where.append(_SEARCH_ONE)
    elif search_tokens >= 2:
        where.append(_SEARCH_TWO)
    # $3 appears only with own reach: keep the numbering stable by passing it only then.
    sql = (f"SELECT {_CLIENT_COLUMNS}\n  FROM clients c\n WHERE " + "\n   AND ".join(where)
           + "\n ORDER BY c.last_name_key, c.first_name_key, c.id\n LIMIT $2")
    if not own:
        sql = sql.replace("$4", "$3").replace("$5", "$4")
    return sql


_CLIENT_SQL = {(own, n): _clients_sql(own=own, search_tokens=n) for own in (False, True) for n in (0, 1, 2)}

# The baseline of a one-word search, in the API's shape (app.clients.roster_sql): a UNION of three index range
# scans (last name, first name, email), each in roster order and limited, instead of an OR that walks the group.
# $3/$4: the prefix as a range [low, high) of the "C" collation.
_SEARCH_BRANCH_FENCED = """(SELECT s.id FROM (SELECT c.id, c.last_name_key, c.first_name_key FROM clients c
   WHERE c.group_id = $1 AND c.{column} >= $3 AND c.{column} < $4
   ORDER BY c.last_name_key, c.first_name_key, c.id OFFSET 0) s
  WHERE EXISTS (SELECT 1 FROM roster_entries r WHERE r.client_id = s.id AND r.archived_at IS NULL)
  ORDER BY s.last_name_key, s.first_name_key, s.id LIMIT $2)"""
_SEARCH_SQL = f"""
SELECT {_CLIENT_COLUMNS} FROM (
  (SELECT c.id FROM clients c WHERE c.group_id = $1 AND {_ACTIVE} AND c.last_name_key >= $3 AND c.last_name_key < $4
    ORDER BY c.last_name_key, c.first_name_key, c.id LIMIT $2)
  UNION {_SEARCH_BRANCH_FENCED.format(column="first_name_key")}
  UNION {_SEARCH_BRANCH_FENCED.format(column="email_key")}
) m JOIN clients c ON c.id = m.id
 ORDER BY c.last_name_key, c.first_name_key, c.id
 LIMIT $2
"""

# The page and everything the response shows about it, in one statement (the shape recommended for the API):
# the roster entries as a JSON array, the person's insurance, form of billing and current acknowledgements.
# The card (one per person at most) is joined: as an EXISTS subquery, PostgreSQL plans it as a hash of the whole
# billing_methods table (sized for the rows before the LIMIT), 25 ms per page.
_LEAN_EXTRA = """,
       u.email_verified_at IS NOT NULL AS verified,
       (SELECT json_agg(json_build_array(e.provider_user_id, e.added_at, e.archived_at) ORDER BY e.added_at)
          FROM roster_entries e WHERE e.client_id = c.id) AS rosters,
       (SELECT json_build_array(i.status, i.company, i.member_id_last4)
          FROM insurance_policies i WHERE i.user_id = c.user_id) AS insurance,
       b.user_id IS NOT NULL AND (b.exp_year, b.exp_month) >= ($90::int, $91::int) AS billing,
       (SELECT array_agg(a.document) FROM acknowledgements a
         WHERE a.user_id = c.user_id AND (a.document, a.version) IN (SELECT * FROM unnest($92::text[], $93::text[]))) AS docs"""


def _lean_sql(own: bool, search_tokens: int) -> str:
    """_clients_sql with the view's columns, the users join, and its own parameter numbers for the extras."""
    sql = _CLIENT_SQL[(own, search_tokens)]
    sql = sql.replace("c.created_at, c.last_name_key, c.first_name_key",
                      "c.created_at, c.last_name_key, c.first_name_key" + _LEAN_EXTRA, 1)
    sql = sql.replace("FROM clients c\n", "FROM clients c JOIN users u ON u.id = c.user_id\n"
                      "  LEFT JOIN billing_methods b ON b.user_id = c.user_id\n", 1)
    n = 2 + own + min(search_tokens, 2)  # the parameters the page query already uses
    for k, old in enumerate(("$90", "$91", "$92", "$93")):
        sql = sql.replace(old, f"${n + 1 + k}")
    return sql


_LEAN_SQL = {(own, n): _lean_sql(own, n) for own in (False, True) for n in (0, 1, 2)}

_ROSTERS = """
SELECT client_id, provider_user_id, added_at, archived_at
  FROM roster_entries WHERE client_id = ANY($1::uuid[]) ORDER BY added_at
"""
_INSURANCE = """
SELECT user_id, status, company, member_id_last4 FROM insurance_policies WHERE user_id = ANY($1::uuid[])
"""
_FACTS = """
SELECT u.id, u.email_verified_at IS NOT NULL AS verified,
       EXISTS (SELECT 1 FROM insurance_policies i WHERE i.user_id = u.id AND i.status != 'failed') AS insurance,
       EXISTS (SELECT 1 FROM billing_methods b WHERE b.user_id = u.id
                  AND (b.exp_year, b.exp_month) >= ($2::int, $3::int)) AS billing,
       (SELECT array_agg(a.document) FROM acknowledgements a
         WHERE a.user_id = u.id AND (a.document, a.version) IN (SELECT * FROM unnest($4::text[], $5::text[]))) AS docs
  FROM users u WHERE u.id = ANY($1::uuid[])
"""
_AUDIT = """
INSERT INTO audit_events (actor_user_id, actor_api_key_id, actor_ip, request_id, action, target_type, target_id,
                          group_id, outcome, details)
VALUES ($1, NULL, $2::inet, $3, 'client.list_read', 'client', NULL, $4, 'success', $5::jsonb)
"""

_UNAUTHENTICATED = Response(b'{"status":401}', status_code=401, media_type="application/json")
_NOT_FOUND = Response(b'{"status":404}', status_code=404, media_type="application/json")
_FORBIDDEN = Response(b'{"status":403}', status_code=403, media_type="application/json")
_BAD_REQUEST = Response(b'{"status":422}', status_code=422, media_type="application/json")


def json_response(data: object) -> Response:
    # default=str: asyncpg's UUID type is not uuid.UUID, which orjson would serialise natively.
    return Response(orjson.dumps(data, default=str), media_type="application/json")


def encode_cursor(values: list[object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def page_limit(request: Request, default: int = 50) -> int | None:
    try:
        limit = int(request.query_params.get("limit", default))
    except ValueError:
        return None
    return limit if 1 <= limit <= MAX_PAGE_SIZE else None


def like_tokens(q: str | None) -> list[str]:
    """As app.clients.service._search: lower-cased, LIKE-escaped prefixes; two or more tokens use first and last."""
    if not q or not q.strip():
        return []
    tokens = [t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for t in q.lower().split()]
    return tokens if len(tokens) == 1 else [tokens[0], tokens[-1]]


def roles_of(owner: bool, admin: bool, provider: bool) -> list[str]:
    return [name for name, held in (("owner", owner), ("admin", admin), ("provider", provider)) if held]


async def authenticate(request: Request) -> asyncpg.Record | None:
    """The API's own authentication statement (app.core.auth), on its own pool as the API has."""
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return None
    digest = hashlib.sha256(auth[7:].encode()).digest()
    return await request.app.state.auth_pool.fetchrow(SESSION_LOOKUP, digest, SESSION_IDLE_MINUTES)


def role_in(session: asyncpg.Record, group_id: uuid.UUID) -> tuple[bool, bool, bool] | None:
    for gid, _name, owner, admin, provider, *_ in orjson.loads(session["memberships"]):
        if gid == str(group_id):
            return owner, admin, provider
    return None


# ------------------------------------------------------------------------------------------- endpoints


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def _members_page(request: Request) -> Response:
    limit = page_limit(request)
    if limit is None:
        return _BAD_REQUEST
    rows = await request.app.state.pool.fetch(_MEMBERS, request.path_params["group_id"], limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["created_at"], rows[-1]["id"]])
    return json_response({
        "items": [
            {"user_id": r["user_id"], "first_name": r["first_name"], "last_name": r["last_name"], "email": r["email"],
             "email_verified": r["verified"], "roles": roles_of(r["is_owner"], r["is_admin"], r["is_provider"]),
             "license_type": r["license_type"], "joined_at": r["created_at"]}
            for r in rows
        ],
        "next_cursor": next_cursor,
    })


async def members(request: Request) -> Response:
    return await _members_page(request)


async def members_authed(request: Request) -> Response:
    session = await authenticate(request)
    if session is None:
        return _UNAUTHENTICATED
    if role_in(session, request.path_params["group_id"]) is None:  # MEMBERS_READ: any member
        return _NOT_FOUND
    return await _members_page(request)


def _client_fields(r: asyncpg.Record) -> dict[str, object]:
    return {"id": r["id"], "group_id": r["group_id"], "user_id": r["user_id"], "first_name": r["first_name"],
            "last_name": r["last_name"], "email": r["email"], "phone": r["phone"], "billing_type": r["billing_type"],
            "telehealth_state": r["telehealth_state"], "assessments": r["assessments"], "created_at": r["created_at"]}


def _next_cursor(rows: list[asyncpg.Record], limit: int) -> tuple[list[asyncpg.Record], str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([last["last_name_key"], last["first_name_key"], last["id"]])


async def _page(conn: asyncpg.Connection | asyncpg.Pool, group_id: uuid.UUID, limit: int, q: str | None,
                provider: uuid.UUID | None) -> list[asyncpg.Record]:
    tokens = like_tokens(q)
    sql = _CLIENT_SQL[(provider is not None, len(tokens))]
    args: list[object] = [group_id, limit + 1]
    if provider is not None:
        args.append(provider)
    return await conn.fetch(sql, *args, *tokens)


async def clients(request: Request) -> Response:
    limit = page_limit(request)
    if limit is None:
        return _BAD_REQUEST
    q = request.query_params.get("q")
    words = (q or "").lower().split()
    if len(words) == 1:  # the API's search shape
        from app.clients.roster_sql import prefix_range

        rows = await request.app.state.pool.fetch(_SEARCH_SQL, request.path_params["group_id"], limit + 1,
                                                  *prefix_range(words[0]))
    else:
        rows = await _page(request.app.state.pool, request.path_params["group_id"], limit, q, None)
    rows, next_cursor = _next_cursor(rows, limit)
    return json_response({"items": [_client_fields(r) for r in rows], "next_cursor": next_cursor})


def _checklist(billing_type: str, verified: bool, insurance: bool, billing: bool, docs: list[str]) -> dict[str, object]:
    items = [{"item": "account_verified", "done": verified}]
    if billing_type == "insurance":
        items.append({"item": "insurance_on_file", "done": insurance})
    items.append({"item": "billing_method_on_file", "done": billing})
    for document in CURRENT_FORM_VERSIONS:
        items.append({"item": f"{document}_acknowledged", "done": document in docs})
    return {"ready": all(i["done"] for i in items), "items": items, "missing": [i["item"] for i in items if not i["done"]]}


async def clients_full(request: Request) -> Response:
    limit = page_limit(request)
    if limit is None:
        return _BAD_REQUEST
    group_id = request.path_params["group_id"]
    session = await authenticate(request)
    if session is None:
        return _UNAUTHENTICATED
    role = role_in(session, group_id)
    if role is None:
        return _NOT_FOUND
    owner, admin, provider = role
    if not (owner or admin or provider):
        return _FORBIDDEN
    own = None if (owner or admin) else session["id"]
    now = datetime.now(UTC)
    documents, versions = list(CURRENT_FORM_VERSIONS), list(CURRENT_FORM_VERSIONS.values())
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        rows = await _page(conn, group_id, limit, request.query_params.get("q"), own)
        rows, next_cursor = _next_cursor(rows, limit)
        client_ids = [r["id"] for r in rows]
        user_ids = list({r["user_id"] for r in rows})
        rosters: dict[object, list[dict[str, object]]] = {cid: [] for cid in client_ids}
        facts: dict[object, asyncpg.Record] = {}
        insurance: dict[object, asyncpg.Record] = {}
        if rows:
            for e in await conn.fetch(_ROSTERS, client_ids):
                rosters[e["client_id"]].append(
                    {"provider_user_id": e["provider_user_id"], "added_at": e["added_at"], "archived_at": e["archived_at"]})
            insurance = {p["user_id"]: p for p in await conn.fetch(_INSURANCE, user_ids)}
            facts = {f["id"]: f for f in await conn.fetch(_FACTS, user_ids, now.year, now.month, documents, versions)}
        client = request.client
        if request.query_params.get("audit") != "0":  # ?audit=0: what the audit row costs (diagnostic)
            await conn.execute(_AUDIT, session["id"], client.host if client else None, uuid.uuid4().hex, group_id,
                               orjson.dumps({"client_ids": [str(c) for c in client_ids]}).decode())
    items = []
    for r in rows:
        f = facts.get(r["user_id"])
        verified, has_insurance, has_billing, docs = (
            (f["verified"], f["insurance"], f["billing"], f["docs"] or []) if f else (False, False, False, []))
        policy = insurance.get(r["user_id"])
        items.append({
            **_client_fields(r),
            "account_verified": verified,
            "rosters": rosters[r["id"]],
            "insurance": ({"status": policy["status"], "company": policy["company"],
                           "member_id": f"••••{policy['member_id_last4']}"} if policy is not None
                          else {"status": "none", "company": None, "member_id": None}),
            "readiness": _checklist(r["billing_type"], verified, has_insurance, has_billing, docs),
        })
    return json_response({"items": items, "next_cursor": next_cursor})


async def clients_lean(request: Request) -> Response:
    """clients-full's answer from one SELECT (page + everything shown) and the audit INSERT, in one transaction."""
    limit = page_limit(request)
    if limit is None:
        return _BAD_REQUEST
    group_id = request.path_params["group_id"]
    session = await authenticate(request)
    if session is None:
        return _UNAUTHENTICATED
    role = role_in(session, group_id)
    if role is None:
        return _NOT_FOUND
    owner, admin, provider = role
    if not (owner or admin or provider):
        return _FORBIDDEN
    own = None if (owner or admin) else session["id"]
    now = datetime.now(UTC)
    tokens = like_tokens(request.query_params.get("q"))
    args: list[object] = [group_id, limit + 1]
    if own is not None:
        args.append(own)
    args += [*tokens, now.year, now.month, list(CURRENT_FORM_VERSIONS), list(CURRENT_FORM_VERSIONS.values())]
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_LEAN_SQL[(own is not None, len(tokens))], *args)
        rows, next_cursor = _next_cursor(rows, limit)
        client = request.client
        await conn.execute(_AUDIT, session["id"], client.host if client else None, uuid.uuid4().hex, group_id,
                           orjson.dumps({"client_ids": [str(r["id"]) for r in rows]}).decode())
    items = []
    for r in rows:
        policy = orjson.loads(r["insurance"]) if r["insurance"] else None
        items.append({
            **_client_fields(r),
            "account_verified": r["verified"],
            "rosters": [{"provider_user_id": p, "added_at": a, "archived_at": z}
                        for p, a, z in (orjson.loads(r["rosters"]) if r["rosters"] else [])],
            "insurance": ({"status": policy[0], "company": policy[1], "member_id": f"••••{policy[2]}"}
                          if policy is not None else {"status": "none", "company": None, "member_id": None}),
            "readiness": _checklist(r["billing_type"], r["verified"], policy is not None and policy[0] != "failed",
                                    r["billing"], r["docs"] or []),
        })
    return json_response({"items": items, "next_cursor": next_cursor})


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    pass


@asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    # No reset query when a connection goes back to the pool (asyncpg's default is a round trip per release):
    # the API's pools make none either (its auth pool: reset=_nothing_to_reset; SQLAlchemy's: a rollback that is a
    # no-op after the commit), so the floor must not pay one.
    app.state.pool = await asyncpg.create_pool(DATABASE_URL, min_size=1, max_size=POOL_SIZE, reset=_nothing_to_reset)
    app.state.auth_pool = await asyncpg.create_pool(DATABASE_URL, min_size=1, max_size=POOL_SIZE,
                                                    reset=_nothing_to_reset)
    try:
        yield
    finally:
        await app.state.auth_pool.close()
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/groups/{group_id:uuid}/members", members),
        Route("/groups/{group_id:uuid}/members-authed", members_authed),
        Route("/groups/{group_id:uuid}/clients", clients),
        Route("/groups/{group_id:uuid}/clients-full", clients_full),
        Route("/groups/{group_id:uuid}/clients-lean", clients_lean),
    ],
    lifespan=lifespan,
)
