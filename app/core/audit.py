"""R2: the audit log. Written in the same transaction as the change it records, so neither exists alone.

Record ids and field names only: a reader of the audit log learns who touched which record, not its content.
"""

import uuid
from typing import Any

import orjson
import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.core.auth import Actor
from app.core.db import get_reader
from app.core.middleware import current_request
from app.models import AuditEvent

log = structlog.get_logger("caseload.audit")


async def record(
    db: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    target_type: str,
    target_id: uuid.UUID | str | None = None,
    group_id: uuid.UUID | None = None,
    outcome: str = "success",
    **details: Any,
) -> None:
    request = current_request.get()
    await db.execute(
        insert(AuditEvent).values(
            actor_user_id=actor.user_id if actor else None,
            actor_api_key_id=actor.id if actor and actor.kind == "api_key" else None,
            actor_ip=request.ip if request else None,
            request_id=request.request_id if request else None,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            group_id=group_id,
            outcome=outcome,
            details=details,
        )
    )


# R3: a refused attempt on a group's objects (403, or 404 to an authenticated caller) is recorded after the
# request's own transaction rolled back, in a statement of its own (autocommit on the reader pool), and only for
# a group that exists: a caller probing random ids adds nothing. Ids from the path only: still no PHI.
_REFUSAL = """INSERT INTO audit_events (actor_user_id, actor_api_key_id, actor_ip, request_id, action, target_type, target_id,
                          group_id, outcome, details)
SELECT $1::uuid, $2::uuid, $3::inet, $4, 'access.refused', $5, $6, g.id, 'refused', $7::text::jsonb
  FROM groups g WHERE g.id = $8::uuid"""


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def record_refusal(request: Request, status: int, code: str) -> None:
    actor: Actor | None = getattr(request.state, "actor", None)
    group_id = _uuid(request.path_params.get("group_id"))
    if actor is None or group_id is None:
        return
    # The object asked for: the path's last id after the group's (e.g. a client, a session), else the group.
    target_type, target_id = "group", str(group_id)
    for name, value in request.path_params.items():
        if name != "group_id" and name.endswith("_id") and _uuid(value) is not None:
            target_type, target_id = name.removesuffix("_id"), str(value)
    route = request.scope.get("route")
    details: dict[str, Any] = {"method": request.method, "route": getattr(route, "path", None), "status": status, "code": code}
    client_id = _uuid(request.path_params.get("client_id"))
    if client_id is not None:
        details["client_id"] = str(client_id)
    info = current_request.get()
    try:
        await _refusal_writer(request).execute(
            _REFUSAL, actor.user_id, actor.id if actor.kind == "api_key" else None, info.ip if info else None,
            info.request_id if info else None, target_type, target_id, orjson.dumps(details).decode(), group_id,
        )
    except Exception:  # the refusal is answered whatever happens to its record; the failure is logged
        log.warning("refusal_not_recorded", exc_info=True)


def _refusal_writer(request: Request) -> Any:
    # The reader: an asyncpg pool in the service (each statement its own transaction); the tests substitute
    # their connection for it, as for every read that goes through it.
    override = request.app.dependency_overrides.get(get_reader)
    if override is not None:
        return override()
    return request.app.state.db.auth_pool
