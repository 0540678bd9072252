"""The client's own sessions (C11): read across practices, cancelled by the client until the window opens.

A person's sessions are those of their client records in every practice whose invitation they accepted (C8):
a practice they have not accepted shows nothing here, and sends them no session mail.
What a client sees is when, with whom, where and the state: never service or diagnosis codes.
"""

import uuid
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, clock
from app.core.auth import Actor
from app.core.errors import conflict, not_found
from app.core.pagination import PageParams, paginate
from app.models import CancellationPolicy, Client, Group, TherapySession, User
from app.sessions import rules
from app.sessions import service as sessions
from app.sessions.schemas import CancelRequest

_COLUMNS = (
    TherapySession.id, TherapySession.group_id, Group.name.label("practice_name"),
    TherapySession.provider_user_id, User.first_name.label("provider_first_name"),
    User.last_name.label("provider_last_name"), TherapySession.kind, TherapySession.starts_at, TherapySession.ends_at,
    TherapySession.duration_minutes, TherapySession.telehealth, TherapySession.location_id, TherapySession.status,
    TherapySession.series_id, TherapySession.cancelled_at, TherapySession.cancelled_by,
    TherapySession.late_cancellation_fee_cents, CancellationPolicy.window_hours, CancellationPolicy.fee_cents,
)


def _shown(row: Any) -> dict[str, Any]:
    cancellable_until = None
    if row.status == "scheduled":
        window = timedelta(hours=row.window_hours) if row.window_hours is not None else timedelta(0)
        cancellable_until = row.starts_at - window
    return {
        "id": row.id, "group_id": row.group_id, "practice_name": row.practice_name,
        "provider_user_id": row.provider_user_id,
        "provider_name": f"{row.provider_first_name} {row.provider_last_name}",
        "kind": row.kind, "starts_at": row.starts_at, "ends_at": row.ends_at, "duration_minutes": row.duration_minutes,
        "telehealth": row.telehealth, "location_id": row.location_id, "status": row.status, "series_id": row.series_id,
        "cancellable_until": cancellable_until,
        "cancellation": None if row.cancelled_at is None else {
            "cancelled_at": row.cancelled_at, "by": row.cancelled_by, "late_cancellation_fee_cents": row.late_cancellation_fee_cents,
            "currency": sessions.FEE_CURRENCY,
        },
    }


def _mine(actor: Actor) -> Any:
    return (
        select(*_COLUMNS)
        .join(Group, Group.id == TherapySession.group_id)
        .join(User, User.id == TherapySession.provider_user_id)
        .outerjoin(CancellationPolicy, CancellationPolicy.id == TherapySession.cancellation_policy_id)
        .where(TherapySession.client_id.in_(_my_records(actor)))
    )


def _my_records(actor: Actor) -> Any:
    return select(Client.id).where(Client.user_id == actor.user_id, Client.consented_at.is_not(None))


async def my_sessions(db: AsyncSession, actor: Actor, page: PageParams, when: Literal["upcoming", "past"]
                      ) -> tuple[list[dict[str, Any]], str | None]:
    """Upcoming (not yet ended, soonest first) or past (latest first), in every practice that booked them."""
    now = clock.now()
    stmt = _mine(actor).where(TherapySession.ends_at > now if when == "upcoming" else TherapySession.ends_at <= now)
    rows, next_cursor = await paginate(db, stmt, page, keys=(TherapySession.starts_at, TherapySession.id),
                                       descending=when == "past", rows=True)
    await audit.record(db, actor, "session.own_list_read", target_type="user", target_id=actor.user_id,
                       session_ids=[str(r.id) for r in rows])
    return [_shown(r) for r in rows], next_cursor


async def cancel_my_session(db: AsyncSession, actor: Actor, session_id: uuid.UUID, reason: str | None) -> dict[str, Any]:
    """C11, S4: the client cancels before the cancellation window opens; inside it they are sent to the provider."""
    session = await db.scalar(
        select(TherapySession).where(TherapySession.id == session_id, TherapySession.client_id.in_(_my_records(actor)))
        .with_for_update()
    )
    if session is None:
        raise not_found("session")
    sessions._must_be_scheduled(session)
    now = clock.now()
    if now >= session.starts_at:
        raise conflict("session_started", "The session has started; it can no longer be cancelled.")
    if session.cancellation_policy_id is not None:
        policy = await db.get(CancellationPolicy, session.cancellation_policy_id)
        assert policy is not None
        if rules.is_late_cancellation(now, session.starts_at, policy.window_hours):
            raise conflict(
                "inside_cancellation_window",
                f"This session starts in less than {policy.window_hours} hours, inside the practice's cancellation window: "
                "contact your provider to cancel it. A late cancellation carries the policy's fee.",
                window_hours=policy.window_hours, fee_cents=policy.fee_cents, currency="USD",
                cancellable_until=(session.starts_at - timedelta(hours=policy.window_hours)).isoformat(),
            )
    await sessions.cancel_one(db, actor, session, CancelRequest(by="client", reason=reason), now)
    row = (await db.execute(_mine(actor).where(TherapySession.id == session.id))).one()
    return _shown(row)



async def set_reminders(db: AsyncSession, actor: Actor, enabled: bool) -> bool:
    """S12: the person's own choice, for every practice."""
    await db.execute(update(User).where(User.id == actor.user_id).values(session_reminders=enabled))
    await audit.record(db, actor, "user.session_reminders_set", target_type="user", target_id=actor.user_id, enabled=enabled)
    return enabled
