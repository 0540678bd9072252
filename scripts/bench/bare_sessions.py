"""The floor for calendar reads (bench_sessions.py): bare Starlette + one asyncpg pool + orjson.

  GET /groups/{id}/sessions?from=&to=&limit=N[&provider_id=]   the same rows as GET /v1/groups/{id}/sessions
  (starts_at in [from, to), by (starts_at, id)), answered with the API's SessionOut fields. No authentication.
"""

import base64
import os
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DATABASE_URL = os.environ["BARE_DATABASE_URL"]
_COLUMNS = """id, group_id, provider_user_id, client_id, kind, starts_at, ends_at, duration_minutes, telehealth, location_id,
status, created_at, confirmed_at, service_date, service_code, diagnosis_code, pay_date, period_date, cancelled_at,
cancelled_by, cancellation_reason, late_cancellation_fee_cents, no_show_at, series_id,
(SELECT c.first_name || ' ' || c.last_name FROM clients c WHERE c.id = sessions.client_id) AS client_name"""
_GROUP = f"SELECT {_COLUMNS} FROM sessions WHERE group_id = $1 AND starts_at >= $2 AND starts_at < $3 ORDER BY starts_at, id LIMIT $4"
_PROVIDER = (f"SELECT {_COLUMNS} FROM sessions WHERE group_id = $1 AND starts_at >= $2 AND starts_at < $3 "
             "AND provider_user_id = $5 ORDER BY starts_at, id LIMIT $4")


def _document(r: asyncpg.Record) -> dict[str, object]:
    confirmation = None
    if r["confirmed_at"] is not None:
        confirmation = {"confirmed_at": r["confirmed_at"], "service_date": r["service_date"], "service_code": r["service_code"],
                        "diagnosis_code": r["diagnosis_code"], "pay_date": r["pay_date"], "arrives_earliest": r["pay_date"],
                        "arrives_latest": r["pay_date"], "editable_until": r["confirmed_at"] + timedelta(hours=48)}
    cancellation = None
    if r["cancelled_at"] is not None:
        cancellation = {"cancelled_at": r["cancelled_at"], "by": r["cancelled_by"], "reason": r["cancellation_reason"],
                        "late_cancellation_fee_cents": r["late_cancellation_fee_cents"]}
    return {"id": r["id"], "group_id": r["group_id"], "provider_user_id": r["provider_user_id"], "client_id": r["client_id"],
            "kind": r["kind"], "starts_at": r["starts_at"], "ends_at": r["ends_at"], "duration_minutes": r["duration_minutes"],
            "telehealth": r["telehealth"], "location_id": r["location_id"], "status": r["status"], "created_at": r["created_at"],
            "confirmation": confirmation, "cancellation": cancellation, "no_show_at": r["no_show_at"],
            "series_id": r["series_id"], "client_name": r["client_name"]}


async def sessions(request: Request) -> Response:
    q = request.query_params
    limit = int(q.get("limit", 50))
    args: list[object] = [request.path_params["group_id"], datetime.fromisoformat(q["from"]), datetime.fromisoformat(q["to"]), limit + 1]
    provider = q.get("provider_id")
    rows = await request.app.state.pool.fetch(_PROVIDER if provider else _GROUP, *args, *([provider] if provider else []))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = base64.urlsafe_b64encode(orjson.dumps([rows[-1]["starts_at"], rows[-1]["id"]], default=str)).decode()
    return Response(orjson.dumps({"items": [_document(r) for r in rows], "next_cursor": next_cursor}, default=str),
                    media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    pass


@asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    app.state.pool = await asyncpg.create_pool(DATABASE_URL, min_size=1, max_size=10, reset=_nothing_to_reset)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(routes=[Route("/healthz", healthz), Route("/groups/{group_id:uuid}/sessions", sessions)], lifespan=lifespan)
