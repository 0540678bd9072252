"""G6: removing a provider from a group, on an admin's request, once nothing of theirs is left open.

Blockers (each listed in the 409): a session that has started and is still `scheduled` (unconfirmed),
an earning line whose payout is still accruing (its pay period is open), and a payout holding their
lines that has left but is not yet paid. In short: every line of theirs whose payout is not paid. Removal then
ends the membership, cancels their future sessions as provider-cancelled (no fee, S4) and archives
their roster entries. Nothing is deleted: admins keep reading the history.
"""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import Problem, conflict, not_found
from app.core.schemas import Strict
from app.memberships.service import active_membership
from app.models import EarningLine, Payout, RosterEntry, TherapySession
from app.webhooks.events import emit

# The 409 lists each blocker, up to this many of each kind (with the full counts beside them).
BLOCKERS_SHOWN = 100
CANCELLATION_REASON = "The provider left the practice."


class RemovalIn(Strict):
    reason: str = Field(min_length=1, max_length=500, description="Why the provider is removed (kept with the membership).")


class RemovalOut(BaseModel):
    group_id: uuid.UUID
    user_id: uuid.UUID
    ended_at: datetime
    ended_reason: str
    cancelled_session_ids: list[uuid.UUID] = Field(description="Future sessions cancelled by the provider's side, without fee.")
    archived_roster_entries: int


class Blocker(BaseModel):
    kind: Literal["unconfirmed_session", "unpaid_earning", "unpaid_payout"]
    id: uuid.UUID
    detail: str
    on: date | None = Field(default=None, description="When: the session start, the pay date.")


async def blockers(db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID) -> tuple[list[Blocker], dict[str, int]]:
    """What keeps the provider in the group, and how many of each kind."""
    now = func.now()
    unconfirmed = (
        TherapySession.group_id == group_id,
        TherapySession.provider_user_id == user_id,
        TherapySession.status == "scheduled",
        TherapySession.starts_at <= now,
    )
    accruing = select(Payout.id).where(Payout.group_id == group_id, Payout.status == "accruing")
    unpaid_lines = (
        EarningLine.group_id == group_id, EarningLine.provider_user_id == user_id, EarningLine.payout_id.in_(accruing),
    )
    open_payouts = (
        Payout.group_id == group_id,
        Payout.status.not_in(("paid", "accruing")),
        Payout.id.in_(select(EarningLine.payout_id).where(EarningLine.group_id == group_id, EarningLine.provider_user_id == user_id)),
    )
    counts = {
        "unconfirmed_session": await db.scalar(select(func.count()).where(*unconfirmed)) or 0,
        "unpaid_earning": await db.scalar(select(func.count()).where(*unpaid_lines)) or 0,
        "unpaid_payout": await db.scalar(select(func.count()).where(*open_payouts)) or 0,
    }
    found: list[Blocker] = []
    if counts["unconfirmed_session"]:
        rows = await db.execute(
            select(TherapySession.id, TherapySession.starts_at).where(*unconfirmed).order_by(TherapySession.starts_at).limit(BLOCKERS_SHOWN)
        )
        found += [
            Blocker(kind="unconfirmed_session", id=r.id, on=r.starts_at.date(), detail="Started and not yet confirmed: confirm it, cancel it or mark it a no-show.")
            for r in rows
        ]
    if counts["unpaid_earning"]:
        rows = await db.execute(
            select(EarningLine.id, EarningLine.pay_date).where(*unpaid_lines).order_by(EarningLine.pay_date, EarningLine.id).limit(BLOCKERS_SHOWN)
        )
        found += [
            Blocker(kind="unpaid_earning", id=r.id, on=r.pay_date, detail="Earned; its payout is still accruing and is paid on its pay date.")
            for r in rows
        ]
    if counts["unpaid_payout"]:
        rows = await db.execute(
            select(Payout.id, Payout.pay_date, Payout.status).where(*open_payouts).order_by(Payout.pay_date, Payout.id).limit(BLOCKERS_SHOWN)
        )
        found += [Blocker(kind="unpaid_payout", id=r.id, on=r.pay_date, detail=f"A payout holding their sessions is {r.status}, not yet paid.") for r in rows]
    return found, counts


async def remove_provider(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, *, reason: str) -> RemovalOut:
    require(actor, Capability.PROVIDERS_REMOVE, group_id)
    if user_id == actor.user_id:
        raise Problem(403, "self_removal", "A provider is removed by another admin of the group, never by themself. Ask another admin or the owner.")
    membership = await active_membership(db, group_id, user_id)  # locked: one removal at a time
    if membership is None or not membership.is_provider:
        raise not_found("provider")
    if membership.is_owner:
        raise conflict("owner_cannot_be_removed", "The owner cannot be removed: transfer ownership first (POST .../ownership-transfer).")
    found, counts = await blockers(db, group_id, user_id)
    if found:
        raise conflict(
            "removal_blocked",
            "The provider still has open work: confirm or cancel their started sessions and wait until their earnings are paid.",
            blockers=[b.model_dump(mode="json") for b in found],
            counts=counts,
        )
    cancelled = list(
        await db.scalars(
            update(TherapySession)
            .where(
                TherapySession.group_id == group_id,
                TherapySession.provider_user_id == user_id,
                TherapySession.status == "scheduled",
                TherapySession.starts_at > func.now(),
            )
            .values(
                status="cancelled", cancelled_at=func.now(), cancelled_by="provider", cancelled_by_user_id=actor.user_id,
                cancellation_reason=CANCELLATION_REASON, late_cancellation_fee_cents=None, updated_at=func.now(),
            )
            .returning(TherapySession.id)
        )
    )
    archived = await db.execute(
        update(RosterEntry)
        .where(RosterEntry.group_id == group_id, RosterEntry.provider_user_id == user_id, RosterEntry.archived_at.is_(None))
        .values(archived_at=func.clock_timestamp(), archived_by_user_id=actor.user_id)  # C10: as archive_client
    )
    ended = await db.execute(
        update(type(membership))
        .where(type(membership).id == membership.id)
        .values(ended_at=func.now(), ended_reason=reason)
        .returning(type(membership).ended_at)
    )
    ended_at = ended.scalar_one()
    await audit.record(
        db, actor, "member.removed", target_type="user", target_id=user_id, group_id=group_id,
        cancelled_session_ids=[str(s) for s in cancelled], archived_roster_entries=archived.rowcount,
    )
    await emit(db, group_id, "member.removed", user_id, ["ended_at"])
    return RemovalOut(
        group_id=group_id, user_id=user_id, ended_at=ended_at, ended_reason=reason,
        cancelled_session_ids=cancelled, archived_roster_entries=archived.rowcount or 0,
    )
