"""A person's login sessions (A7): listed with where they came from, ended one by one or all at once.

"Logins" everywhere: a "session" in this API is a therapy session.
"""

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.events import security_event
from app.config import Settings
from app.core import audit, clock
from app.core.auth import Actor
from app.core.errors import not_found
from app.models import AuthSession

MAX_LISTED = 100


def _active(settings: Settings) -> list[Any]:
    return [
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > func.now(),
        AuthSession.last_seen_at > func.now() - func.make_interval(0, 0, 0, 0, 0, settings.session_idle_minutes),
    ]


async def list_logins(db: AsyncSession, settings: Settings, actor: Actor) -> list[dict[str, Any]]:
    rows = await db.execute(
        select(AuthSession.id, AuthSession.created_at, AuthSession.last_seen_at, AuthSession.expires_at, AuthSession.ip, AuthSession.user_agent)
        .where(AuthSession.user_id == actor.id, *_active(settings))
        .order_by(AuthSession.last_seen_at.desc(), AuthSession.id)
        .limit(MAX_LISTED)
    )
    return [
        {
            "id": row.id,
            "created_at": row.created_at,
            "last_seen_at": row.last_seen_at,
            "expires_at": row.expires_at,
            "ip": str(row.ip) if row.ip is not None else None,
            "user_agent": row.user_agent,
            "current": row.id == actor.session_id,
        }
        for row in rows
    ]


async def end_login(db: AsyncSession, actor: Actor, login_id: uuid.UUID) -> None:
    # Another person's login is simply not found: the filter is in SQL.
    ended = await db.scalar(
        update(AuthSession)
        .where(AuthSession.id == login_id, AuthSession.user_id == actor.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
        .returning(AuthSession.id)
    )
    if ended is None:
        raise not_found("login")
    await audit.record(db, actor, "auth.login_ended", target_type="session", target_id=login_id)
    security_event("security.login_ended", user_id=actor.id, login_id=login_id)


async def logout_everywhere(db: AsyncSession, actor: Actor) -> int:
    ended = await db.execute(
        update(AuthSession)
        .where(AuthSession.user_id == actor.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
        .returning(AuthSession.id)
    )
    count = len(ended.all())
    await audit.record(db, actor, "auth.logout_everywhere", target_type="user", target_id=actor.id, logins_ended=count)
    security_event("security.logout_everywhere", user_id=actor.id, logins_ended=count)
    return count
